"""Responses state and lifetimes: PostgreSQL shared by two gateways, retention, hooks, and
client disconnects that must close the upstream at once."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest
from websockets.sync.client import connect

from babelgate.hooks import Completion, Hook, RequestContext
from babelgate.schema.chat import ChatRequest
from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, Reply, text_stream
from tests.fakes.servers import RunningApp
from tests.services import postgres_dsn  # noqa: F401  (fixture)
from tests.waiting import eventually

MODEL = "gpt-4o-mini"


def test_two_gateways_share_conversations_through_postgres(
    make_gateway: GatewayFactory,
    upstream: FakeOpenAI,
    postgres_dsn: str,  # noqa: F811
) -> None:
    env = {"BABELGATE_STORE_URL": postgres_dsn}
    first, second = make_gateway(env=env), make_gateway(env=env)
    with (
        openai.OpenAI(base_url=first.url + "/v1", api_key="x", max_retries=0, timeout=60) as a,
        openai.OpenAI(base_url=second.url + "/v1", api_key="x", max_retries=0, timeout=60) as b,
    ):
        created = a.responses.create(model=MODEL, input="The code is 7.")

        def visible() -> bool:
            try:
                return b.responses.retrieve(created.id).id == created.id
            except openai.NotFoundError:
                return False

        assert eventually(visible), "the second gateway never saw the first one's response"
        follow = b.responses.create(model=MODEL, input="The code?", previous_response_id=created.id)
        assert follow.previous_response_id == created.id
        assert [m["role"] for m in upstream.received[-1].json["messages"]] == ["user", "assistant", "user"]
        b.responses.delete(follow.id)
        a.responses.delete(created.id)
        assert eventually(lambda: not visible())


def test_responses_expire_after_the_retention_time(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway("responses:\n  retention: 1\n")
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        created = client.responses.create(model=MODEL, input="Hi")
        assert client.responses.retrieve(created.id).id == created.id

        def gone() -> bool:
            try:
                client.responses.retrieve(created.id)
            except openai.NotFoundError:
                return True
            return False

        assert eventually(gone, 4.0)


class Recorder(Hook):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.completions: list[Completion] = []

    async def on_request(self, context: RequestContext) -> None:
        self.seen.append((context.route, context.model))

    async def transform_request(self, context: RequestContext, request: ChatRequest) -> ChatRequest:
        request.temperature = 0.1
        return request

    async def on_complete(self, context: RequestContext, completion: Completion) -> None:
        self.completions.append(completion)


def test_hooks_see_responses_requests(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    hook = Recorder()
    gateway = make_gateway(hooks=(hook,))
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        client.responses.create(model=MODEL, input="Hi")
    assert hook.seen == [("responses.create", MODEL)]
    assert upstream.received[-1].json["temperature"] == 0.1
    assert eventually(lambda: len(hook.completions) == 1)
    assert hook.completions[0].status == 200 and hook.completions[0].usage is not None


def test_hooks_see_websocket_responses(make_gateway: GatewayFactory) -> None:
    hook = Recorder()
    gateway = make_gateway(hooks=(hook,))
    with connect(gateway.url.replace("http://", "ws://") + "/v1/responses") as ws:
        ws.send(json.dumps({"type": "response.create", "model": MODEL, "input": "Hi"}))
        while json.loads(ws.recv(timeout=5))["type"] != "response.completed":
            pass
    assert hook.seen == [("responses.websocket", MODEL)]
    assert eventually(lambda: len(hook.completions) == 1)
    assert hook.completions[0].status == 200 and hook.completions[0].usage is not None


def _upstream_closed_soon(upstream: FakeOpenAI, since: float) -> None:
    assert eventually(lambda: upstream.stream_closed_at is not None, 2.0), "upstream never saw the close"
    assert upstream.stream_closed_at is not None and upstream.stream_closed_at - since < 2


def test_sse_client_leaving_closes_the_upstream(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=text_stream(["a", "b", "c"]), stall_after=1))  # type: ignore[arg-type]
    with httpx.stream(
        "POST", gateway.url + "/v1/responses", json={"model": MODEL, "input": "Hi", "stream": True}, timeout=10
    ) as response:
        lines = response.iter_lines()
        assert next(lines) == "event: response.created"
        left = time.monotonic()
    _upstream_closed_soon(upstream, left)


def test_websocket_client_leaving_closes_the_upstream(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=text_stream(["a", "b", "c"]), stall_after=1))  # type: ignore[arg-type]
    with connect(gateway.url.replace("http://", "ws://") + "/v1/responses") as ws:
        ws.send(json.dumps({"type": "response.create", "model": MODEL, "input": "Hi"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "response.created"
        left = time.monotonic()
    _upstream_closed_soon(upstream, left)


def test_metrics_count_responses_routes(gateway: RunningApp) -> None:
    with connect(gateway.url.replace("http://", "ws://") + "/v1/responses") as ws:
        ws.send(json.dumps({"type": "response.create", "model": MODEL, "input": "Hi"}))
        while json.loads(ws.recv(timeout=5))["type"] != "response.completed":
            pass
    httpx.post(gateway.url + "/v1/responses", json={"model": MODEL, "input": "Hi"}, timeout=10)

    def counted() -> bool:
        text = httpx.get(gateway.url + "/metrics", timeout=10).text
        return 'route="responses.websocket"' in text and 'route="responses.create"' in text

    assert eventually(counted, 3.0)


def test_hooks_see_and_may_refuse_native_responses(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    from babelgate.errors import InvalidRequest

    class Refuser(Recorder):
        async def on_request(self, context: RequestContext) -> None:
            await super().on_request(context)
            raise InvalidRequest("invalid_value", param="input", detail="refused by policy")

    hook = Refuser()
    gateway = make_gateway(
        "models:\n  smart:\n    provider: openai\n    model: gpt-5\n    native_responses: true\n", hooks=(hook,)
    )
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client,
        pytest.raises(openai.BadRequestError),
    ):
        client.responses.create(model="smart", input="Hi")
    assert hook.seen == [("responses.create", "smart")]
    assert not [r for r in upstream.received if r.path == "/v1/responses"]
    assert eventually(lambda: len(hook.completions) == 1) and hook.completions[0].status == 400


def test_a_response_belongs_to_the_gateway_key_that_created_it(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(env={"BABELGATE_API_KEYS": "sk-team-a,sk-team-b"})
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-team-a", max_retries=0, timeout=60) as a,
        openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-team-b", max_retries=0, timeout=60) as b,
    ):
        created = a.responses.create(model=MODEL, input="Secret plans")
        assert a.responses.retrieve(created.id).id == created.id
        with pytest.raises(openai.NotFoundError):
            b.responses.retrieve(created.id)
        with pytest.raises(openai.NotFoundError):
            b.responses.input_items.list(created.id)
        with pytest.raises(openai.NotFoundError) as caught:
            b.responses.create(model=MODEL, input="Continue", previous_response_id=created.id)
        assert caught.value.code == "previous_response_not_found"
        with pytest.raises(openai.NotFoundError):
            b.responses.delete(created.id)
        assert a.responses.retrieve(created.id).id == created.id  # untouched by the other key
        a.responses.delete(created.id)
