"""Vertex AI's URLs, and which of its three APIs a model goes through (VTX = Google Cloud's Vertex AI
REST reference; GEM = the google-genai SDK's Vertex code paths, `_api_client.py`; ANTV = the anthropic
SDK's `lib/vertex/_client.py`).

A model's `model:` id decides its road:
- `claude-*` (`claude-sonnet-4-5@20250929`): Anthropic's Messages API through
  `publishers/anthropic/models/{m}:rawPredict` / `:streamRawPredict`;
- any other id with a slash (`meta/llama-3.3-70b-instruct-maas`, `mistralai/…`, `deepseek-ai/…`,
  `qwen/…`): the OpenAI-compatible Chat Completions endpoint `endpoints/openapi`;
- everything else (`gemini-*`, `text-embedding-*`, `gemini-embedding-*`, `imagen-*`, …): Google's own
  models through `publishers/google/models/{m}:generateContent`, `:streamGenerateContent`, `:predict`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from fnmatch import fnmatchcase
from typing import Any, Final
from urllib.parse import quote


class Road(Enum):
    GOOGLE = "google"  # publishers/google: Gemini, embeddings, Imagen
    ANTHROPIC = "anthropic"  # publishers/anthropic: Claude, Messages bodies through rawPredict
    OPENAPI = "openapi"  # endpoints/openapi: partner and open models, OpenAI Chat Completions bodies


CLAUDE_PATTERNS: Final = ("claude-*",)
API_VERSION: Final = "v1"
# ANTV `ANTHROPIC_API_VERSION`: the body's `anthropic_version` on Vertex (there is no `model` in the body:
# the URL names it).
ANTHROPIC_VERSION: Final = "vertex-2023-10-16"
# The one OAuth2 scope Vertex AI's calls need (GEM and ANTV ask for it alone).
SCOPE: Final = "https://www.googleapis.com/auth/cloud-platform"
# Vertex's text embedding models take up to 250 instances per :predict (VTX text-embeddings API
# reference); gemini-embedding-001 one instance per request.
EMBEDDING_BATCH_LIMIT: Final = 250
# Rerank: the Discovery Engine's Ranking API (a Google Cloud API of its own host, `options.ranking_url` in tests),
# for the `semantic-ranker-*` models; it takes OAuth tokens only, never an express-mode key.
RANKING_ROOT: Final = "https://discoveryengine.googleapis.com"
RANKING_PATH: Final = "/v1/projects/{project}/locations/global/rankingConfigs/default_ranking_config:rank"
RANKER_PATTERNS: Final = ("semantic-ranker-*",)
ONE_INSTANCE_EMBEDDINGS: Final = ("gemini-embedding-*",)


def road(model: str) -> Road:
    if any(fnmatchcase(model, pattern) for pattern in CLAUDE_PATTERNS):
        return Road.ANTHROPIC
    if "/" in model:
        return Road.OPENAPI
    return Road.GOOGLE


def road_options(options: Mapping[str, Any], for_road: Road) -> dict[str, Any]:
    """The provider's options as one road's provider reads them: `options.models` holds the per-model rules
    of all three APIs, each road gets those whose pattern falls on it (a Gemini rule's fields are unknown
    to Anthropic's profiles, which refuse them)."""
    models = options.get("models")
    if not isinstance(models, Mapping):
        return dict(options)
    return {**options, "models": {pattern: rule for pattern, rule in models.items() if road(str(pattern)) is for_road}}


def host(location: str) -> str:
    """VTX service endpoints: regional hosts, and one host without a region for `global` (GEM, ANTV)."""
    if location == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


def location_root(base_url: str, project: str, location: str) -> str:
    """`{base}/v1/projects/{p}/locations/{l}`: the root of every project-scoped call."""
    return f"{base_url}/{API_VERSION}/projects/{quote(project, safe='')}/locations/{quote(location, safe='')}"


def publisher_models(root: str, publisher: str) -> str:
    """The prefix of a publisher model's methods: `{root}/publishers/{publisher}/models/`."""
    return f"{root}/publishers/{publisher}/models/"


def express_models(base_url: str) -> str:
    """Express mode (an API key, no project): GEM calls `publishers/google/models/{m}:…` on the global host,
    without `projects/…/locations/…`."""
    return f"{base_url}/{API_VERSION}/publishers/google/models/"


# GEM live.py on Vertex: the Live API's WebSocket on the service's host, at GEM's Vertex version (v1beta1).
LIVE_PATH: Final = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"


def live_models(project: str | None, location: str) -> str:
    """The prefix of a Live session's model: GEM names it `projects/{p}/locations/{l}/publishers/google/models/{m}`,
    and in express mode (no project) `publishers/google/models/{m}`."""
    if project is None:
        return "publishers/google/models/"
    return f"projects/{project}/locations/{location}/publishers/google/models/"


def model_method(models: str, model: str, method: str) -> str:
    # ANTV: "A server that drops `;` and the rest of its segment would drop the specifier"; `@` stays
    # as it is (Vertex's version separator).
    return f"{models}{quote(model, safe='-._@')}:{method}"
