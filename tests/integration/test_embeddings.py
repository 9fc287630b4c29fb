"""`/v1/embeddings` through the gateway with the official `openai` SDK (which asks for base64 by
default and decodes it), against the OpenAI fake; splitting over a provider's batch limit."""

from __future__ import annotations

import base64
import struct
import time
from dataclasses import replace

import httpx
import openai
import pytest

from babelgate.errors import InvalidRequest
from babelgate.hooks import Completion, Hook, RequestContext
from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, MISTRAL_KEY, GatewayFactory
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.mistral_upstream import FakeMistral
from tests.fakes.openai_upstream import FakeOpenAI, Reply
from tests.fakes.servers import RunningApp

MODEL = "text-embedding-3-small"


def _expected(text: str) -> list[float]:
    return [float(len(text)), 0.5, -0.25]  # the fake's default vector


def test_sdk_default_base64_is_decoded_to_the_upstream_floats(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    answer = client.embeddings.create(model=MODEL, input=["hello", "hi"])
    assert [d.embedding for d in answer.data] == [_expected("hello"), _expected("hi")]
    assert [d.index for d in answer.data] == [0, 1] and answer.model == MODEL
    assert answer.usage.prompt_tokens == 4 and answer.usage.total_tokens == 4
    sent = upstream.received[-1]
    assert sent.path == "/v1/embeddings" and sent.json["encoding_format"] == "float"


def test_raw_base64_is_little_endian_float32(gateway: RunningApp) -> None:
    body = httpx.post(
        gateway.url + "/v1/embeddings", timeout=10, json={"model": MODEL, "input": "abc", "encoding_format": "base64"}
    ).json()
    raw = base64.b64decode(body["data"][0]["embedding"])
    assert list(struct.unpack("<3f", raw)) == _expected("abc")


def test_float_token_ids_and_dimensions_pass(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    answer = client.embeddings.create(
        model=MODEL, input=[[1, 2, 3], [4]], encoding_format="float", dimensions=3, user="u1"
    )
    assert len(answer.data) == 2
    sent = upstream.received[-1].json
    assert sent["input"] == [[1, 2, 3], [4]] and sent["dimensions"] == 3 and sent["user"] == "u1"
    client.embeddings.create(model=MODEL, input=[5, 6, 7], encoding_format="float")
    assert upstream.received[-1].json["input"] == [[5, 6, 7]]


def test_inputs_over_the_batch_limit_are_split_and_reassembled_in_order(
    gateway: RunningApp, client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    provider = gateway.app.runtime.providers["openai"]
    provider.capabilities = replace(provider.capabilities, embedding_batch_limit=3)
    texts = ["x" * n for n in range(1, 11)]
    answer = client.embeddings.create(model=MODEL, input=texts, encoding_format="float")
    assert [d.embedding for d in answer.data] == [_expected(t) for t in texts]
    assert [d.index for d in answer.data] == list(range(10))
    calls = [r.json["input"] for r in upstream.received if r.path == "/v1/embeddings"]
    assert sorted(len(batch) for batch in calls) == [1, 3, 3, 3]
    assert answer.usage.prompt_tokens == 20


def test_a_provider_without_embeddings_is_a_400_before_any_call(
    make_gateway: GatewayFactory, anthropic_upstream: FakeAnthropic
) -> None:
    gateway = make_gateway(env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url})
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client,
        pytest.raises(openai.BadRequestError) as caught,
    ):
        client.embeddings.create(model="claude-sonnet-4-6", input="hi")
    assert caught.value.code == "unsupported_capability"
    assert not [r for r in anthropic_upstream.received if r.method == "POST"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": []}, "input"),
        ({"input": [1, "a"]}, "input"),
        ({"input": [[1], []]}, "input"),
        ({"input": "a", "encoding_format": "int8"}, "encoding_format"),
        ({"input": "a", "dimensions": 0}, "dimensions"),
        ({"input": "a", "user": 5}, "user"),
        ({"input": [True]}, "input"),
    ],
)
def test_bad_requests_name_the_parameter(gateway: RunningApp, body: dict[str, object], param: str) -> None:
    response = httpx.post(gateway.url + "/v1/embeddings", json={"model": MODEL, **body}, timeout=10)
    assert response.status_code == 400 and response.json()["error"]["param"] == param


def test_upstream_errors_keep_openais_format(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(
        Reply(
            status=400,
            json={"error": {"message": "bad model", "type": "invalid_request_error", "param": "model", "code": None}},
        )
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=MODEL, input="hi")
    assert "bad model" in caught.value.message


def test_gemini_embeddings_split_at_100_with_adjustments_reported(
    make_gateway: GatewayFactory, gemini_upstream: FakeGemini
) -> None:
    gateway = make_gateway(env={"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": gemini_upstream.base_url})
    texts = [f"text {n}" for n in range(250)]
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        raw = client.embeddings.with_raw_response.create(
            model="gemini-embedding-001",
            input=texts,
            dimensions=8,
            user="u1",
            extra_body={"task_type": "RETRIEVAL_QUERY"},
        )
    answer = raw.parse()
    assert len(answer.data) == 250 and all(len(d.embedding) == 8 for d in answer.data)
    assert [d.index for d in answer.data] == list(range(250))
    assert raw.headers["x-babelgate-adjusted-params"] == "user=dropped"
    batches = [r.json["requests"] for r in gemini_upstream.received if r.path.endswith(":batchEmbedContents")]
    assert sorted(len(b) for b in batches) == [50, 100, 100]
    first = min(batches, key=lambda b: b[0]["content"]["parts"][0]["text"] != "text 0")
    assert first[0]["taskType"] == "RETRIEVAL_QUERY" and first[0]["outputDimensionality"] == 8


def test_mistral_embed_is_fixed_at_1024(make_gateway: GatewayFactory, mistral_upstream: FakeMistral) -> None:
    gateway = make_gateway(env={"MISTRAL_API_KEY": MISTRAL_KEY, "MISTRAL_BASE_URL": mistral_upstream.base_url})
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        answer = client.embeddings.create(model="mistral-embed", input=["a", "b"], dimensions=1024)
        assert len(answer.data) == 2
        with pytest.raises(openai.BadRequestError) as caught:
            client.embeddings.create(model="mistral-embed", input="a", dimensions=256)
    assert caught.value.body["param"] == "dimensions"  # type: ignore[index]


def test_hooks_see_embeddings_requests_and_may_refuse_them(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    class Gatekeeper(Hook):
        def __init__(self) -> None:
            self.seen: list[str] = []
            self.completed: list[Completion] = []

        async def on_request(self, context: RequestContext) -> None:
            self.seen.append(context.route)
            if context.headers.get("x-refuse"):
                raise InvalidRequest("invalid_value", param="input", detail="refused by policy")

        async def on_complete(self, context: RequestContext, completion: Completion) -> None:
            self.completed.append(completion)

    hook = Gatekeeper()
    gateway = make_gateway(hooks=(hook,))
    ok = httpx.post(gateway.url + "/v1/embeddings", json={"model": MODEL, "input": "hi"}, timeout=10)
    refused = httpx.post(
        gateway.url + "/v1/embeddings", json={"model": MODEL, "input": "hi"}, headers={"x-refuse": "1"}, timeout=10
    )
    assert (ok.status_code, refused.status_code) == (200, 400)
    assert hook.seen == ["embeddings", "embeddings"]
    assert len([r for r in upstream.received if r.path == "/v1/embeddings"]) == 1
    deadline = time.monotonic() + 2
    while len(hook.completed) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [c.status for c in hook.completed] == [200, 400]


def test_unknown_messages_paths_answer_in_anthropics_format(gateway: RunningApp) -> None:
    response = httpx.post(gateway.url + "/v1/messages/drafts", json={}, timeout=10)
    assert response.status_code == 404
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == "not_found_error"
