"""Canonical model listing entry, as `/v1/models` shows it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    owned_by: str
    created: int = 0
    # What the upstream's own listing says of the model, where it says it (Gemini, Mistral,
    # Anthropic): shown in `/v1/models` over the gateway's table (model_facts.py).
    display_name: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    capabilities: tuple[str, ...] = ()  # the upstream's names for what the model can do
