"""Golden tests of Anthropic stream events → canonical chunks (providers/anthropic/stream.py).

Streams are complete event sequences in the order the Messages API sends them (each payload is
checked against the SDK's `RawMessageStreamEvent` union, so the fixtures cannot drift from the
real shapes); the chunks are compared whole, then encoded by the OpenAI frontend and validated
with openai's `ChatCompletionChunk` as an end-to-end check.
"""

from __future__ import annotations

from typing import Any, Self

import orjson
import pydantic
import pytest
from anthropic.types import RawMessageStreamEvent
from openai.types.chat import ChatCompletionChunk

from babelgate.errors import (
    GatewayError,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from babelgate.frontends.openai_chat.stream import OpenAIChatStreamEncoder
from babelgate.i18n import render_message
from babelgate.observability.logging import Scrubber
from babelgate.providers.anthropic.stream import AnthropicStreamTranslator
from babelgate.schema.chat import Usage
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta, ToolCallDelta
from babelgate.streaming import SSE_DONE, SSEEvent

JSON = dict[str, Any]
MSG_ID = "msg_01TkRVAC4QmDkRdX6jFrpAcR"
MODEL = "claude-sonnet-4-5-20250929"
CREATED = 1_700_000_000
JSON_TOOL = "babelgate_json_output"
SECRET = "sk-ant-api03-very-secret-value"
SCRUB = Scrubber([SECRET])
_EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RawMessageStreamEvent)


class AnthropicEvents:
    """Builds an Anthropic SSE event sequence (`event:` name = payload `type`)."""

    def __init__(self) -> None:
        self.events: list[SSEEvent] = []

    def payload(self, payload: JSON, *, checked: bool = True) -> Self:
        if checked:
            _EVENTS.validate_python(payload)  # the fixture has the API's shape
        self.events.append(SSEEvent(data=orjson.dumps(payload).decode(), event=str(payload.get("type"))))
        return self

    def raw(self, data: str, event: str | None = None) -> Self:
        self.events.append(SSEEvent(data=data, event=event))
        return self

    def start(self, usage: JSON | None = None) -> Self:
        return self.payload(
            {
                "type": "message_start",
                "message": {
                    "id": MSG_ID,
                    "type": "message",
                    "role": "assistant",
                    "model": MODEL,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": usage or {"input_tokens": 25, "output_tokens": 1},
                },
            }
        )

    def block_start(self, index: int, block: JSON) -> Self:
        return self.payload({"type": "content_block_start", "index": index, "content_block": block})

    def delta(self, index: int, delta: JSON) -> Self:
        return self.payload({"type": "content_block_delta", "index": index, "delta": delta})

    def block_stop(self, index: int) -> Self:
        return self.payload({"type": "content_block_stop", "index": index})

    def text(self, index: int, *pieces: str) -> Self:
        self.block_start(index, {"type": "text", "text": ""})
        for piece in pieces:
            self.delta(index, {"type": "text_delta", "text": piece})
        return self.block_stop(index)

    def tool(self, index: int, call_id: str, name: str, *fragments: str) -> Self:
        self.block_start(index, {"type": "tool_use", "id": call_id, "name": name, "input": {}})
        for fragment in fragments:
            self.delta(index, {"type": "input_json_delta", "partial_json": fragment})
        return self.block_stop(index)

    def thinking(self, index: int, pieces: list[str], signature: list[str]) -> Self:
        self.block_start(index, {"type": "thinking", "thinking": "", "signature": ""})
        for piece in pieces:
            self.delta(index, {"type": "thinking_delta", "thinking": piece})
        for part in signature:
            self.delta(index, {"type": "signature_delta", "signature": part})
        return self.block_stop(index)

    def finish(self, stop_reason: str | None, usage: JSON | None = None) -> Self:
        return self.payload(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": usage or {"output_tokens": 12},
            }
        )

    def stop(self) -> Self:
        return self.payload({"type": "message_stop"})

    def ping(self) -> Self:
        return self.payload({"type": "ping"}, checked=False)

    def error(self, kind: str, message: str) -> Self:
        return self.payload({"type": "error", "error": {"type": kind, "message": message}}, checked=False)


def translator(json_tool: str | None = None) -> AnthropicStreamTranslator:
    return AnthropicStreamTranslator("anthropic", created=CREATED, json_tool=json_tool, scrub=SCRUB)


def run(events: AnthropicEvents, stream: AnthropicStreamTranslator | None = None) -> list[ChatChunk]:
    stream = stream or translator()
    return [chunk for event in events.events for chunk in stream.feed(event)]


def chunk(delta: Delta, finish: Any = None) -> ChatChunk:
    return ChatChunk(
        id=MSG_ID, created=CREATED, model=MODEL, choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish)]
    )


def usage_chunk(usage: Usage) -> ChatChunk:
    return ChatChunk(id=MSG_ID, created=CREATED, model=MODEL, choices=[], usage=usage)


ROLE = chunk(Delta(role="assistant", content=""))


def encoded(chunks: list[ChatChunk]) -> list[JSON]:
    """The chunks as an OpenAI client receives them (include_usage on), each validated by openai."""
    encoder = OpenAIChatStreamEncoder(include_usage=True)
    stream = b"".join(encoder.feed(item) for item in chunks) + encoder.finish()
    assert stream.endswith(SSE_DONE)
    frames = stream[: -len(SSE_DONE)].split(b"\n\n")
    assert frames.pop() == b""
    payloads = []
    for frame in frames:
        assert frame.startswith(b"data: ")
        payload = orjson.loads(frame[len(b"data: ") :])
        ChatCompletionChunk.model_validate(payload)
        payloads.append(payload)
    return payloads


def openai_chunk(delta: JSON, finish: str | None = None) -> JSON:
    return {
        "id": MSG_ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        "usage": None,
    }


# --- complete streams ----------------------------------------------------------------------------


def test_text_stream() -> None:
    stream = translator()
    events = (
        AnthropicEvents()
        .start(
            {"input_tokens": 25, "output_tokens": 1, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 10}
        )
        .ping()
        .text(0, "Hello", " world")
        .finish("end_turn", {"output_tokens": 12})
        .stop()
    )
    chunks = run(events, stream)
    usage = Usage(prompt_tokens=135, completion_tokens=12, total_tokens=147, cached_tokens=100, cache_write_tokens=10)
    assert chunks == [
        ROLE,
        chunk(Delta(content="Hello")),
        chunk(Delta(content=" world")),
        chunk(Delta(), "stop"),
        usage_chunk(usage),
    ]
    assert (stream.done, stream.finish_reason, stream.usage()) == (True, "stop", usage)
    assert encoded(chunks) == [
        openai_chunk({"role": "assistant", "content": ""}),
        openai_chunk({"content": "Hello"}),
        openai_chunk({"content": " world"}),
        openai_chunk({}, "stop"),
        {
            "id": MSG_ID,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": MODEL,
            "choices": [],
            "usage": {
                "prompt_tokens": 135,
                "completion_tokens": 12,
                "total_tokens": 147,
                "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 10},
            },
        },
    ]


def test_stream_is_not_done_before_message_stop() -> None:
    stream = translator()
    run(AnthropicEvents().start().text(0, "Hi").finish("end_turn"), stream)
    assert (stream.done, stream.finish_reason) == (False, "stop")


def test_text_already_in_content_block_start_is_sent() -> None:
    chunks = run(
        AnthropicEvents()
        .start()
        .block_start(0, {"type": "text", "text": "Hi"})
        .delta(0, {"type": "text_delta", "text": "!"})
        .block_stop(0)
    )
    assert chunks == [ROLE, chunk(Delta(content="Hi")), chunk(Delta(content="!"))]


def test_parallel_tool_calls_after_a_text_block_are_numbered_by_call() -> None:
    stream = translator()
    events = (
        AnthropicEvents()
        .start()
        .text(0, "I'll check both.")
        .tool(1, "toolu_01A", "get_weather", "", '{"city":', ' "Paris"}')
        .tool(2, "toolu_01B", "get_time", '{"tz": "CET"}')
        .finish("tool_use", {"output_tokens": 40})
        .stop()
    )
    chunks = run(events, stream)
    assert chunks == [
        ROLE,
        chunk(Delta(content="I'll check both.")),
        chunk(
            Delta(
                tool_calls=[ToolCallDelta(index=0, id="toolu_01A", name="get_weather", arguments="", type="function")]
            )
        ),
        chunk(Delta(tool_calls=[ToolCallDelta(index=0, arguments='{"city":')])),
        chunk(Delta(tool_calls=[ToolCallDelta(index=0, arguments=' "Paris"}')])),
        chunk(
            Delta(tool_calls=[ToolCallDelta(index=1, id="toolu_01B", name="get_time", arguments="", type="function")])
        ),
        chunk(Delta(tool_calls=[ToolCallDelta(index=1, arguments='{"tz": "CET"}')])),
        chunk(Delta(), "tool_calls"),
        usage_chunk(Usage(prompt_tokens=25, completion_tokens=40, total_tokens=65, cached_tokens=0)),
    ]
    assert stream.tool_call_ids == ["toolu_01A", "toolu_01B"]
    assert stream.thinking_details == []
    assert encoded(chunks)[2:8] == [
        openai_chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "toolu_01A",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "Paris"}'}}]}),
        openai_chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "toolu_01B",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": ""},
                    }
                ]
            }
        ),
        openai_chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"tz": "CET"}'}}]}),
        openai_chunk({}, "tool_calls"),
    ]


def test_signed_thinking_streams_as_reasoning_then_reasoning_details() -> None:
    stream = translator()
    events = (
        AnthropicEvents()
        .start()
        .thinking(0, ["Let me think", " about it."], ["EqQBCgIYAhIM", "1gbcDa9GJwZA"])
        .block_start(1, {"type": "redacted_thinking", "data": "EmwKAhgBEgy"})
        .block_stop(1)
        .text(2, "42.")
        .finish("end_turn", {"output_tokens": 50, "output_tokens_details": {"thinking_tokens": 30}})
        .stop()
    )
    chunks = run(events, stream)
    thinking_detail = {
        "type": "reasoning.text",
        "text": "Let me think about it.",
        "signature": "EqQBCgIYAhIM1gbcDa9GJwZA",
        "format": "anthropic-claude-v1",
    }
    redacted_detail = {"type": "reasoning.encrypted", "data": "EmwKAhgBEgy", "format": "anthropic-claude-v1"}
    usage = Usage(prompt_tokens=25, completion_tokens=50, total_tokens=75, cached_tokens=0, reasoning_tokens=30)
    assert chunks == [
        ROLE,
        chunk(Delta(reasoning_content="Let me think")),
        chunk(Delta(reasoning_content=" about it.")),
        chunk(Delta(extra={"reasoning_details": [thinking_detail]})),
        chunk(Delta(extra={"reasoning_details": [redacted_detail]})),
        chunk(Delta(content="42.")),
        chunk(Delta(), "stop"),
        usage_chunk(usage),
    ]
    assert stream.thinking_details == [thinking_detail, redacted_detail]
    wire = encoded(chunks)
    assert wire[1:5] == [
        openai_chunk({"reasoning_content": "Let me think"}),
        openai_chunk({"reasoning_content": " about it."}),
        openai_chunk({"reasoning_details": [thinking_detail]}),
        openai_chunk({"reasoning_details": [redacted_detail]}),
    ]
    assert wire[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 30}


def test_thinking_without_a_signature_sends_no_details() -> None:
    chunks = run(AnthropicEvents().start().thinking(0, ["hmm"], []))
    assert chunks == [ROLE, chunk(Delta(reasoning_content="hmm"))]


def test_the_json_tool_streams_as_content() -> None:
    stream = translator(json_tool=JSON_TOOL)
    events = AnthropicEvents().start().tool(0, "toolu_j", JSON_TOOL, "", '{"answer":', " 42}").finish("tool_use").stop()
    chunks = run(events, stream)
    assert chunks == [
        ROLE,
        chunk(Delta(content='{"answer":')),
        chunk(Delta(content=" 42}")),
        chunk(Delta(), "stop"),
        usage_chunk(Usage(prompt_tokens=25, completion_tokens=12, total_tokens=37, cached_tokens=0)),
    ]
    assert stream.tool_call_ids == []
    encoded(chunks)


def test_ping_unknown_events_and_unknown_deltas_are_ignored() -> None:
    events = (
        AnthropicEvents()
        .ping()
        .start()
        .ping()
        .payload({"type": "content_block_hologram", "index": 0}, checked=False)
        .block_start(0, {"type": "text", "text": ""})
        .delta(
            0,
            {
                "type": "citations_delta",
                "citation": {
                    "type": "char_location",
                    "cited_text": "x",
                    "document_index": 0,
                    "document_title": None,
                    "start_char_index": 0,
                    "end_char_index": 1,
                    "file_id": None,
                },
            },
        )
        .payload({"type": "content_block_delta", "index": 0, "delta": {"type": "sparkle_delta"}}, checked=False)
        .block_stop(0)
    )
    assert run(events) == [ROLE]


def test_usage_from_message_start_combines_with_output_tokens_from_message_delta() -> None:
    stream = translator()
    run(
        AnthropicEvents()
        .start(
            {
                "input_tokens": 13,
                "output_tokens": 1,
                "cache_read_input_tokens": 22000,
                "cache_creation_input_tokens": 31,
            }
        )
        .text(0, "ok")
        .finish("end_turn", {"output_tokens": 4})
        .stop(),
        stream,
    )
    assert stream.usage() == Usage(
        prompt_tokens=22044, completion_tokens=4, total_tokens=22048, cached_tokens=22000, cache_write_tokens=31
    )


def test_counts_repeated_in_message_delta_win() -> None:
    stream = translator()
    run(
        AnthropicEvents()
        .start({"input_tokens": 13, "output_tokens": 1})
        .text(0, "ok")
        .finish("end_turn", {"input_tokens": 15, "cache_read_input_tokens": 5, "output_tokens": 4})
        .stop(),
        stream,
    )
    assert stream.usage() == Usage(prompt_tokens=20, completion_tokens=4, total_tokens=24, cached_tokens=5)


def test_null_counts_in_message_delta_keep_message_starts_counts() -> None:
    stream = translator()
    run(
        AnthropicEvents()
        .start(
            {
                "input_tokens": 13,
                "output_tokens": 1,
                "cache_read_input_tokens": 22000,
                "cache_creation_input_tokens": 31,
            }
        )
        .text(0, "ok")
        .finish(
            "end_turn",
            {
                "input_tokens": None,
                "output_tokens": 4,
                "cache_read_input_tokens": None,
                "cache_creation_input_tokens": None,
            },
        )
        .stop(),
        stream,
    )
    assert stream.usage() == Usage(
        prompt_tokens=22044, completion_tokens=4, total_tokens=22048, cached_tokens=22000, cache_write_tokens=31
    )


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "cls", "status", "code", "raw"),
    [
        ("overloaded_error", UpstreamUnavailable, 503, "upstream_unavailable", False),
        ("rate_limit_error", UpstreamRateLimited, 429, "rate_limit_exceeded", True),
        ("invalid_request_error", UpstreamRejected, 400, None, True),
        ("request_too_large", UpstreamRejected, 413, None, True),
        ("not_found_error", UpstreamRejected, 404, None, True),
        ("billing_error", UpstreamRejected, 402, None, True),
        ("authentication_error", UpstreamAuthFailed, 401, "upstream_authentication_error", False),
        ("timeout_error", UpstreamTimeout, 504, "upstream_timeout", False),
        ("api_error", UpstreamError, 502, "upstream_error", True),
        ("brand_new_error", UpstreamError, 502, "upstream_error", True),
    ],
)
def test_an_error_event_raises_the_mapped_error(
    kind: str, cls: type[GatewayError], status: int, code: str | None, raw: bool
) -> None:
    stream = translator()
    events = AnthropicEvents().start().text(0, "partial").error(kind, f"Trouble with key {SECRET}.")
    with pytest.raises(GatewayError) as caught:
        run(events, stream)
    error = caught.value
    assert type(error) is cls
    assert (error.status, error.code) == (status, code)
    assert error.raw_message == ("Trouble with key [redacted]." if raw else None)
    assert SECRET not in render_message(error)
    assert stream.done is False


def test_an_overloaded_error_event_names_the_provider() -> None:
    with pytest.raises(UpstreamUnavailable) as caught:
        run(AnthropicEvents().error("overloaded_error", "Overloaded"))
    assert render_message(caught.value) == "Provider 'anthropic' is temporarily unavailable; try again later."
    assert caught.value.retryable is True


def test_a_permission_error_event_keeps_403() -> None:
    with pytest.raises(UpstreamAuthFailed) as caught:
        run(AnthropicEvents().error("permission_error", "no access"))
    assert (caught.value.status, caught.value.type) == (403, "permission_error")


# --- malformed streams ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "detail"),
    [
        (AnthropicEvents().raw("{not json", "message_start"), "a stream event is not JSON"),
        (AnthropicEvents().raw("[1, 2]", "message_start"), "a stream event is not an object"),
        (AnthropicEvents().raw('{"type": "message_start"}', "message_start"), "a stream event has the wrong shape"),
        (AnthropicEvents().raw('{"type": "message_start", "message": "msg"}'), "a stream event has the wrong shape"),
        (
            AnthropicEvents()
            .start()
            .raw('{"type": "content_block_delta", "index": 3, "delta": {"type": "text_delta", "text": "x"}}'),
            "a stream event has the wrong shape",
        ),
        (
            AnthropicEvents()
            .start()
            .raw('{"type": "content_block_start", "index": "zero", "content_block": {"type": "text", "text": ""}}'),
            "a stream event has the wrong shape",
        ),
        (
            AnthropicEvents().start().raw('{"type": "content_block_start", "index": 0, "content_block": "text"}'),
            "a stream event has the wrong shape",
        ),
        (
            AnthropicEvents()
            .start()
            .block_start(0, {"type": "text", "text": ""})
            .raw('{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}}'),
            "a stream event has the wrong shape",
        ),
        (
            AnthropicEvents()
            .start()
            .raw('{"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": "many"}}'),
            "a stream event has the wrong shape",
        ),
    ],
)
def test_malformed_events_are_protocol_errors(events: AnthropicEvents, detail: str) -> None:
    with pytest.raises(UpstreamProtocolError) as caught:
        run(events)
    assert type(caught.value) is UpstreamProtocolError
    assert (caught.value.status, caught.value.code) == (502, "upstream_protocol_error")
    assert caught.value.params == {"provider": "anthropic", "detail": detail}


def test_a_text_delta_that_is_not_a_string_is_a_protocol_error() -> None:
    events = (
        AnthropicEvents()
        .start()
        .block_start(0, {"type": "text", "text": ""})
        .raw('{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": 5}}')
    )
    with pytest.raises(UpstreamProtocolError):
        run(events)
