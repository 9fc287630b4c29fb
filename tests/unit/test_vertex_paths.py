"""Vertex AI's model paths, read once for Claude's rawPredict door and the Gemini door on Vertex's paths
(frontends/vertex_paths.py), and Vertex's embedding shapes (frontends/gemini/translate_embed.py)."""

from __future__ import annotations

import pytest

from babelgate.errors import InvalidRequest
from babelgate.frontends.gemini.translate_embed import predict_answer, predict_requests, vertex_batch_requests
from babelgate.frontends.vertex_paths import PublisherModel, claims, express_model, publisher_model
from babelgate.schema.chat import Usage
from babelgate.schema.embeddings import EmbeddingResponse


@pytest.mark.parametrize(
    ("rest", "found"),
    [
        (
            "p/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
            PublisherModel("google", "gemini-2.5-flash", "generateContent"),
        ),
        (
            "p/locations/global/publishers/anthropic/models/openai/gpt-4o-mini:rawPredict",
            PublisherModel("anthropic", "openai/gpt-4o-mini", "rawPredict"),
        ),
        ("p/locations/l/publishers/google/models/a:b:predict", PublisherModel("google", "a:b", "predict")),
        ("p/locations/l/publishers/google/models/gemini", None),  # no method
        ("p/locations/l/publishers/google/models/:generateContent", None),  # no model
        ("p/locations/l/publishers//models/m:generateContent", None),
        ("p/locations/l/endpoints/e:predict", None),
        ("p/locations/l/publishers/google/models/m:v1", None),  # a method is letters
    ],
)
def test_publisher_model(rest: str, found: PublisherModel | None) -> None:
    assert publisher_model(rest) == found


def test_express_paths_name_no_project() -> None:
    assert express_model("google/models/gemini-2.5-flash:generateContent") == PublisherModel(
        "google", "gemini-2.5-flash", "generateContent"
    )
    assert express_model("openai/models/gpt-4o-mini:countTokens") == PublisherModel(
        "openai", "gpt-4o-mini", "countTokens"
    )
    assert express_model("google/endpoints/e:predict") is None and express_model("google/models") is None
    assert publisher_model("google/models/m:predict") is None  # a project's path, read as one


def test_each_door_claims_its_methods() -> None:
    raw = claims(("rawPredict",), publisher="anthropic")
    gemini = claims(("generateContent",))
    claude = "p/locations/l/publishers/anthropic/models/claude:"
    assert raw("POST", claude + "rawPredict") and not gemini("POST", claude + "rawPredict")
    assert gemini("POST", claude + "generateContent") and not raw("POST", claude + "generateContent")
    assert not raw("POST", "p/locations/l/publishers/google/models/m:rawPredict")
    # Which door, by the method alone: the door's handler refuses a path of another shape (publisher_model).
    assert gemini("POST", "p/models/m:generateContent") and publisher_model("p/models/m:generateContent") is None
    assert not gemini("POST", "p/locations/l/publishers/google/models/gemini") and not gemini("POST", "")


def test_predict_instances_are_embedding_requests() -> None:
    instance = {"content": "one", "task_type": "RETRIEVAL_QUERY"}
    body = {"instances": [instance], "parameters": {"outputDimensionality": 4}}
    assert predict_requests(body) == [
        (
            {"content": {"parts": [{"text": "one"}]}, "outputDimensionality": 4, "taskType": "RETRIEVAL_QUERY"},
            "instances[0]",
        )
    ]
    with pytest.raises(InvalidRequest) as refused:
        predict_requests({"instances": [{"content": ["one"]}]})
    assert refused.value.param == "instances[0].content"


def test_predict_answer_and_vertex_batch() -> None:
    one = EmbeddingResponse("m", [[0.5, 1.0]], Usage(prompt_tokens=3, completion_tokens=0, total_tokens=3))
    assert predict_answer(one) == {
        "predictions": [{"embeddings": {"values": [0.5, 1.0], "statistics": {"truncated": False, "token_count": 3}}}]
    }
    body = {"requests": [{"content": {"parts": [{"text": "a"}]}, "embedContentConfig": {"taskType": "X"}}]}
    assert vertex_batch_requests(body) == [({"taskType": "X", "content": {"parts": [{"text": "a"}]}}, "requests[0]")]
