"""What hooks see on every road: each piece of a streamed answer (`on_stream_chunk`, exactly the
bytes the client got, a failing hook breaking nothing, streams left unwrapped when no hook looks),
and the upstream's usage in `on_complete`, streams and typed roads included."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from babelgate import hooks as hooks_module
from babelgate import pipeline
from babelgate.frontends.openai_chat import routes as chat_completions
from babelgate.hooks import Completion, Hook, RequestContext
from babelgate.schema.chat import ChatRequest
from tests.conftest import ANTHROPIC_KEY, GatewayFactory
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import FakeOpenAI, text_stream
from tests.fakes.scripted import Reply
from tests.fakes.servers import RunningApp
from tests.waiting import eventually

USER = [{"role": "user", "content": "Hi"}]
INSTRUCT = "gpt-3.5-turbo-instruct"  # served by OpenAI's legacy /v1/completions: the native completions road
# A model served by OpenAI's own Responses API: the native Responses road (frontends/responses/native.py).
NATIVE_RESPONSES = "models:\n  smart:\n    provider: openai\n    model: gpt-5\n    native_responses: true\n"
RESOURCE = {
    "id": "resp_upstream",
    "object": "response",
    "created_at": 1,
    "status": "completed",
    "model": "gpt-5",
    "output": [],
    "error": None,
    "incomplete_details": None,
    "instructions": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "temperature": 1.0,
    "tool_choice": "auto",
    "tools": [],
    "top_p": 1.0,
    "usage": {
        "input_tokens": 5,
        "output_tokens": 2,
        "total_tokens": 7,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    },
}
RESOURCE_EVENTS: list[dict[str, Any] | bytes] = [
    {"type": "response.created", "sequence_number": 0, "response": {**RESOURCE, "status": "in_progress"}},
    {"type": "response.completed", "sequence_number": 1, "response": RESOURCE},
]


class Observer(Hook):
    """Observes only: overrides neither `transform_request` nor anything that changes the answer."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.completions: list[Completion] = []

    async def on_stream_chunk(self, context: RequestContext, data: bytes) -> None:
        self.chunks.append(data)

    async def on_complete(self, context: RequestContext, completion: Completion) -> None:
        self.completions.append(completion)


class TypedObserver(Observer):
    """The same, on the typed road (a hook that needs the typed request)."""

    async def transform_request(self, context: RequestContext, request: ChatRequest) -> ChatRequest:
        return request


class Broken(Hook):
    async def on_stream_chunk(self, context: RequestContext, data: bytes) -> None:
        raise RuntimeError("a hook's own bug")


class CompletionsOnly(Hook):
    def __init__(self) -> None:
        self.completions: list[Completion] = []

    async def on_complete(self, context: RequestContext, completion: Completion) -> None:
        self.completions.append(completion)


@dataclass
class Road:
    name: str
    path: str
    body: dict[str, Any]
    usage: tuple[int, int]  # the upstream's (prompt, completion) tokens
    typed: bool = False
    replies: list[Reply] = field(default_factory=list)  # scripted on the OpenAI fake (its default otherwise)

    @property
    def streams(self) -> bool:
        return self.body.get("stream") is True or (self.path.startswith("/api/") and "stream" not in self.body)


def _chat(stream: bool) -> dict[str, Any]:
    """A chat body; a stream asks for usage (OpenAI reports it in a stream only when asked)."""
    if stream:
        return {"model": "gpt-4o-mini", "messages": USER, "stream": True, "stream_options": {"include_usage": True}}
    return {"model": "gpt-4o-mini", "messages": USER}


ROADS = [
    Road("chat", "/v1/chat/completions", _chat(False), (9, 3)),
    Road("chat stream", "/v1/chat/completions", _chat(True), (9, 3)),
    Road("typed chat", "/v1/chat/completions", _chat(False), (9, 3), typed=True),
    Road("typed chat stream", "/v1/chat/completions", _chat(True), (9, 3), typed=True),
    Road("responses", "/v1/responses", {"model": "gpt-4o-mini", "input": "Hi", "store": False}, (9, 3)),
    Road(
        "responses stream",
        "/v1/responses",
        {"model": "gpt-4o-mini", "input": "Hi", "store": False, "stream": True},
        (9, 3),
    ),
    Road(
        "native responses", "/v1/responses", {"model": "smart", "input": "Hi"}, (5, 2), replies=[Reply(json=RESOURCE)]
    ),
    Road(
        "native responses stream",
        "/v1/responses",
        {"model": "smart", "input": "Hi", "stream": True},
        (5, 2),
        replies=[Reply(stream=RESOURCE_EVENTS)],
    ),
    Road("messages", "/v1/messages", {"model": "gpt-4o-mini", "max_tokens": 20, "messages": USER}, (9, 3)),
    Road(
        "messages stream",
        "/v1/messages",
        {"model": "gpt-4o-mini", "max_tokens": 20, "messages": USER, "stream": True},
        (9, 3),
    ),
    Road("native messages", "/v1/messages", {"model": "claude-sonnet-4-6", "max_tokens": 20, "messages": USER}, (9, 3)),
    Road(
        "native messages stream",
        "/v1/messages",
        {"model": "claude-sonnet-4-6", "max_tokens": 20, "messages": USER, "stream": True},
        (9, 3),
    ),
    Road("ollama chat", "/api/chat", {"model": "gpt-4o-mini", "messages": USER, "stream": False}, (9, 3)),
    Road("ollama chat stream", "/api/chat", {"model": "gpt-4o-mini", "messages": USER}, (9, 3)),
    Road("ollama generate", "/api/generate", {"model": "gpt-4o-mini", "prompt": "Hi", "stream": False}, (9, 3)),
    Road("ollama generate stream", "/api/generate", {"model": "gpt-4o-mini", "prompt": "Hi"}, (9, 3)),
    Road("completions", "/v1/completions", {"model": "gpt-4o-mini", "prompt": "Hi"}, (9, 3)),
    Road("completions stream", "/v1/completions", {"model": "gpt-4o-mini", "prompt": "Hi", "stream": True}, (9, 3)),
    Road("native completions", "/v1/completions", {"model": INSTRUCT, "prompt": "Hi"}, (5, 2)),
    Road(
        "native completions stream",
        "/v1/completions",
        {"model": INSTRUCT, "prompt": "Hi", "stream": True, "stream_options": {"include_usage": True}},
        (5, 2),
    ),
    Road("embeddings", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "Hi"}, (2, 0)),
]
STREAMED = [road for road in ROADS if road.streams]


@pytest.fixture
def roads_gateway(make_gateway: GatewayFactory, anthropic_upstream: FakeAnthropic) -> Any:
    def build(*hooks: Hook) -> RunningApp:
        return make_gateway(
            NATIVE_RESPONSES,
            env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url},
            hooks=hooks,
        )

    return build


def _post(gateway: RunningApp, road: Road, upstream: FakeOpenAI) -> httpx.Response:
    upstream.script(*road.replies)
    answer = httpx.post(
        gateway.url + road.path, json=road.body, timeout=10, headers={"anthropic-version": "2023-06-01"}
    )
    assert answer.status_code == 200, answer.text
    return answer


@pytest.mark.parametrize("road", ROADS, ids=[road.name for road in ROADS])
def test_on_complete_has_the_upstreams_usage_on_every_road(
    roads_gateway: Any, upstream: FakeOpenAI, road: Road
) -> None:
    observer = TypedObserver() if road.typed else Observer()
    _post(roads_gateway(observer), road, upstream)
    assert eventually(lambda: bool(observer.completions))
    (completion,) = observer.completions
    assert completion.status == 200 and completion.error_code is None
    assert completion.usage is not None, f"{road.name}: no usage in on_complete"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == road.usage


@pytest.mark.parametrize("road", STREAMED, ids=[road.name for road in STREAMED])
def test_each_streamed_piece_is_shown_as_it_goes_to_the_client(
    roads_gateway: Any, upstream: FakeOpenAI, road: Road
) -> None:
    observer = TypedObserver() if road.typed else Observer()
    answer = _post(roads_gateway(Broken(), observer), road, upstream)  # a hook that raises breaks nothing
    assert observer.chunks
    assert b"".join(observer.chunks) == answer.content  # every byte the client got, in order


UNASKED = [road for road in ROADS if road.body.get("stream_options")]


@pytest.mark.parametrize("road", UNASKED, ids=[road.name for road in UNASKED])
def test_usage_reaches_on_complete_when_the_client_did_not_ask_for_it(
    roads_gateway: Any, upstream: FakeOpenAI, road: Road
) -> None:
    """The gateway asks the upstream for usage anyway (accounting needs it) and hides it from a
    client that did not ask: no usage chunk, no `"usage":null` in its chunks."""
    observer = TypedObserver() if road.typed else Observer()
    body = {name: value for name, value in road.body.items() if name != "stream_options"}
    answer = _post(roads_gateway(observer), Road(road.name, road.path, body, road.usage, road.typed), upstream)
    assert eventually(lambda: bool(observer.completions))
    assert observer.completions[0].usage is not None
    assert b'"usage"' not in answer.content
    assert upstream.received[-1].json["stream_options"] == {"include_usage": True}


def test_a_stream_that_fails_midway_shows_its_error_event_too(roads_gateway: Any, upstream: FakeOpenAI) -> None:
    observer = Observer()
    gateway = roads_gateway(observer)
    upstream.script(Reply(stream=text_stream(["Hel", "lo"]), drop_after=2))  # type: ignore[arg-type]
    answer = httpx.post(gateway.url + "/v1/chat/completions", json=_chat(True), timeout=10)
    assert b'"error"' in answer.content
    assert b"".join(observer.chunks) == answer.content
    assert b'"error"' in observer.chunks[-1]


def test_an_observing_hook_keeps_chat_on_the_byte_forwarding_road(
    roads_gateway: Any, upstream: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def typed_road(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an observing hook took chat off the fast path")

    monkeypatch.setattr(chat_completions, "request_from_wire", typed_road)
    observer = Observer()
    assert not observer.needs_typed_request and observer.observes_chunks
    answer = _post(roads_gateway(observer), ROADS[1], upstream)
    assert b"".join(observer.chunks) == answer.content


def test_streams_are_not_wrapped_when_no_hook_looks_at_them(
    roads_gateway: Any, upstream: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrapped: list[RequestContext] = []

    def spy(frames: AsyncIterator[bytes], hooks: Any, context: RequestContext) -> AsyncIterator[bytes]:
        wrapped.append(context)
        return hooks_module.observed(frames, hooks, context)

    monkeypatch.setattr(pipeline, "observed", spy)
    hook = CompletionsOnly()
    assert not hook.observes_chunks
    gateway = roads_gateway(hook)
    for road in STREAMED:
        _post(gateway, road, upstream)
    assert eventually(lambda: len(hook.completions) == len(STREAMED))
    assert wrapped == []
    # The spy does see a stream when a hook looks: it is the one place streams are wrapped.
    _post(roads_gateway(Observer()), ROADS[1], upstream)
    assert len(wrapped) == 1


def test_the_responses_websocket_shows_each_event_it_sends(roads_gateway: Any) -> None:
    observer = Observer()
    gateway = roads_gateway(Broken(), observer)
    sent: list[bytes] = []
    with connect(gateway.url.replace("http://", "ws://") + "/v1/responses", open_timeout=5) as ws:
        ws.send(json.dumps({"type": "response.create", "model": "gpt-4o-mini", "input": "Hi", "store": False}))
        while True:
            text = ws.recv(timeout=10)
            assert isinstance(text, str)
            sent.append(text.encode())
            if json.loads(text)["type"] == "response.completed":
                break
        assert eventually(lambda: bool(observer.completions))
    assert observer.chunks == sent
    (completion,) = observer.completions
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (9, 3)
