"""OpenAIProvider and the fast-path relay (providers/openai/provider.py, relay.py) over a stub client.

The stub stands in for `UpstreamClient.send` and aiohttp's response, so nothing touches a socket.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, cast

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from babelgate.config import ProviderConfig, ServerConfig
from babelgate.errors import UpstreamAuthFailed, UpstreamError, UpstreamProtocolError, UpstreamRateLimited
from babelgate.http import Timeouts, UpstreamClient
from babelgate.providers import build_provider
from babelgate.providers.base import CallNotes
from babelgate.providers.openai.provider import OpenAIProvider
from babelgate.providers.openai.translate import request_from_wire, usage_from_wire
from babelgate.schema.chat import Usage
from babelgate.schema.chunks import ChatChunk
from tests.unit.stream_builder import OpenAIStream

KEY_A = "sk-test-key-A-0123456789"
KEY_B = "sk-test-key-B-0123456789"


class StubResponse:
    """What providers use of `babelgate.http.UpstreamResponse`."""

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        *,
        pieces: list[bytes] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self._body = body
        self._pieces = list(pieces if pieces is not None else [body])
        self.headers = CIMultiDictProxy(CIMultiDict(headers or {}))
        self.closed = False
        self.released = False

    def read_now(self) -> bytes | None:
        return None  # as an answer whose body is still on its way: `read` is awaited

    async def read(self) -> bytes:
        return self._body

    async def readany(self) -> bytes:
        return self._pieces.pop(0) if self._pieces else b""

    def at_eof(self) -> bool:
        return not self._pieces

    def close(self) -> None:
        self.closed = True

    def release(self) -> None:
        self.released = True


class StubClient:
    def __init__(self, *responses: StubResponse) -> None:
        self.responses = list(responses)
        self.sent: list[dict[str, Any]] = []

    async def send(
        self,
        method: str,
        url: str,
        *,
        provider: str,
        headers: dict[str, str],
        body: bytes | None,
        timeouts: Timeouts,
        lines: str = "",
    ) -> StubResponse:
        assert not lines  # OpenAI's requests carry no header lines of their own (a signature's)
        self.sent.append(
            {
                "method": method,
                "url": url,
                "provider": provider,
                "headers": headers,
                "json": orjson.loads(body) if body else None,
                "timeouts": timeouts,
            }
        )
        return self.responses.pop(0)


def provider(client: StubClient, **config: Any) -> OpenAIProvider:
    settings = {"base_url": "https://api.openai.com/v1", "api_keys": [KEY_A], **config}
    built = build_provider(
        "openai", ProviderConfig.model_validate(settings), ServerConfig(), cast(UpstreamClient, client)
    )
    assert isinstance(built, OpenAIProvider)
    return built


COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "o3-2025-04-16",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5},
}


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "public", "messages": [{"role": "user", "content": "hi"}], **fields}


async def collect(frames: AsyncIterator[Any]) -> list[Any]:
    return [frame async for frame in frames]


async def test_relay_chat_rewrites_model_applies_the_profile_and_returns_exact_bytes() -> None:
    raw = orjson.dumps(COMPLETION) + b"\n"
    client = StubClient(StubResponse(200, raw))
    notes = CallNotes()
    answer = await provider(client, headers={"OpenAI-Organization": "org-1"}).relay(
        "chat", body(max_tokens=10), "o3", notes
    )
    assert answer == raw
    sent = client.sent[0]
    assert (sent["method"], sent["url"], sent["provider"]) == (
        "POST",
        "https://api.openai.com/v1/chat/completions",
        "openai",
    )
    assert sent["headers"] == {
        "Content-Type": "application/json",
        "OpenAI-Organization": "org-1",
        "Authorization": f"Bearer {KEY_A}",
    }
    assert sent["json"] == {"model": "o3", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 10}
    assert notes.adjusted == ["max_tokens=renamed:max_completion_tokens"]
    assert notes.usage == Usage(4, 1, 5)


async def test_keys_are_used_in_turn() -> None:
    client = StubClient(*(StubResponse(200, orjson.dumps(COMPLETION)) for _ in range(3)))
    chosen = provider(client, api_keys=[KEY_A, KEY_B])
    for _ in range(3):
        await chosen.relay("chat", body(), "gpt-4o", CallNotes())
    assert [s["headers"]["Authorization"] for s in client.sent] == [
        f"Bearer {KEY_A}",
        f"Bearer {KEY_B}",
        f"Bearer {KEY_A}",
    ]


async def test_no_key_sends_no_authorization() -> None:
    client = StubClient(StubResponse(200, orjson.dumps(COMPLETION)))
    ollama = provider(client, base_url="http://127.0.0.1:11434/v1", api_keys=[])
    await ollama.relay("chat", body(), "llama3", CallNotes())
    assert client.sent[0]["headers"] == {"Content-Type": "application/json"}


async def test_error_status_is_mapped_and_secrets_are_scrubbed() -> None:
    error_body = orjson.dumps({"error": {"message": f"quota for {KEY_A} exceeded", "code": "insufficient_quota"}})
    client = StubClient(StubResponse(429, error_body, headers={"retry-after": "3"}))
    with pytest.raises(UpstreamRateLimited) as caught:
        await provider(client).relay("chat", body(), "gpt-4o", CallNotes())
    assert (caught.value.raw_message, caught.value.code, caught.value.retry_after) == (
        "quota for [redacted] exceeded",
        "insufficient_quota",
        3.0,
    )


async def test_auth_failure() -> None:
    client = StubClient(StubResponse(401, orjson.dumps({"error": {"message": f"bad key {KEY_A}"}})))
    with pytest.raises(UpstreamAuthFailed) as caught:
        await provider(client).relay("chat", body(), "gpt-4o", CallNotes())
    assert caught.value.raw_message is None


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"<html>502</html>", "the body is not JSON"),
        (b"[]", "the body is not a JSON object"),
        (b'{"object": "chat.completion"}', "the body has no choices"),
        (b'{"choices": null}', "the body has no choices"),
        (b'{"choices": "none"}', "the body has no choices"),
        # What the relay skips unparsed is still checked: a string that is not UTF-8, a choice cut short,
        # nesting deeper than a parser goes.
        (b'{"choices": [{"message": {"content": "caf\xe9"}}], "usage": null}', "the body is not JSON"),
        (b'{"choices": [{"message": {"content": "hi"}], "usage": null}', "the body is not JSON"),
        (b'{"choices": [' + b"[" * 5000 + b"]" * 5000 + b"]}", "the body is not JSON"),
        (b'{"choices": []} trailing', "the body is not JSON"),
    ],
)
async def test_relay_chat_of_a_malformed_body(raw: bytes, detail: str) -> None:
    with pytest.raises(UpstreamProtocolError) as caught:
        await provider(StubClient(StubResponse(200, raw))).relay("chat", body(), "gpt-4o", CallNotes())
    assert caught.value.params == {"provider": "openai", "detail": detail}


async def test_relay_chat_reads_the_usage_of_a_completion_in_any_script() -> None:
    """The relay reads usage without parsing the rest; the client gets the upstream's bytes, non-ASCII text
    included, and the usage is what the typed road reads."""
    completion = {
        **COMPLETION,
        "choices": [{**COMPLETION["choices"][0], "message": {"role": "assistant", "content": "Grüße, 世界 🌍"}}],
    }
    raw = orjson.dumps(completion)
    notes = CallNotes()
    assert await provider(StubClient(StubResponse(200, raw))).relay("chat", body(), "gpt-4o", notes) == raw
    assert notes.usage == usage_from_wire(COMPLETION["usage"])
    assert notes.usage is not None and notes.usage.prompt_tokens > 0


async def test_error_object_with_status_200() -> None:
    client = StubClient(StubResponse(200, b'{"error": {"message": "model overloaded"}}'))
    with pytest.raises(UpstreamError) as caught:
        await provider(client).relay("chat", body(), "gpt-4o", CallNotes())
    assert caught.value.raw_message == "model overloaded"
    assert caught.value.params == {"provider": "openai", "upstream_status": 200}


async def test_typed_chat() -> None:
    client = StubClient(StubResponse(200, orjson.dumps(COMPLETION)))
    notes = CallNotes()
    request = request_from_wire(body(max_tokens=10, store=True))
    response = await provider(client).chat(request, "gpt-4o", notes)
    assert client.sent[0]["json"] == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 10,
        "store": True,
    }
    assert response.choices[0].message.content == "hi"
    assert notes.usage == Usage(4, 1, 5)
    assert notes.adjusted == []


async def test_typed_chat_of_a_body_with_malformed_choices() -> None:
    client = StubClient(StubResponse(200, b'{"id": "x", "choices": [null]}'))
    with pytest.raises(UpstreamProtocolError):
        await provider(client).chat(request_from_wire(body()), "gpt-4o", CallNotes())


def stream_response(data: bytes, size: int = 5) -> StubResponse:
    return StubResponse(200, pieces=[data[i : i + size] for i in range(0, len(data), size)])


async def test_relay_chat_stream_relays_every_byte_and_notes_the_end() -> None:
    stream = OpenAIStream(include_usage=True).role().text("Hi").finish().usage(4, 1).done()
    data = b": keep-alive\n\n" + stream.to_bytes()
    response = stream_response(data)
    notes = CallNotes()
    frames = await collect(
        provider(StubClient(response)).relay_stream(
            "chat", body(stream=True, stream_options={"include_usage": True}), "gpt-4o", notes
        )
    )
    assert b"".join(frames) == data
    assert (notes.completed, notes.finish_reason, notes.usage) == (True, "stop", Usage(4, 1, 5))
    assert response.released and not response.closed


async def test_relay_chat_stream_asks_for_usage_and_hides_it_from_a_client_that_did_not() -> None:
    stream = OpenAIStream(include_usage=True).role().text("Hi").finish().usage(4, 1).done()
    client = StubClient(stream_response(stream.to_bytes()))
    notes = CallNotes()
    sent = body(stream=True)
    frames = b"".join(await collect(provider(client).relay_stream("chat", sent, "gpt-4o", notes)))
    assert sent["stream_options"] == {"include_usage": True}  # what went upstream
    assert b'"usage"' not in frames and b'"Hi"' in frames and frames.endswith(b"data: [DONE]\n\n")
    assert notes.usage == Usage(4, 1, 5)
    without = OpenAIStream().role().text("Hi").finish().done().to_bytes()
    assert frames == without  # byte for byte the stream the client would have got without asking


async def test_relay_stream_makes_its_request_on_the_first_iteration_and_none_when_closed_before() -> None:
    """The relay is handed back by a plain call (no generator of the provider's own), yet the request still leaves
    only when the stream is first read, as a generator's body would send it: a relay closed unread sends nothing."""
    stream = OpenAIStream(include_usage=True).role().text("Hi").finish().usage(4, 1).done()
    client = StubClient(stream_response(stream.to_bytes()))
    unread = provider(client).relay_stream("chat", body(stream=True), "gpt-4o", CallNotes())
    await unread.aclose()  # type: ignore[attr-defined]
    frames = provider(client).relay_stream("chat", body(stream=True), "gpt-4o", CallNotes())
    assert client.sent == []
    first = await anext(frames)
    assert len(client.sent) == 1 and first.startswith(b"data: ")
    await frames.aclose()  # type: ignore[attr-defined]


def _respaced(stream: bytes, *, usage_first: bool = False) -> bytes:
    """Each event of an OpenAI stream as another server may write it: with spaces after the separators (Python's
    `json.dumps`), or with `usage` before the other keys."""
    frames = []
    for frame in stream.split(b"\n\n")[:-1]:
        data = frame.removeprefix(b"data: ")
        if data == b"[DONE]":
            frames.append(frame)
            continue
        event = json.loads(data)
        if usage_first and "usage" in event:
            event = {"usage": event.pop("usage"), **event}
        frames.append(b"data: " + json.dumps(event).encode())
    return b"".join(frame + b"\n\n" for frame in frames)


@pytest.mark.parametrize("layout", ["openai", "spaced", "usage first"])
async def test_relay_chat_stream_hides_the_usage_it_asked_for_in_every_layout(layout: str) -> None:
    """The usual chunk's tail (`"finish_reason":null}],"usage":null}`) is cut where it is; the finish chunk, a
    spaced server's chunks and a server that writes `usage` first go the general way: each client gets the stream
    it would have got without the gateway's asking, byte for byte (a `usage` first in its object stays: it has no
    comma before it to cut with it)."""
    asked = OpenAIStream(include_usage=True).role().text("Hi", "there").finish("length").usage(4, 2).done().to_bytes()
    plain = OpenAIStream().role().text("Hi", "there").finish("length").done().to_bytes()
    if layout == "spaced":
        asked, plain = _respaced(asked), _respaced(plain)
    elif layout == "usage first":
        asked, plain = _respaced(asked, usage_first=True), _respaced(plain)
    client = StubClient(stream_response(asked, 7))
    notes = CallNotes()
    frames = b"".join(await collect(provider(client).relay_stream("chat", body(stream=True), "gpt-4o", notes)))
    if layout == "usage first":  # `"usage": null` first in its object is left; the usage chunk is not relayed
        assert frames.count(b'"usage": null') == 4  # role, two texts, finish
        assert frames.replace(b'"usage": null, ', b"") == plain
    else:
        assert frames == plain
    assert (notes.finish_reason, notes.usage, notes.completed) == ("length", Usage(4, 2, 6), True)


async def test_relay_chat_stream_normalises_crlf_frames() -> None:
    stream = OpenAIStream().role().finish().done()
    frames = await collect(
        provider(StubClient(stream_response(stream.to_bytes(b"\r\n"), 3))).relay_stream(
            "chat", body(stream=True), "gpt-4o", CallNotes()
        )
    )
    assert b"".join(frames) == stream.to_bytes()


async def test_relay_chat_stream_without_done_after_a_finish_reason_is_ended_for_the_client() -> None:
    stream = OpenAIStream().role().text("x").finish("length")
    notes = CallNotes()
    frames = await collect(
        provider(StubClient(stream_response(stream.to_bytes()))).relay_stream(
            "chat", body(stream=True), "gpt-4o", notes
        )
    )
    assert b"".join(frames) == stream.to_bytes() + b"data: [DONE]\n\n"
    assert (notes.completed, notes.finish_reason) == (True, "length")


async def test_relay_chat_stream_cut_before_the_end_raises_stream_interrupted() -> None:
    stream = OpenAIStream().role().text("partial")
    relayed: list[bytes] = []
    notes = CallNotes()
    with pytest.raises(UpstreamProtocolError) as caught:
        async for frame in provider(StubClient(stream_response(stream.to_bytes()))).relay_stream(
            "chat", body(stream=True), "gpt-4o", notes
        ):
            relayed.append(frame)
    assert caught.value.message_key == "stream_interrupted"
    assert b"".join(relayed) == stream.to_bytes()
    assert notes.completed is False


async def test_relay_chat_stream_error_mid_stream_relays_what_came_before_then_raises() -> None:
    stream = OpenAIStream().role().text("partial").error(f"boom {KEY_A}").done()
    relayed: list[bytes] = []
    with pytest.raises(UpstreamError) as caught:
        async for frame in provider(StubClient(StubResponse(200, pieces=[stream.to_bytes()]))).relay_stream(
            "chat", body(stream=True), "gpt-4o", CallNotes()
        ):
            relayed.append(frame)
    assert caught.value.raw_message == "boom [redacted]"
    assert b"".join(relayed) == OpenAIStream().role().text("partial").to_bytes()


async def test_typed_stream() -> None:
    stream = OpenAIStream(include_usage=True).role().text("Hi").finish().usage(4, 1).done()
    response = stream_response(stream.to_bytes(), 7)
    client = StubClient(response)
    notes = CallNotes()
    request = request_from_wire(body(stream=True, stream_options={"include_usage": True}))
    chunks: list[ChatChunk] = await collect(provider(client).stream(request, "gpt-4o", notes))
    assert client.sent[0]["json"]["stream_options"] == {"include_usage": True}
    assert [c.choices[0].delta.content for c in chunks[:-1]] == ["", "Hi", None]
    assert chunks[-1].usage == Usage(4, 1, 5)
    assert (notes.completed, notes.finish_reason, notes.usage) == (True, "stop", Usage(4, 1, 5))


async def test_typed_stream_cut_before_the_end() -> None:
    stream = OpenAIStream().role().text("x")
    notes = CallNotes()
    with pytest.raises(UpstreamProtocolError) as caught:
        await collect(
            provider(StubClient(stream_response(stream.to_bytes()))).stream(
                request_from_wire(body(stream=True)), "gpt-4o", notes
            )
        )
    assert caught.value.message_key == "stream_interrupted"
    assert notes.completed is False


async def test_list_models() -> None:
    listing = {
        "object": "list",
        "data": [
            {"id": "gpt-4o", "object": "model", "created": 5, "owned_by": "system"},
            {"id": "llama3", "object": "model"},
            {"object": "model"},
            "junk",
        ],
    }
    client = StubClient(StubResponse(200, orjson.dumps(listing)))
    models = await provider(client).list_models()
    assert [(m.id, m.owned_by, m.created) for m in models] == [("gpt-4o", "system", 5), ("llama3", "openai", 0)]
    assert (client.sent[0]["method"], client.sent[0]["url"], client.sent[0]["json"]) == (
        "GET",
        "https://api.openai.com/v1/models",
        None,
    )
