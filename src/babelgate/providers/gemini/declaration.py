"""Google Gemini as a provider type: its class, model families, environment preset, list prices and
telemetry name (providers/types.py)."""

from __future__ import annotations

from typing import Final

from babelgate.config.load import EnvPreset
from babelgate.model_facts import MULTI, Price, chat_model, embedding_model
from babelgate.providers.gemini import wire
from babelgate.providers.gemini.provider import GeminiProvider
from babelgate.providers.types import ProviderType

DECLARATION: Final = ProviderType(
    name=GeminiProvider.type,
    factory=GeminiProvider,
    telemetry_name="gcp.gemini",
    families=("gemini-*", "imagen-*"),
    env=(EnvPreset("gemini", "gemini", "GEMINI_BASE_URL", wire.DEFAULT_BASE_URL, "GEMINI_API_KEY"),),
    # Published list prices, as of the gateway's release (prompts up to 200k tokens).
    facts={
        "gemini-3-pro*": chat_model(Price(2.0, 12.0, 0.20), 1_048_576, 65_536, MULTI, reasoning=True),
        "gemini-2.5-pro*": chat_model(Price(1.25, 10.0, 0.31), 1_048_576, 65_536, MULTI, reasoning=True),
        "gemini-2.5-flash*": chat_model(Price(0.30, 2.50, 0.075), 1_048_576, 65_536, MULTI, reasoning=True),
        "gemini-2.5-flash-lite*": chat_model(Price(0.10, 0.40, 0.025), 1_048_576, 65_536, MULTI, reasoning=True),
        "gemini-2.0-flash*": chat_model(Price(0.10, 0.40, 0.025), 1_048_576, 8_192, MULTI),
        "gemini-2.0-flash-lite*": chat_model(Price(0.075, 0.30), 1_048_576, 8_192, MULTI),
        "gemini-embedding-001": embedding_model(0.15, 2_048),
        "text-embedding-004": embedding_model(0.0, 2_048),
    },
)
