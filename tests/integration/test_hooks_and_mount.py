"""Library use: hooks (which move chat onto the typed path) and mounting inside another ASGI app."""

from __future__ import annotations

import fastapi
import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from babelgate import Hook, create_app
from babelgate.app import Gateway
from babelgate.config import load_config
from babelgate.errors import InvalidRequest
from babelgate.hooks import Completion, RequestContext
from babelgate.providers import PROVIDER_TYPES
from babelgate.schema.chat import ChatRequest, Message
from tests.conftest import GatewayFactory, base_env
from tests.fakes.openai_upstream import FakeOpenAI, Reply, text_stream, tool_call_stream
from tests.fakes.servers import LoopThread, RunningApp
from tests.waiting import eventually

USER = [{"role": "user", "content": "Hi"}]


class Recorder(Hook):
    def __init__(self) -> None:
        self.completions: list[tuple[RequestContext, Completion]] = []

    async def on_request(self, context: RequestContext) -> None:
        if context.model == "gpt-forbidden":
            raise InvalidRequest("invalid_value", param="model", detail="not for you")

    async def on_complete(self, context: RequestContext, completion: Completion) -> None:
        self.completions.append((context, completion))


class AddSystemPrompt(Recorder):
    async def transform_request(self, context: RequestContext, request: ChatRequest) -> ChatRequest:
        request.messages.insert(0, Message(role="system", content="Be kind."))
        return request


@pytest.fixture
def typed_client(make_gateway: GatewayFactory) -> tuple[openai.OpenAI, AddSystemPrompt]:
    hook = AddSystemPrompt()
    gateway = make_gateway(hooks=(hook,))
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60), hook


def test_hooks_see_requests_and_completions_on_the_fast_path(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    hook = Recorder()
    assert not hook.needs_typed_request
    gateway = make_gateway(hooks=(hook,))
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        client.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="gpt-forbidden", messages=USER)  # type: ignore[arg-type]
    assert len(upstream.received) == 2  # one model listing, one chat: the refused call never left
    assert eventually(lambda: len(hook.completions) == 2)
    assert hook.completions[1][1].error_code == "invalid_request_error"
    context, completion = hook.completions[0]
    assert (context.provider, context.upstream_model, completion.status) == ("openai", "gpt-4o", 200)
    assert completion.usage is not None and completion.usage.total_tokens == 12


def test_transform_hook_goes_through_the_typed_path(
    typed_client: tuple[openai.OpenAI, AddSystemPrompt], upstream: FakeOpenAI
) -> None:
    client, hook = typed_client
    answer = client.chat.completions.create(model="gpt-4o", messages=USER, extra_body={"custom": [1]})  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Hello!"
    assert answer.usage is not None and answer.usage.prompt_tokens_details is not None
    sent = upstream.received[-1].json
    assert sent["messages"] == [{"role": "system", "content": "Be kind."}, *USER]
    assert sent["custom"] == [1]
    assert eventually(lambda: bool(hook.completions))
    assert hook.completions[-1][1].usage is not None


def test_typed_path_streams_text_with_usage(typed_client: tuple[openai.OpenAI, AddSystemPrompt]) -> None:
    client, _ = typed_client
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o",
            messages=USER,
            stream=True,  # type: ignore[arg-type]
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello!"
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 12


def test_typed_path_streams_parallel_tool_calls(
    typed_client: tuple[openai.OpenAI, AddSystemPrompt], upstream: FakeOpenAI
) -> None:
    client, _ = typed_client
    upstream.script(Reply(stream=tool_call_stream([("c1", "f", ['{"a"', ": 1}"]), ("c2", "g", ["{}"])])))  # type: ignore[arg-type]
    calls: dict[int, list[str]] = {}
    for chunk in client.chat.completions.create(model="gpt-4o", messages=USER, stream=True):  # type: ignore[arg-type]
        for delta in chunk.choices[0].delta.tool_calls or ():
            entry = calls.setdefault(delta.index, [delta.id or "", ""])
            entry[1] += delta.function.arguments or "" if delta.function else ""
    assert calls == {0: ["c1", '{"a": 1}'], 1: ["c2", "{}"]}


def test_typed_path_stream_drop_raises(
    typed_client: tuple[openai.OpenAI, AddSystemPrompt], upstream: FakeOpenAI
) -> None:
    client, _ = typed_client
    upstream.script(Reply(stream=text_stream(["a", "b", "c"]), drop_after=2))  # type: ignore[arg-type]
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(model="gpt-4o", messages=USER, stream=True):  # type: ignore[arg-type]
            pass


def _mounted(loop_thread: LoopThread, gateway: Gateway, outer_factory: str) -> RunningApp:
    if outer_factory == "starlette":
        outer = Starlette(routes=[Route("/", lambda request: PlainTextResponse("home")), Mount("/llm", app=gateway)])
    else:
        outer = fastapi.FastAPI()
        outer.get("/")(lambda: "home")
        outer.mount("/llm", gateway)
    running = RunningApp(outer)
    loop_thread.run(running.start())
    return running


@pytest.mark.parametrize("outer", ["starlette", "fastapi"])
def test_gateway_mounted_under_a_prefix(loop_thread: LoopThread, upstream: FakeOpenAI, outer: str) -> None:
    gateway = create_app(load_config(None, base_env(upstream), available_types=PROVIDER_TYPES))
    running = _mounted(loop_thread, gateway, outer)
    try:
        assert httpx.get(running.url + "/", timeout=10).status_code == 200
        with openai.OpenAI(base_url=running.url + "/llm/v1", api_key="x", max_retries=0, timeout=60) as client:
            assert client.chat.completions.create(model="gpt-4o", messages=USER).choices  # type: ignore[arg-type]
            assert "openai/gpt-4o" in [m.id for m in client.models.list()]
        assert httpx.get(running.url + "/llm/health", timeout=10).json()["status"] == "ok"
    finally:
        loop_thread.run(running.stop())
        loop_thread.run(gateway.aclose())  # the outer app's lifespan never reaches a mounted app
