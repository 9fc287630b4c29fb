"""Canonical embeddings request and answer: what every frontend that embeds (OpenAI's
`/v1/embeddings`, Ollama's `/api/embed`) decodes into and every provider that embeds answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from babelgate.schema.chat import JSON, Usage


@dataclass(slots=True)
class EmbeddingRequest:
    model: str
    inputs: list[str] | list[list[int]]  # texts, or token arrays where the upstream accepts them
    dimensions: int | None = None
    user: str | None = None
    extra: JSON = field(default_factory=dict)


@dataclass(slots=True)
class EmbeddingResponse:
    model: str
    vectors: list[list[float]]  # one per input, in input order
    usage: Usage | None = None
