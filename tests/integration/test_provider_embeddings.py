"""`provider.embed` of the Gemini and Mistral providers against their fake upstreams on loopback.

The providers are built as the app builds them (`build_provider`) and called directly, on the loop that
hosts the fakes; no gateway frontend is involved. The fakes check every body against the official SDKs'
request types (and refuse what the real APIs refuse: more than 100 requests per Gemini batch, a model
that differs from the URL's, `output_dimension` on `mistral-embed`, unknown fields) and answer with
deterministic vectors, so each test can say exactly which vector comes back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.errors import (
    GatewayError,
    InvalidRequest,
    UnsupportedCapability,
    UpstreamAuthFailed,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamUnavailable,
)
from babelgate.http import UpstreamClient
from babelgate.providers import build_provider
from babelgate.providers.base import CallNotes, Provider
from babelgate.schema.chat import Usage
from babelgate.schema.embeddings import EmbeddingRequest, EmbeddingResponse
from tests.conftest import GEMINI_KEY, MISTRAL_KEY
from tests.fakes import gemini_upstream as gemini_fake
from tests.fakes import mistral_upstream as mistral_fake
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.mistral_upstream import FakeMistral
from tests.fakes.scripted import Reply
from tests.fakes.servers import LoopThread

GEMINI_EMBED = "gemini-embedding-001"


@pytest.fixture
def upstream_client(loop_thread: LoopThread) -> Iterator[UpstreamClient]:
    client = UpstreamClient()
    yield client
    loop_thread.run(client.close())


def gemini(client: UpstreamClient, fake: FakeGemini, **options: Any) -> Provider:
    config = ProviderConfig(type="gemini", api_keys=(GEMINI_KEY,), base_url=fake.base_url, options=options)
    return build_provider("gemini", config, ServerConfig(), client)


def mistral(client: UpstreamClient, fake: FakeMistral) -> Provider:
    config = ProviderConfig(type="mistral", api_keys=(MISTRAL_KEY,), base_url=fake.base_url + "/v1")
    return build_provider("mistral", config, ServerConfig(), client)


def embed(
    loop_thread: LoopThread,
    provider: Provider,
    model: str,
    inputs: Any,
    *,
    dimensions: int | None = None,
    user: str | None = None,
    **extra: Any,
) -> tuple[EmbeddingResponse, CallNotes]:
    notes = CallNotes()
    request = EmbeddingRequest(model="public-name", inputs=inputs, dimensions=dimensions, user=user, extra=extra)
    return loop_thread.run(provider.embed(request, model, notes)), notes


def fails(loop_thread: LoopThread, provider: Provider, model: str, inputs: Any, **fields: Any) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        embed(loop_thread, provider, model, inputs, **fields)
    return caught.value


# --- Gemini -------------------------------------------------------------------------------------------


def test_gemini_embeds_each_input_with_its_own_request(
    loop_thread: LoopThread, upstream_client: UpstreamClient, gemini_upstream: FakeGemini
) -> None:
    provider = gemini(upstream_client, gemini_upstream)
    answer, notes = embed(loop_thread, provider, GEMINI_EMBED, ["first", "second"], dimensions=8)
    assert answer.vectors == [
        gemini_fake.fake_vector(GEMINI_EMBED, "first", 8),
        gemini_fake.fake_vector(GEMINI_EMBED, "second", 8),
    ]
    assert (answer.model, answer.usage, notes.usage, notes.adjusted) == (GEMINI_EMBED, None, None, [])
    [sent] = gemini_upstream.received
    assert sent.path == f"/v1beta/models/{GEMINI_EMBED}:batchEmbedContents"
    assert sent.headers["x-goog-api-key"] == GEMINI_KEY
    assert sent.json == {
        "requests": [
            {"model": f"models/{GEMINI_EMBED}", "content": {"parts": [{"text": "first"}]}, "outputDimensionality": 8},
            {"model": f"models/{GEMINI_EMBED}", "content": {"parts": [{"text": "second"}]}, "outputDimensionality": 8},
        ]
    }


def test_gemini_full_size_vectors_without_dimensions(
    loop_thread: LoopThread, upstream_client: UpstreamClient, gemini_upstream: FakeGemini
) -> None:
    answer, _ = embed(loop_thread, gemini(upstream_client, gemini_upstream), GEMINI_EMBED, ["x"])
    assert answer.vectors == [gemini_fake.fake_vector(GEMINI_EMBED, "x", 3072)]


def test_gemini_task_type_from_the_model_profile_and_from_the_request(
    loop_thread: LoopThread, upstream_client: UpstreamClient, gemini_upstream: FakeGemini
) -> None:
    profiles = {"gemini-embedding-*": {"task_type": "RETRIEVAL_DOCUMENT"}}
    provider = gemini(upstream_client, gemini_upstream, models=profiles)
    embed(loop_thread, provider, GEMINI_EMBED, ["doc a", "doc b"])
    embed(loop_thread, provider, GEMINI_EMBED, ["query"], task_type="RETRIEVAL_QUERY")
    first, second = (item.json["requests"] for item in gemini_upstream.received)
    assert [item["taskType"] for item in first] == ["RETRIEVAL_DOCUMENT", "RETRIEVAL_DOCUMENT"]
    assert [item["taskType"] for item in second] == ["RETRIEVAL_QUERY"]


def test_gemini_takes_a_full_batch_of_100(
    loop_thread: LoopThread, upstream_client: UpstreamClient, gemini_upstream: FakeGemini
) -> None:
    provider = gemini(upstream_client, gemini_upstream)
    texts = [f"text number {i}" for i in range(provider.capabilities.embedding_batch_limit)]
    answer, _ = embed(loop_thread, provider, GEMINI_EMBED, texts, dimensions=4)
    assert answer.vectors == [gemini_fake.fake_vector(GEMINI_EMBED, text, 4) for text in texts]
    # One more and the API refuses the batch: the limit the gateway splits at is the API's.
    gemini_upstream.max_embed_batch = len(texts) - 1
    assert fails(loop_thread, provider, GEMINI_EMBED, texts).status == 400
    gemini_upstream.violations.clear()


def test_gemini_reports_usage_only_when_the_api_counts(
    loop_thread: LoopThread, upstream_client: UpstreamClient, gemini_upstream: FakeGemini
) -> None:
    gemini_upstream.script(
        Reply(json=gemini_fake.embeddings_response([[0.5, 0.25]], usage={"promptTokenCount": 6, "totalTokenCount": 6}))
    )
    answer, notes = embed(loop_thread, gemini(upstream_client, gemini_upstream), GEMINI_EMBED, ["x"])
    assert answer.vectors == [[0.5, 0.25]]
    assert notes.usage == answer.usage == Usage(prompt_tokens=6, total_tokens=6)


def test_gemini_refuses_token_ids_before_any_call(
    loop_thread: LoopThread, upstream_client: UpstreamClient, gemini_upstream: FakeGemini
) -> None:
    error = fails(loop_thread, gemini(upstream_client, gemini_upstream), GEMINI_EMBED, [[1, 2, 3]])
    assert isinstance(error, UnsupportedCapability) and (error.status, error.param) == (400, "input")
    assert gemini_upstream.received == []


def test_gemini_drops_and_lists_what_it_cannot_send(
    loop_thread: LoopThread, upstream_client: UpstreamClient, gemini_upstream: FakeGemini
) -> None:
    _, notes = embed(loop_thread, gemini(upstream_client, gemini_upstream), GEMINI_EMBED, ["x"], user="u-1")
    assert notes.adjusted == ["user=dropped"]


@pytest.mark.parametrize(
    ("reply", "kind", "status"),
    [
        (
            Reply(status=429, json=gemini_fake.error_body(429, "RESOURCE_EXHAUSTED", "Quota", retry_delay="3s")),
            UpstreamRateLimited,
            429,
        ),
        (
            Reply(
                status=400,
                json=gemini_fake.error_body(400, "INVALID_ARGUMENT", "API key not valid.", reason="API_KEY_INVALID"),
            ),
            UpstreamAuthFailed,
            401,
        ),
        (
            Reply(
                status=400,
                json=gemini_fake.error_body(400, "INVALID_ARGUMENT", "Request payload size exceeds the limit"),
            ),
            UpstreamRejected,
            400,
        ),
        (
            Reply(status=503, json=gemini_fake.error_body(503, "UNAVAILABLE", "The model is overloaded.")),
            UpstreamUnavailable,
            503,
        ),
        (Reply(json={"embeddings": [{"values": [0.1]}]}), UpstreamProtocolError, 502),  # one vector for two inputs
        (Reply(json={"embeddings": [{}, {}]}), UpstreamProtocolError, 502),
        (Reply(body=b"<html>oops</html>"), UpstreamProtocolError, 502),
    ],
)
def test_gemini_errors_are_mapped(
    loop_thread: LoopThread,
    upstream_client: UpstreamClient,
    gemini_upstream: FakeGemini,
    reply: Reply,
    kind: type[GatewayError],
    status: int,
) -> None:
    gemini_upstream.script(reply)
    error = fails(loop_thread, gemini(upstream_client, gemini_upstream), GEMINI_EMBED, ["a", "b"])
    assert isinstance(error, kind) and error.status == status
    if isinstance(error, UpstreamRateLimited):
        assert error.retry_after == 3


def test_gemini_embedding_a_chat_model_is_the_apis_404(
    loop_thread: LoopThread, upstream_client: UpstreamClient, gemini_upstream: FakeGemini
) -> None:
    error = fails(loop_thread, gemini(upstream_client, gemini_upstream), "gemini-2.5-flash", ["x"])
    assert error.status == 404
    gemini_upstream.violations.clear()


def test_gemini_lists_embedding_models_too(
    loop_thread: LoopThread, upstream_client: UpstreamClient, gemini_upstream: FakeGemini
) -> None:
    ids = [model.id for model in loop_thread.run(gemini(upstream_client, gemini_upstream).list_models())]
    assert ids == ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-pro-preview", GEMINI_EMBED]


# --- Mistral ------------------------------------------------------------------------------------------


def test_mistral_embeds_with_usage(
    loop_thread: LoopThread, upstream_client: UpstreamClient, mistral_upstream: FakeMistral
) -> None:
    texts = ["Embed this sentence.", "As well as this one."]
    answer, notes = embed(loop_thread, mistral(upstream_client, mistral_upstream), "mistral-embed", texts)
    assert answer.vectors == [mistral_fake.fake_embedding("mistral-embed", text, 1024) for text in texts]
    tokens = sum(mistral_fake.fake_tokens(text) for text in texts)
    assert notes.usage == answer.usage == Usage(prompt_tokens=tokens, total_tokens=tokens)
    [sent] = mistral_upstream.received
    assert (sent.path, sent.headers["Authorization"]) == ("/v1/embeddings", f"Bearer {MISTRAL_KEY}")
    assert sent.json == {"model": "mistral-embed", "input": texts}


def test_mistral_embed_accepts_its_own_size_without_sending_it(
    loop_thread: LoopThread, upstream_client: UpstreamClient, mistral_upstream: FakeMistral
) -> None:
    provider = mistral(upstream_client, mistral_upstream)
    answer, _ = embed(loop_thread, provider, "mistral-embed", ["x"], dimensions=1024)
    assert len(answer.vectors[0]) == 1024
    assert mistral_upstream.received[0].json == {"model": "mistral-embed", "input": ["x"]}
    error = fails(loop_thread, provider, "mistral-embed", ["x"], dimensions=256)
    assert isinstance(error, InvalidRequest) and (error.status, error.param) == (400, "dimensions")
    assert len(mistral_upstream.received) == 1  # refused before any call


def test_codestral_embed_takes_dimensions_and_output_dtype(
    loop_thread: LoopThread, upstream_client: UpstreamClient, mistral_upstream: FakeMistral
) -> None:
    provider = mistral(upstream_client, mistral_upstream)
    answer, _ = embed(loop_thread, provider, "codestral-embed", ["def f(): pass"], dimensions=256)
    assert answer.vectors == [mistral_fake.fake_embedding("codestral-embed", "def f(): pass", 256)]
    quantised, _ = embed(loop_thread, provider, "codestral-embed", ["x"], dimensions=8, output_dtype="int8")
    assert quantised.vectors == [[float(v) for v in mistral_fake.fake_embedding("codestral-embed", "x", 8, "int8")]]
    assert mistral_upstream.received[1].json == {
        "model": "codestral-embed",
        "input": ["x"],
        "output_dimension": 8,
        "output_dtype": "int8",
    }


def test_mistral_takes_a_full_batch_and_drops_what_it_would_refuse(
    loop_thread: LoopThread, upstream_client: UpstreamClient, mistral_upstream: FakeMistral
) -> None:
    provider = mistral(upstream_client, mistral_upstream)
    texts = [f"chunk {i}" for i in range(provider.capabilities.embedding_batch_limit)]
    answer, notes = embed(loop_thread, provider, "mistral-embed", texts, user="u-1", encoding="x")
    assert len(answer.vectors) == 128 and answer.vectors[5] == mistral_fake.fake_embedding(
        "mistral-embed", texts[5], 1024
    )
    assert sorted(notes.adjusted) == ["encoding=dropped", "user=dropped"]


def test_mistral_refuses_token_ids_before_any_call(
    loop_thread: LoopThread, upstream_client: UpstreamClient, mistral_upstream: FakeMistral
) -> None:
    error = fails(loop_thread, mistral(upstream_client, mistral_upstream), "mistral-embed", [1, 2])
    assert isinstance(error, UnsupportedCapability) and error.param == "input"
    assert mistral_upstream.received == []


@pytest.mark.parametrize(
    ("reply", "kind", "status"),
    [
        (
            Reply(
                status=429,
                json=mistral_fake.error_body("Requests rate limit exceeded", type="rate_limited", code="1300"),
                headers={"retry-after": "2"},
            ),
            UpstreamRateLimited,
            429,
        ),
        (Reply(status=401, json=mistral_fake.unauthorized_body()), UpstreamAuthFailed, 401),
        (
            Reply(
                status=400,
                json=mistral_fake.error_body(
                    "Too many tokens overall, split into more batches.", type="invalid_request_prompt", code="3210"
                ),
            ),
            UpstreamRejected,
            400,
        ),
        (
            Reply(status=422, json=mistral_fake.error_422(["input"], "Input should be a valid list")),
            UpstreamRejected,
            400,
        ),
        (
            Reply(json=mistral_fake.embeddings_response([[0.5]])),
            UpstreamProtocolError,
            502,
        ),  # one vector for two inputs
        (Reply(json={"object": "list", "data": [{"index": 0}, {"index": 1}]}), UpstreamProtocolError, 502),
    ],
)
def test_mistral_errors_are_mapped(
    loop_thread: LoopThread,
    upstream_client: UpstreamClient,
    mistral_upstream: FakeMistral,
    reply: Reply,
    kind: type[GatewayError],
    status: int,
) -> None:
    mistral_upstream.script(reply)
    error = fails(loop_thread, mistral(upstream_client, mistral_upstream), "mistral-embed", ["a", "b"])
    assert isinstance(error, kind) and error.status == status
    if isinstance(error, UpstreamRateLimited):
        assert error.retry_after == 2
    if reply.status == 422:
        assert error.param == "input"


def test_an_error_object_in_a_200_answer_is_an_error(
    loop_thread: LoopThread, upstream_client: UpstreamClient, mistral_upstream: FakeMistral
) -> None:
    mistral_upstream.script(Reply(json=mistral_fake.error_body("Internal error", type="internal_server_error")))
    error = fails(loop_thread, mistral(upstream_client, mistral_upstream), "mistral-embed", ["x"])
    assert isinstance(error, GatewayError) and error.status >= 400 and "Internal error" in (error.raw_message or "")


def test_the_fake_refusal_reaches_the_caller_as_the_apis_400(
    loop_thread: LoopThread, upstream_client: UpstreamClient, mistral_upstream: FakeMistral
) -> None:
    error = fails(loop_thread, mistral(upstream_client, mistral_upstream), "mistral-small-latest", ["x"])
    assert isinstance(error, UpstreamRejected) and error.status == 400
    assert "Invalid model" in (error.raw_message or "")
    assert mistral_upstream.violations == ["model: Invalid model: mistral-small-latest"]
    mistral_upstream.violations.clear()
