"""Mistral as a provider type: its class, model families, environment preset, list prices and
telemetry name (providers/types.py)."""

from __future__ import annotations

from typing import Final

from babelgate.config.load import EnvPreset
from babelgate.model_facts import TEXT, TEXT_IMAGE, Price, chat_model, embedding_model
from babelgate.providers.mistral import wire
from babelgate.providers.mistral.provider import MistralProvider
from babelgate.providers.types import ProviderType

DECLARATION: Final = ProviderType(
    name=MistralProvider.type,
    factory=MistralProvider,
    telemetry_name="mistral_ai",
    families=("mistral-*", "ministral-*", "codestral-*", "pixtral-*", "magistral-*", "devstral-*"),
    env=(EnvPreset("mistral", "mistral", "MISTRAL_BASE_URL", wire.DEFAULT_BASE_URL, "MISTRAL_API_KEY"),),
    # Published list prices, as of the gateway's release.
    facts={
        "mistral-large*": chat_model(Price(0.50, 1.50), 262_144, 262_144, TEXT_IMAGE),
        "mistral-medium*": chat_model(Price(0.40, 2.0), 131_072, 131_072, TEXT_IMAGE),
        "mistral-small*": chat_model(Price(0.10, 0.30), 131_072, 131_072, TEXT_IMAGE),
        "magistral-medium*": chat_model(Price(2.0, 5.0), 40_960, 40_960, TEXT, reasoning=True),
        "magistral-small*": chat_model(Price(0.50, 1.50), 40_960, 40_960, TEXT, reasoning=True),
        "codestral*": chat_model(Price(0.30, 0.90), 256_000, 256_000, TEXT),
        "devstral*": chat_model(Price(0.40, 2.0), 131_072, 131_072, TEXT),
        "ministral-8b*": chat_model(Price(0.10, 0.10), 131_072, 131_072, TEXT),
        "ministral-3b*": chat_model(Price(0.04, 0.04), 131_072, 131_072, TEXT),
        "pixtral-large*": chat_model(Price(2.0, 6.0), 131_072, 131_072, TEXT_IMAGE),
        "open-mistral-nemo*": chat_model(Price(0.15, 0.15), 131_072, 131_072, TEXT),
        "mistral-embed": embedding_model(0.10, 8_192),
        "codestral-embed*": embedding_model(0.15, 8_192),
    },
)
