"""Golden tests of canonical embeddings ↔ Mistral `/v1/embeddings` (providers/mistral/translate.py).

Requests are built the way the gateway builds them (OpenAI JSON → the embeddings frontend's
`decode_request`); the expected bodies are exact, and each is also checked against the fake Mistral's
validator (the `mistralai` SDK's `EmbeddingRequest`, strictly, and the public spec's). docs/decisions.md, "Embedding
sizes": `codestral-embed` takes `output_dimension`; `mistral-embed` is 1024 wide, so 1024 is accepted (and not
sent) and any other size is a 400 naming `dimensions`.
"""

from __future__ import annotations

from typing import Any

import pytest

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.errors import InvalidRequest, UnsupportedCapability
from babelgate.frontends.embeddings import decode_request
from babelgate.http import UpstreamClient
from babelgate.providers import build_provider
from babelgate.providers.mistral.translate import embedding_from_wire, embedding_to_wire
from babelgate.providers.mistral.wire import EMBEDDING_BATCH_LIMIT, FIXED_EMBEDDING_SIZES
from babelgate.schema.chat import Usage
from tests.fakes.mistral_upstream import FIXED_SIZE_MODELS, MAX_EMBEDDING_INPUTS, embedding_violations

JSON = dict[str, Any]


def translate(body: JSON, model: str = "mistral-embed") -> tuple[JSON, list[str]]:
    request, _ = decode_request({"model": "public-name", **body})
    adjusted: list[str] = []
    wire = embedding_to_wire(request, model, adjusted)
    assert embedding_violations(wire) == []
    return wire, adjusted


# --- request ----------------------------------------------------------------------------------------


def test_inputs_go_as_a_list() -> None:
    assert translate({"input": ["first", "second"]}) == ({"model": "mistral-embed", "input": ["first", "second"]}, [])
    assert translate({"input": "alone"})[0] == {"model": "mistral-embed", "input": ["alone"]}


def test_codestral_embed_takes_output_dimension() -> None:
    wire, adjusted = translate({"input": ["def f(): pass"], "dimensions": 256}, "codestral-embed")
    assert wire == {"model": "codestral-embed", "input": ["def f(): pass"], "output_dimension": 256}
    assert adjusted == []


@pytest.mark.parametrize("model", ["mistral-embed", "mistral-embed-2312"])
def test_mistral_embed_accepts_its_own_size_and_sends_nothing(model: str) -> None:
    assert translate({"input": ["x"], "dimensions": 1024}, model) == ({"model": model, "input": ["x"]}, [])


@pytest.mark.parametrize("dimensions", [256, 1023, 1536, 3072])
def test_mistral_embed_refuses_any_other_size_naming_dimensions(dimensions: int) -> None:
    request, _ = decode_request({"model": "m", "input": "x", "dimensions": dimensions})
    with pytest.raises(InvalidRequest) as caught:
        embedding_to_wire(request, "mistral-embed", [])
    assert (caught.value.status, caught.value.param) == (400, "dimensions")
    assert caught.value.params["detail"] == "mistral-embed makes vectors of 1024 dimensions only"


def test_the_fixed_sizes_are_the_fakes() -> None:
    assert set(FIXED_EMBEDDING_SIZES) == FIXED_SIZE_MODELS


@pytest.mark.parametrize("inputs", [[1, 2, 3], [[1, 2], [3]]])
def test_token_ids_are_a_400_naming_input(inputs: Any) -> None:
    request, _ = decode_request({"model": "m", "input": inputs})
    with pytest.raises(UnsupportedCapability) as caught:
        embedding_to_wire(request, "mistral-embed", [])
    assert (caught.value.status, caught.value.param, caught.value.code) == (400, "input", "unsupported_capability")


def test_output_dtype_and_metadata_pass_through_in_the_spec_order() -> None:
    wire, adjusted = translate(
        {"input": ["x"], "output_dtype": "int8", "metadata": {"team": "a"}, "dimensions": 512}, "codestral-embed"
    )
    assert wire == {
        "model": "codestral-embed",
        "metadata": {"team": "a"},
        "input": ["x"],
        "output_dimension": 512,
        "output_dtype": "int8",
    }
    assert list(wire) == ["model", "metadata", "input", "output_dimension", "output_dtype"]
    assert adjusted == []


def test_fields_mistral_would_refuse_are_dropped_and_listed() -> None:
    # The API answers unknown fields with 422 extra_forbidden; `user` is OpenAI's only.
    wire, adjusted = translate({"input": ["x"], "user": "user-42", "task_type": "RETRIEVAL_QUERY"})
    assert wire == {"model": "mistral-embed", "input": ["x"]}
    assert sorted(adjusted) == ["task_type=dropped", "user=dropped"]


def test_the_batch_limit_stays_under_what_the_api_refuses() -> None:
    assert EMBEDDING_BATCH_LIMIT == 128 < MAX_EMBEDDING_INPUTS
    wire, _ = translate({"input": [f"t{i}" for i in range(EMBEDDING_BATCH_LIMIT)]})
    assert len(wire["input"]) == 128


def test_the_provider_declares_embeddings() -> None:
    config = ProviderConfig(type="mistral", api_keys=("k",), base_url="http://127.0.0.1:9/v1")
    provider = build_provider("mistral", config, ServerConfig(), UpstreamClient())
    assert (provider.capabilities.embeddings, provider.capabilities.embedding_batch_limit) == (True, 128)
    assert provider._embeddings_url == "http://127.0.0.1:9/v1/embeddings"  # type: ignore[attr-defined]


# --- response ---------------------------------------------------------------------------------------


def test_vectors_by_index_and_usage() -> None:
    body = {
        "id": "e3b0c44298fc1c149afbf4c8996fb924",
        "object": "list",
        "model": "mistral-embed",
        "data": [
            {"object": "embedding", "embedding": [0.5, -1], "index": 1},
            {"object": "embedding", "embedding": [0.25, 0], "index": 0},
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 0, "total_tokens": 12, "prompt_audio_seconds": None},
    }
    answer = embedding_from_wire(body, "mistral-embed")
    assert answer.vectors == [[0.25, 0.0], [0.5, -1.0]]
    assert answer.usage == Usage(prompt_tokens=12, total_tokens=12)
    assert answer.model == "mistral-embed"


@pytest.mark.parametrize("body", [{}, {"data": [{"index": 0}]}, {"data": [{"embedding": "AAAA", "index": 0}]}])
def test_a_malformed_answer_raises_for_the_provider_to_report(body: JSON) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        embedding_from_wire(body, "mistral-embed")
