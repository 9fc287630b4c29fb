"""Anthropic as a provider type: its class, model family, environment preset, list prices and
telemetry name (providers/types.py)."""

from __future__ import annotations

from typing import Final

from babelgate.config.load import EnvPreset
from babelgate.model_facts import PDF, Price, chat_model
from babelgate.providers.anthropic import wire
from babelgate.providers.anthropic.provider import AnthropicProvider
from babelgate.providers.types import ProviderType

DECLARATION: Final = ProviderType(
    name=AnthropicProvider.type,
    factory=AnthropicProvider,
    telemetry_name="anthropic",
    families=("claude-*",),
    env=(EnvPreset("anthropic", "anthropic", "ANTHROPIC_BASE_URL", wire.DEFAULT_BASE_URL, "ANTHROPIC_API_KEY"),),
    # Published list prices, as of the gateway's release (cache writes: the 5-minute rate, 1.25 times input).
    facts={
        "claude-opus-4-6*": chat_model(Price(5.0, 25.0, 0.50, 6.25), 200_000, 64_000, PDF, reasoning=True),
        "claude-opus-4-5*": chat_model(Price(5.0, 25.0, 0.50, 6.25), 200_000, 64_000, PDF, reasoning=True),
        "claude-opus-4*": chat_model(Price(15.0, 75.0, 1.50, 18.75), 200_000, 32_000, PDF, reasoning=True),
        "claude-sonnet-4*": chat_model(Price(3.0, 15.0, 0.30, 3.75), 200_000, 64_000, PDF, reasoning=True),
        "claude-3-7-sonnet*": chat_model(Price(3.0, 15.0, 0.30, 3.75), 200_000, 64_000, PDF, reasoning=True),
        "claude-haiku-4-5*": chat_model(Price(1.0, 5.0, 0.10, 1.25), 200_000, 64_000, PDF, reasoning=True),
        "claude-3-5-haiku*": chat_model(Price(0.80, 4.0, 0.08, 1.0), 200_000, 8_192, PDF),
    },
)
