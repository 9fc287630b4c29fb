"""Vertex AI's pure pieces: which road a model id takes, its URLs, the rawPredict body, and embeddings
through :predict (golden)."""

from __future__ import annotations

import pytest

from babelgate.errors import InvalidRequest, UnsupportedCapability
from babelgate.providers.vertex import wire
from babelgate.providers.vertex.translate import (
    embedding_from_wire,
    embedding_to_wire,
    merged_embeddings,
    raw_predict_body,
)
from babelgate.providers.vertex.wire import Road
from babelgate.schema.embeddings import EmbeddingRequest


@pytest.mark.parametrize(
    ("model", "road"),
    [
        ("claude-sonnet-4-5@20250929", Road.ANTHROPIC),
        ("claude-3-5-haiku@20241022", Road.ANTHROPIC),
        ("meta/llama-3.3-70b-instruct-maas", Road.OPENAPI),
        ("deepseek-ai/deepseek-r1-0528-maas", Road.OPENAPI),
        ("gemini-2.5-flash", Road.GOOGLE),
        ("text-embedding-005", Road.GOOGLE),
        ("imagen-4.0-generate-001", Road.GOOGLE),
    ],
)
def test_a_model_id_decides_its_road(model: str, road: Road) -> None:
    assert wire.road(model) is road


def test_urls_by_location_and_express_mode() -> None:
    assert wire.host("us-east5") == "https://us-east5-aiplatform.googleapis.com"
    assert wire.host("global") == "https://aiplatform.googleapis.com"
    root = wire.location_root("https://aiplatform.googleapis.com", "my-project", "global")
    assert root == "https://aiplatform.googleapis.com/v1/projects/my-project/locations/global"
    claude = wire.model_method(wire.publisher_models(root, "anthropic"), "claude-sonnet-4-5@20250929", "rawPredict")
    assert claude == root + "/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    assert wire.express_models("https://aiplatform.googleapis.com") == (
        "https://aiplatform.googleapis.com/v1/publishers/google/models/"
    )


def test_a_messages_body_becomes_a_raw_predict_body() -> None:
    body = {"model": "claude-x", "max_tokens": 8, "messages": [], "stream": True}
    assert raw_predict_body(body) == {
        "max_tokens": 8,
        "messages": [],
        "stream": True,
        "anthropic_version": "vertex-2023-10-16",
    }
    assert raw_predict_body(body, keep_model=True)["model"] == "claude-x"
    assert "anthropic_version" not in body  # the caller's body is left as it was


def test_embeddings_to_predict_and_back() -> None:
    adjusted: list[str] = []
    request = EmbeddingRequest(model="e", inputs=["a", "b"], dimensions=8, user="u", extra={"task_type": "CLUSTERING"})
    assert embedding_to_wire(request, adjusted) == {
        "instances": [{"content": "a", "task_type": "CLUSTERING"}, {"content": "b", "task_type": "CLUSTERING"}],
        "parameters": {"outputDimensionality": 8},
    }
    assert adjusted == ["user=dropped"]
    answer = embedding_from_wire(
        {
            "predictions": [
                {"embeddings": {"values": [1, 2], "statistics": {"token_count": 3, "truncated": False}}},
                {"embeddings": {"values": [3, 4], "statistics": {"token_count": 4, "truncated": False}}},
            ]
        },
        "e",
    )
    assert answer.vectors == [[1.0, 2.0], [3.0, 4.0]]
    assert answer.usage is not None and answer.usage.prompt_tokens == 7
    merged = merged_embeddings([answer, answer], "e")
    assert len(merged.vectors) == 4 and merged.usage is not None and merged.usage.total_tokens == 14


def test_what_predict_cannot_take_is_refused() -> None:
    with pytest.raises(UnsupportedCapability):
        embedding_to_wire(EmbeddingRequest(model="e", inputs=[[1, 2]]), [])
    with pytest.raises(InvalidRequest):
        embedding_to_wire(EmbeddingRequest(model="e", inputs=["a"], extra={"task_type": "NOPE"}), [])


def test_vertex_errors_in_google_and_anthropic_formats() -> None:
    import orjson

    from babelgate.errors import UpstreamAuthFailed, UpstreamRateLimited, UpstreamRejected
    from babelgate.providers.vertex.errors import map_error
    from babelgate.routing.retry import Failure, classify

    def mapped(status: int, body: object) -> object:
        return map_error(status, orjson.dumps(body), None, provider="gcp", scrub=str)

    missing = mapped(
        404, {"error": {"code": 404, "message": "Publisher Model `x` was not found", "status": "NOT_FOUND"}}
    )
    assert isinstance(missing, UpstreamRejected) and missing.code == "model_not_found" and missing.status == 404
    expired = mapped(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials."}})
    assert isinstance(expired, UpstreamAuthFailed)
    quota = {
        "error": {
            "code": 429,
            "message": "Quota exceeded",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "9s"}],
        }
    }
    limited = mapped(429, quota)
    assert isinstance(limited, UpstreamRateLimited) and limited.retry_after == 9.0
    # Claude's own refusal through rawPredict, in Anthropic's format: a too-long prompt is the context-window failure.
    too_long = mapped(
        400,
        {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "prompt is too long: 250000 tokens > 200000 maximum"},
        },
    )
    assert classify(too_long) is Failure.CONTEXT_WINDOW  # type: ignore[arg-type]


def test_cloud_model_ids_are_priced_by_the_facts_of_their_model() -> None:
    """Vertex's Claude ids (`…@date`) and Gemini ids, and Azure deployments named after their model, take the
    declared facts of that model: no pattern of their own to clash with the direct providers'."""
    from babelgate.model_facts import facts_table
    from babelgate.providers import MODEL_FACTS

    table = facts_table(MODEL_FACTS)
    assert table.price("claude-sonnet-4-5@20250929") == table.price("claude-sonnet-4-5") is not None
    assert table.price("gemini-2.5-flash") is not None
    assert table.price("gpt-4o-mini-prod") == table.price("gpt-4o-mini") is not None
    assert table.price("meta/llama-3.3-70b-instruct-maas") is None  # Vertex's own price: the config's `prices:`


def test_each_road_gets_the_model_rules_of_its_api() -> None:
    """`options.models` of a vertex provider holds Gemini's and Claude's rules side by side; each road's
    provider is built with its own (Anthropic's profiles refuse a Gemini field)."""
    from babelgate.config import ProviderConfig, ServerConfig
    from babelgate.http import UpstreamClient
    from babelgate.providers import build_provider

    options = {
        "models": {
            "gemini-2.5-*": {"task_type": "CLUSTERING"},
            "claude-sonnet-*": {"max_tokens": 4096},
            "meta/*": {"anything": True},
        }
    }
    config = ProviderConfig(type="vertex", project="p", location="global", options=options)
    build_provider("gcp", config, ServerConfig(), UpstreamClient())  # no "unknown field(s)"
    assert wire.road_options(options, Road.ANTHROPIC)["models"] == {"claude-sonnet-*": {"max_tokens": 4096}}
    assert wire.road_options(options, Road.GOOGLE)["models"] == {"gemini-2.5-*": {"task_type": "CLUSTERING"}}
