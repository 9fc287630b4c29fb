"""Azure OpenAI and Microsoft Foundry as a provider type: its class and telemetry name (providers/types.py).

It claims no model family and no environment preset (it needs the resource's endpoint). A model's
`model:` is a deployment name, which is whatever the resource's owner chose: prices come from the model
facts of the name when it is a model's (`gpt-4o`, `claude-sonnet-4-5`: Azure's list prices for OpenAI's
models are OpenAI's), else from the config's `prices:`.
"""

from __future__ import annotations

from typing import Final

from babelgate.providers.azure.provider import AzureProvider
from babelgate.providers.types import ProviderType

DECLARATION: Final = ProviderType(
    name=AzureProvider.type,
    factory=AzureProvider,
    telemetry_name="azure.ai.openai",
    config_keys=frozenset(("api_version", "tenant_id", "client_id", "client_secret")),
)
