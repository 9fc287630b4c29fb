"""What a provider folder declares about itself, in one value: the gateway's tables of provider types,
environment presets, model families, model facts and telemetry names are all built from these
declarations (providers/__init__.py lists them), so adding a provider touches nothing outside its folder
but that list."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from babelgate.config.load import EnvPreset
from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.http import UpstreamClient
from babelgate.model_facts import ModelFacts
from babelgate.providers.base import Provider

ProviderFactory = Callable[[str, ProviderConfig, ServerConfig, UpstreamClient], Provider]


@dataclass(frozen=True, slots=True)
class ProviderType:
    """One provider type, as its folder's `declaration.py` declares it."""

    name: str  # the config's `type:` value, and the provider's own `type`
    factory: ProviderFactory  # (name, provider config, server config, shared HTTP client) -> the provider
    # The OpenTelemetry GenAI conventions' `gen_ai.provider.name`, in metrics and traces.
    telemetry_name: str
    # Bare model names (glob patterns, `claude-*`) that route to the provider called `name` (the one its
    # environment preset turns on) when no configured model, alias or `provider/` prefix claims them.
    families: tuple[str, ...] = ()
    # The environment variables that turn on a provider of this type with no config file (OPENAI_API_KEY…);
    # a folder may declare several (OpenAI's also declares the always-on local Ollama).
    env: tuple[EnvPreset, ...] = ()
    # List prices, context windows and capabilities by upstream model name (glob patterns): the defaults
    # under a config's `prices:` (model_facts.py). Without them its requests have no cost.
    facts: Mapping[str, ModelFacts] = field(default_factory=dict)
    # The provider config keys only this type reads (a cloud's region, project, tenant…): given to a provider
    # of another type they are refused when the config loads, not silently ignored.
    config_keys: frozenset[str] = frozenset()
