"""Streams that go wrong after the first byte end with an error event, never a quiet success."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, Reply, chunk, text_stream
from tests.fakes.servers import RunningApp

USER = [{"role": "user", "content": "Hi"}]
STREAM_BODY = {"model": "gpt-4o", "messages": USER, "stream": True}


def _collect(client: openai.OpenAI) -> tuple[str, BaseException | None]:
    text = ""
    try:
        for piece in client.chat.completions.create(model="gpt-4o", messages=USER, stream=True):  # type: ignore[arg-type]
            if piece.choices:
                text += piece.choices[0].delta.content or ""
    except openai.APIError as error:
        return text, error
    return text, None


def test_upstream_dropping_mid_stream_raises_in_the_sdk(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=text_stream(["a", "b", "c", "d"]), drop_after=3))  # type: ignore[arg-type]
    text, error = _collect(client)
    assert text == "ab"
    assert isinstance(error, openai.APIError)
    assert "ended before it was complete" in error.message or "malformed" in error.message


def test_upstream_error_event_mid_stream_raises_in_the_sdk(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    events = [*text_stream(["a"])[:2], {"error": {"message": "The server had an error", "type": "server_error"}}]
    upstream.script(Reply(stream=events, done=False))  # type: ignore[arg-type]
    text, error = _collect(client)
    assert text == "a"
    assert isinstance(error, openai.APIError) and error.message == "The server had an error"


def test_stream_without_done_or_finish_is_an_error(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=text_stream(["a", "b"])[:3], done=False))  # type: ignore[arg-type]
    text, error = _collect(client)
    assert text == "ab"
    assert isinstance(error, openai.APIError)


def test_stream_with_finish_reason_but_no_done_ends_cleanly(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=text_stream(["a"]), done=False))  # type: ignore[arg-type]
    response = httpx.post(gateway.url + "/v1/chat/completions", json=STREAM_BODY, timeout=10)
    assert response.text.endswith("data: [DONE]\n\n")
    assert '"error"' not in response.text


def test_stall_between_chunks_times_out_with_an_error_event(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(env={"BABELGATE_UPSTREAM_TIMEOUT": "0.5"})
    upstream.script(Reply(stream=text_stream(["a", "b", "c"]), stall_after=2))  # type: ignore[arg-type]
    started = time.monotonic()
    response = httpx.post(gateway.url + "/v1/chat/completions", json=STREAM_BODY, timeout=10)
    assert time.monotonic() - started < 5
    assert response.status_code == 200
    assert response.text.rstrip().endswith('"code":"upstream_timeout"}}')
    assert "[DONE]" not in response.text


def test_error_before_the_first_byte_is_a_plain_http_error(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(status=503, json={"error": {"message": "overloaded", "type": "server_error"}}))
    response = httpx.post(gateway.url + "/v1/chat/completions", json=STREAM_BODY, timeout=10)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"


def test_client_disconnect_closes_the_upstream_connection(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    endless = [chunk({"content": f"{i} "}) for i in range(400)]
    upstream.script(Reply(stream=endless, chunk_delay=0.05))  # type: ignore[arg-type]
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=STREAM_BODY, timeout=10) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        closed_by_client = time.monotonic()
    deadline = closed_by_client + 2
    while upstream.stream_closed_at is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert upstream.stream_closed_at is not None, "upstream never saw its connection closed"
    assert upstream.stream_closed_at - closed_by_client < 2


@pytest.mark.parametrize("include_usage", [True, False])
def test_usage_chunk_only_when_asked(gateway: RunningApp, include_usage: bool) -> None:
    body = {**STREAM_BODY, "stream_options": {"include_usage": include_usage}}
    text = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10).text
    assert ('"choices":[]' in text) is include_usage
