"""OpenAI as a provider type: its class, model families, environment presets (OpenAI, and the local
Ollama that needs no key), list prices and telemetry name (providers/types.py)."""

from __future__ import annotations

from typing import Final

from babelgate.config.load import EnvPreset
from babelgate.model_facts import (
    TEXT,
    TEXT_IMAGE,
    Price,
    chat_model,
    embedding_model,
    realtime_model,
    rerank_model,
)
from babelgate.providers.openai import wire
from babelgate.providers.openai.provider import OpenAIProvider
from babelgate.providers.types import ProviderType

DECLARATION: Final = ProviderType(
    name=OpenAIProvider.type,
    factory=OpenAIProvider,
    telemetry_name="openai",
    families=(
        "gpt-*",
        "o1*",
        "o3*",
        "o4*",
        "chatgpt-*",
        "text-embedding-*",
        "dall-e-*",
        "gpt-image-*",
        "whisper-*",
        "tts-*",
        "davinci-*",
        "babbage-*",
        "omni-moderation-*",
        "text-moderation-*",
    ),
    env=(
        EnvPreset("openai", "openai", "OPENAI_BASE_URL", wire.DEFAULT_BASE_URL, "OPENAI_API_KEY", profile="openai"),
        # Ollama needs no key, so it is always on; a short connect timeout keeps its absence cheap.
        EnvPreset(
            "ollama",
            "openai",
            "OLLAMA_BASE_URL",
            "http://127.0.0.1:11434",
            None,
            url_suffix="/v1",
            profile="ollama",
            connect_timeout=2.0,
        ),
        # Embeddings and rerank services that speak OpenAI's `/embeddings` and a `/rerank` of their own.
        EnvPreset("jina", "openai", "JINA_BASE_URL", "https://api.jina.ai/v1", "JINA_API_KEY", profile="jina"),
        EnvPreset(
            "voyage", "openai", "VOYAGE_BASE_URL", "https://api.voyageai.com/v1", "VOYAGE_API_KEY", profile="voyage"
        ),
    ),
    # Published list prices (standard tier), as of the gateway's release.
    facts={
        "gpt-5*": chat_model(Price(1.25, 10.0, 0.125), 400_000, 128_000, TEXT_IMAGE, reasoning=True),
        "gpt-5-mini*": chat_model(Price(0.25, 2.0, 0.025), 400_000, 128_000, TEXT_IMAGE, reasoning=True),
        "gpt-5-nano*": chat_model(Price(0.05, 0.40, 0.005), 400_000, 128_000, TEXT_IMAGE, reasoning=True),
        "gpt-4.1*": chat_model(Price(2.0, 8.0, 0.50), 1_047_576, 32_768),
        "gpt-4.1-mini*": chat_model(Price(0.40, 1.60, 0.10), 1_047_576, 32_768),
        "gpt-4.1-nano*": chat_model(Price(0.10, 0.40, 0.025), 1_047_576, 32_768),
        "gpt-4o*": chat_model(Price(2.50, 10.0, 1.25), 128_000, 16_384),
        "gpt-4o-mini*": chat_model(Price(0.15, 0.60, 0.075), 128_000, 16_384),
        # Realtime models: text in, cached, text out, then audio in and out.
        "gpt-realtime*": realtime_model(Price(4.0, 16.0, 0.40, audio_input=32.0, audio_output=64.0)),
        "gpt-realtime-mini*": realtime_model(Price(0.60, 2.40, 0.06, audio_input=10.0, audio_output=20.0)),
        "gpt-4o-realtime*": realtime_model(Price(5.0, 20.0, 2.50, audio_input=40.0, audio_output=80.0)),
        "gpt-4o-mini-realtime*": realtime_model(Price(0.60, 2.40, 0.30, audio_input=10.0, audio_output=20.0)),
        "o1*": chat_model(Price(15.0, 60.0, 7.50), 200_000, 100_000, reasoning=True),
        "o3*": chat_model(Price(2.0, 8.0, 0.50), 200_000, 100_000, reasoning=True),
        "o3-mini*": chat_model(Price(1.10, 4.40, 0.55), 200_000, 100_000, TEXT, reasoning=True),
        "o4-mini*": chat_model(Price(1.10, 4.40, 0.275), 200_000, 100_000, reasoning=True),
        "gpt-3.5-turbo*": chat_model(Price(0.50, 1.50), 16_385, 4_096, TEXT),
        "text-embedding-3-small": embedding_model(0.02, 8_191),
        "text-embedding-3-large": embedding_model(0.13, 8_191),
        "text-embedding-ada-002": embedding_model(0.10, 8_191),
        # Rerank models of the `jina` and `voyage` presets, priced by the token (query and documents together).
        "jina-reranker-*": rerank_model(Price(0.05, 0.0)),
        "rerank-2*": rerank_model(Price(0.05, 0.0), 16_000),
        "rerank-2-lite*": rerank_model(Price(0.02, 0.0), 8_000),
        "rerank-2.5-lite*": rerank_model(Price(0.02, 0.0), 32_000),
        "rerank-2.5": rerank_model(Price(0.05, 0.0), 32_000),
    },
)
