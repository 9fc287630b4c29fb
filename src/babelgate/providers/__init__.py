"""Provider types by name: the registry the core asks instead of naming providers itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.http import UpstreamClient
from babelgate.providers.anthropic.provider import AnthropicProvider
from babelgate.providers.base import Provider
from babelgate.providers.gemini.provider import GeminiProvider
from babelgate.providers.mistral.provider import MistralProvider
from babelgate.providers.openai.provider import OpenAIProvider

ProviderFactory = Callable[[str, ProviderConfig, ServerConfig, UpstreamClient], Provider]

PROVIDER_TYPES: Final[dict[str, ProviderFactory]] = {
    "openai": OpenAIProvider,
    "anthropic": AnthropicProvider,
    "gemini": GeminiProvider,
    "mistral": MistralProvider,
}


def build_provider(name: str, config: ProviderConfig, server: ServerConfig, client: UpstreamClient) -> Provider:
    return PROVIDER_TYPES[config.type](name, config, server, client)
