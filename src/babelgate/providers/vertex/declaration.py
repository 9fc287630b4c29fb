"""Google Vertex AI as a provider type: its class and telemetry name (providers/types.py).

It claims no model family (a bare `claude-…` or `gemini-…` stays with Anthropic's or Google's own API) and
no environment preset (it needs a project). Its models' prices are the facts Gemini's and Anthropic's
declarations already hold under the same names (`gemini-2.5-flash`, `claude-sonnet-4-5@20250929` matches
`claude-sonnet-4*`), at Vertex's global endpoint's list prices, which are theirs; partner models' are here.
"""

from __future__ import annotations

from typing import Final

from babelgate.model_facts import Price, rerank_model
from babelgate.providers.types import ProviderType
from babelgate.providers.vertex.provider import VertexProvider

DECLARATION: Final = ProviderType(
    name=VertexProvider.type,
    factory=VertexProvider,
    telemetry_name="gcp.vertex_ai",
    config_keys=frozenset(("project", "location", "credentials_file", "batch_bucket")),
    # The Ranking API's models: $1 per 1,000 queries (a query of up to 100 records), as of the gateway's release.
    facts={"semantic-ranker-*": rerank_model(Price(0.0, 0.0, per_search=1.0))},
)
