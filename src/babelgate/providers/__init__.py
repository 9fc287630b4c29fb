"""The one list of provider types, and the tables built from it: the registry the core asks instead of
naming providers itself. A provider is its folder plus one entry in `DECLARATIONS`; its folder's
`declaration.py` says everything the rest of the gateway needs to know of it (providers/types.py).

The floors below this one (config, observability, model_facts.py) never import it: the
app hands them what they need (`load_config(available_types=PROVIDER_TYPES)`, `Metrics(TELEMETRY_NAMES)`),
and routing, above, reads `FAMILIES`, `ENV_PRESETS` and `MODEL_FACTS` here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from babelgate.config.load import EnvPreset, env_presets
from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.http import UpstreamClient
from babelgate.model_facts import ModelFacts
from babelgate.providers.anthropic.declaration import DECLARATION as ANTHROPIC
from babelgate.providers.azure.declaration import DECLARATION as AZURE
from babelgate.providers.base import Provider
from babelgate.providers.bedrock.declaration import DECLARATION as BEDROCK
from babelgate.providers.cohere.declaration import DECLARATION as COHERE
from babelgate.providers.gemini.declaration import DECLARATION as GEMINI
from babelgate.providers.mistral.declaration import DECLARATION as MISTRAL
from babelgate.providers.openai.declaration import DECLARATION as OPENAI
from babelgate.providers.types import ProviderFactory, ProviderType
from babelgate.providers.vertex.declaration import DECLARATION as VERTEX

__all__ = [
    "DECLARATIONS",
    "ENV_PRESETS",
    "FAMILIES",
    "MODEL_FACTS",
    "PROVIDER_TYPES",
    "TELEMETRY_NAMES",
    "ProviderFactory",
    "ProviderType",
    "build_provider",
]

# In the order the feature matrix (docs/providers.md) lists them.
DECLARATIONS: Final[tuple[ProviderType, ...]] = (OPENAI, ANTHROPIC, GEMINI, MISTRAL, BEDROCK, VERTEX, AZURE, COHERE)


def _by_name(declarations: tuple[ProviderType, ...]) -> Mapping[str, ProviderType]:
    table: dict[str, ProviderType] = {}
    for declaration in declarations:
        if declaration.name in table:
            raise ValueError(f"provider type {declaration.name!r} is declared twice")
        table[declaration.name] = declaration
    return MappingProxyType(table)


def _facts(declarations: tuple[ProviderType, ...]) -> Mapping[str, ModelFacts]:
    """Every type's model facts in one table: a pattern two types both claim would price one of them
    by the other's list, so it is refused."""
    table: dict[str, ModelFacts] = {}
    for declaration in declarations:
        for pattern, facts in declaration.facts.items():
            if pattern in table:
                raise ValueError(f"model facts for {pattern!r} are declared twice ({declaration.name})")
            table[pattern] = facts
    return MappingProxyType(table)


# Type name (the config's `type:`) -> its declaration.
PROVIDER_TYPES: Final = _by_name(DECLARATIONS)
# The environment variables that turn providers on, in the order their providers are listed.
ENV_PRESETS: Final[tuple[EnvPreset, ...]] = tuple(env_presets(PROVIDER_TYPES))
# Bare model-name patterns by family -> the provider of that name.
FAMILIES: Final[tuple[tuple[tuple[str, ...], str], ...]] = tuple(
    (d.families, d.name) for d in DECLARATIONS if d.families
)
# The default prices, context windows and capabilities, by upstream model-name pattern.
MODEL_FACTS: Final = _facts(DECLARATIONS)
# OpenTelemetry `gen_ai.provider.name` by provider type.
TELEMETRY_NAMES: Final[Mapping[str, str]] = MappingProxyType({d.name: d.telemetry_name for d in DECLARATIONS})


def build_provider(name: str, config: ProviderConfig, server: ServerConfig, client: UpstreamClient) -> Provider:
    return PROVIDER_TYPES[config.type].factory(name, config, server, client)
