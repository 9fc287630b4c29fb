"""Cohere as a provider type: its class, rerank model family, environment preset, list prices and telemetry
name (providers/types.py)."""

from __future__ import annotations

from typing import Final

from babelgate.config.load import EnvPreset
from babelgate.model_facts import Price, rerank_model
from babelgate.providers.cohere import wire
from babelgate.providers.cohere.provider import CohereProvider
from babelgate.providers.types import ProviderType

# $2 per 1,000 searches (a query over up to 100 documents), as of the gateway's release.
_SEARCH: Final = Price(0.0, 0.0, per_search=2.0)

DECLARATION: Final = ProviderType(
    name=CohereProvider.type,
    factory=CohereProvider,
    telemetry_name="cohere",
    families=("rerank-v*", "rerank-english-*", "rerank-multilingual-*"),
    env=(EnvPreset("cohere", "cohere", "COHERE_BASE_URL", wire.DEFAULT_BASE_URL, "COHERE_API_KEY"),),
    facts={
        "rerank-v3.5": rerank_model(_SEARCH, 4_096),
        "rerank-english-v3.0": rerank_model(_SEARCH, 4_096),
        "rerank-multilingual-v3.0": rerank_model(_SEARCH, 4_096),
    },
)
