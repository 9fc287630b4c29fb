"""Golden tests of canonical embeddings ↔ Gemini `batchEmbedContents` (providers/gemini/translate.py).

Requests are built the way the gateway builds them (OpenAI JSON → the embeddings frontend's
`decode_request`); the expected bodies are exact (docs/decisions.md, "Embedding sizes"), and each
is also checked against the fake Gemini's validator, which models the request with the `google-genai`
SDK's own types. The task type comes from the model profile (`options.models`) or the request.
"""

from __future__ import annotations

from typing import Any

import pytest

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.errors import GatewayError, InvalidRequest, UnsupportedCapability
from babelgate.frontends.embeddings import decode_request
from babelgate.http import UpstreamClient
from babelgate.providers import build_provider
from babelgate.providers.gemini.profiles import DEFAULT_PROFILE, ModelProfile, build_profiles
from babelgate.providers.gemini.translate import embedding_from_wire, embedding_to_wire
from babelgate.providers.gemini.wire import EMBEDDING_BATCH_LIMIT, TASK_TYPES
from babelgate.schema.chat import Usage
from tests.fakes.gemini_upstream import MAX_EMBED_BATCH, embed_violations

JSON = dict[str, Any]
MODEL = "gemini-embedding-001"
NAME = f"models/{MODEL}"


def translate(body: JSON, profile: ModelProfile = DEFAULT_PROFILE, model: str = MODEL) -> tuple[JSON, list[str]]:
    request, _ = decode_request({"model": "public-name", **body})
    adjusted: list[str] = []
    wire = embedding_to_wire(request, model, profile, adjusted)
    assert embed_violations(wire, model) == []
    return wire, adjusted


def one(text: str, **options: Any) -> JSON:
    return {"model": NAME, "content": {"parts": [{"text": text}]}, **options}


# --- request ----------------------------------------------------------------------------------------


def test_one_request_per_input_each_naming_the_model() -> None:
    wire, adjusted = translate({"input": ["first text", "second text"]})
    assert wire == {"requests": [one("first text"), one("second text")]}
    assert adjusted == []


def test_a_single_string_is_one_request() -> None:
    assert translate({"input": "alone"})[0] == {"requests": [one("alone")]}


def test_dimensions_become_output_dimensionality_on_every_request() -> None:
    wire, _ = translate({"input": ["a", "b"], "dimensions": 256})
    assert wire == {"requests": [one("a", outputDimensionality=256), one("b", outputDimensionality=256)]}


def test_the_profile_task_type_goes_with_every_input_in_the_spec_order() -> None:
    profile = ModelProfile(task_type="RETRIEVAL_DOCUMENT")
    wire, _ = translate({"input": ["a", "b"], "dimensions": 768}, profile)
    assert wire == {
        "requests": [
            one("a", taskType="RETRIEVAL_DOCUMENT", outputDimensionality=768),
            one("b", taskType="RETRIEVAL_DOCUMENT", outputDimensionality=768),
        ]
    }
    # EmbedContentRequest's field order: model, content, taskType, title, outputDimensionality.
    assert list(wire["requests"][0]) == ["model", "content", "taskType", "outputDimensionality"]


def test_the_request_task_type_wins_over_the_profile() -> None:
    profile = ModelProfile(task_type="RETRIEVAL_DOCUMENT")
    wire, adjusted = translate({"input": ["query"], "task_type": "RETRIEVAL_QUERY"}, profile)
    assert wire == {"requests": [one("query", taskType="RETRIEVAL_QUERY")]}
    assert adjusted == []  # read, not dropped


def test_a_null_request_task_type_leaves_the_profile_one() -> None:
    profile = ModelProfile(task_type="CLUSTERING")
    assert translate({"input": ["x"], "task_type": None}, profile)[0] == {"requests": [one("x", taskType="CLUSTERING")]}


@pytest.mark.parametrize("task_type", ["retrieval_query", "SEARCH", 3, ["RETRIEVAL_QUERY"]])
def test_an_unknown_task_type_is_a_400_naming_it(task_type: Any) -> None:
    request, _ = decode_request({"model": "m", "input": "x", "task_type": task_type})
    with pytest.raises(InvalidRequest) as caught:
        embedding_to_wire(request, MODEL, DEFAULT_PROFILE, [])
    assert (caught.value.status, caught.value.param) == (400, "task_type")


@pytest.mark.parametrize("inputs", [[1, 2, 3], [[1, 2], [3]]])
def test_token_ids_are_a_400_naming_input(inputs: Any) -> None:
    request, _ = decode_request({"model": "m", "input": inputs})
    with pytest.raises(UnsupportedCapability) as caught:
        embedding_to_wire(request, MODEL, DEFAULT_PROFILE, [])
    error: GatewayError = caught.value
    assert (error.status, error.param, error.code) == (400, "input", "unsupported_capability")


def test_fields_gemini_has_no_place_for_are_dropped_and_listed() -> None:
    wire, adjusted = translate({"input": ["a"], "user": "user-42", "title": "A document", "foo": 1})
    assert wire == {"requests": [one("a")]}
    assert sorted(adjusted) == ["foo=dropped", "title=dropped", "user=dropped"]


def test_the_batch_limit_is_the_apis() -> None:
    assert EMBEDDING_BATCH_LIMIT == MAX_EMBED_BATCH == 100
    wire, _ = translate({"input": [f"text {i}" for i in range(EMBEDDING_BATCH_LIMIT)]})
    assert len(wire["requests"]) == 100


# --- profiles ---------------------------------------------------------------------------------------


def test_task_type_is_configured_per_model_pattern() -> None:
    profiles = build_profiles({"models": {"gemini-embedding-*": {"task_type": "RETRIEVAL_DOCUMENT"}}})
    assert profiles.for_model("gemini-embedding-001").task_type == "RETRIEVAL_DOCUMENT"
    assert profiles.for_model("text-embedding-004").task_type is None
    assert profiles.for_model("gemini-2.5-flash").task_type is None


def test_a_configured_task_type_is_checked_at_startup() -> None:
    with pytest.raises(ValueError, match=r"options\.models\.gemini-embedding-001\.task_type"):
        build_profiles({"models": {"gemini-embedding-001": {"task_type": "retrieval"}}})
    assert "CODE_RETRIEVAL_QUERY" in TASK_TYPES


def test_the_provider_declares_embeddings() -> None:
    config = ProviderConfig(type="gemini", api_keys=("k",), options={"models": {MODEL: {"task_type": "CLUSTERING"}}})
    provider = build_provider("gemini", config, ServerConfig(), UpstreamClient())
    assert provider.capabilities.embeddings is True
    assert provider.capabilities.embedding_batch_limit == 100
    assert provider._profiles.for_model(MODEL).task_type == "CLUSTERING"  # type: ignore[attr-defined]


# --- response ---------------------------------------------------------------------------------------


def test_vectors_in_request_order_without_usage() -> None:
    body = {"embeddings": [{"values": [0.25, -0.5, 1]}, {"values": [0, 0.125, -1.5]}]}
    answer = embedding_from_wire(body, MODEL)
    assert answer.model == MODEL
    assert answer.vectors == [[0.25, -0.5, 1.0], [0.0, 0.125, -1.5]]
    assert all(isinstance(x, float) for vector in answer.vectors for x in vector)
    assert answer.usage is None  # Gemini's batch answer counts no tokens: none are invented


def test_usage_metadata_is_used_when_present() -> None:
    body = {"embeddings": [{"values": [0.1]}], "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7}}
    assert embedding_from_wire(body, MODEL).usage == Usage(prompt_tokens=7, total_tokens=7)
    only_prompt = {"embeddings": [{"values": [0.1]}], "usageMetadata": {"promptTokenCount": 4}}
    assert embedding_from_wire(only_prompt, MODEL).usage == Usage(prompt_tokens=4, total_tokens=4)


@pytest.mark.parametrize("body", [{}, {"embeddings": [{}]}, {"embeddings": [{"values": ["x"]}]}, {"embeddings": None}])
def test_a_malformed_answer_raises_for_the_provider_to_report(body: JSON) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        embedding_from_wire(body, MODEL)
