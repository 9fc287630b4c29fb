"""Azure OpenAI's and Foundry's URLs and Entra ID's scope (AZ = Azure OpenAI's REST reference, the v1 API
and the data-plane API with `api-version`; ANTF = the anthropic SDK's `lib/foundry.py`).

- The v1 API: `{resource}/openai/v1/chat/completions`, `/responses`, `/embeddings`, `/images/…`,
  `/audio/…`, `/models`, no `api-version`, the model (a deployment name) in the body: what the OpenAI
  provider speaks as it is, at another root. Foundry's serverless models (Mistral, Llama, DeepSeek, Grok…)
  answer there too.
- The deployment-style API, when `api_version` is set: `{resource}/openai/deployments/{deployment}/…
  ?api-version=…`, the model's `model:` being the deployment; the Responses API is not per deployment
  (`{resource}/openai/responses?api-version=…`, the deployment in the body).
- The Realtime API: `{resource}/openai/v1/realtime?model=…` (v1), or `{resource}/openai/realtime?api-version=…
  &deployment=…` (deployment-style), as a WebSocket with the `api-key` header.
- Claude in Foundry: Anthropic's Messages API at `{resource}/anthropic/v1/messages` (ANTF), for `claude-*`
  deployments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

V1_ROOT: Final = "/openai/v1"
DEPLOYMENT_ROOT: Final = "/openai"
ANTHROPIC_ROOT: Final = "/anthropic"
CLAUDE_PREFIXES: Final = ("claude-",)
# The Entra ID scope of Azure OpenAI and Foundry's Azure AI services (AZ "Microsoft Entra ID
# authentication"; the openai SDK's `azure_ad_token_provider` examples ask for it).
SCOPE: Final = "https://cognitiveservices.azure.com/.default"
# The OpenAI provider's endpoint paths that are not per deployment in the deployment-style API (Batch's files and
# batches are the resource's: the deployment is each line's `model`).
UNDEPLOYED: Final = ("/responses", "/files", "/batches")


def deployment_url(root: str, path: str, deployment: str, api_version: str) -> str:
    """`{root}/deployments/{deployment}{path}?api-version=…`, or `{root}{path}?api-version=…` for the
    endpoints that are not per deployment. `path` may already carry a query."""
    base = f"{root}{path}" if path.startswith(UNDEPLOYED) else f"{root}/deployments/{quote(deployment, safe='')}{path}"
    return f"{base}{'&' if '?' in path else '?'}api-version={quote(api_version, safe='')}"


def realtime_url(root: str, deployment: str, api_version: str) -> str:
    """The deployment-style API's Realtime socket: `wss://{resource}/openai/realtime?api-version=…&deployment=…`
    (the openai SDK's `AzureOpenAI._configure_realtime`)."""
    query = f"api-version={quote(api_version, safe='')}&deployment={quote(deployment, safe='')}"
    scheme_root = (
        "wss://" + root[len("https://") :] if root.startswith("https://") else root.replace("http://", "ws://", 1)
    )
    return f"{scheme_root}/realtime?{query}"


def is_claude(model: str) -> bool:
    return model.startswith(CLAUDE_PREFIXES)


def claude_options(options: Mapping[str, Any], claude: bool) -> dict[str, Any]:
    """The provider's options as one road reads them: `options.models` rules for `claude-*` patterns go to
    Anthropic's profiles, the others to the OpenAI provider's."""
    models = options.get("models")
    if not isinstance(models, Mapping):
        return dict(options)
    return {**options, "models": {p: rule for p, rule in models.items() if is_claude(str(p)) is claude}}
