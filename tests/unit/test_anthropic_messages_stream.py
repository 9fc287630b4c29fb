"""Canonical chunks → Anthropic stream events (frontends/anthropic_messages/stream.py), golden: the exact
event sequence for each kind of answer, every event parsed with the SDK's own `RawMessageStreamEvent`
type, and the SDK's own accumulator folding the sequence into the final Message."""

from __future__ import annotations

from typing import Any

import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message, RawMessageStreamEvent
from anthropic.types.shared import ErrorResponse
from pydantic import TypeAdapter

from babelgate.errors import UpstreamProtocolError, UpstreamTimeout
from babelgate.frontends.anthropic_messages.stream import AnthropicMessagesStreamEncoder
from babelgate.frontends.anthropic_messages.translate import error_payload
from babelgate.schema.chat import FinishReason, Usage
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta, ToolCallDelta

JSON = dict[str, Any]
EVENT: TypeAdapter[RawMessageStreamEvent] = TypeAdapter(RawMessageStreamEvent)
USAGE = Usage(prompt_tokens=12, completion_tokens=5, total_tokens=17, cached_tokens=4)
START, PING, STOP_MESSAGE = "message_start", "ping", "message_stop"
BLOCK_START, BLOCK_DELTA, BLOCK_STOP, MESSAGE_DELTA = (
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
)


def chunk(*, finish: FinishReason | None = None, **delta: Any) -> ChatChunk:
    return ChatChunk(id="c1", created=1, model="up", choices=[ChunkChoice(0, Delta(**delta), finish)])


def usage_chunk(usage: Usage = USAGE) -> ChatChunk:
    return ChatChunk(id="c1", created=1, model="up", choices=[], usage=usage)


def calls(*deltas: ToolCallDelta, finish: FinishReason | None = None) -> ChatChunk:
    return chunk(tool_calls=list(deltas), finish=finish)


def stream(*chunks: ChatChunk) -> list[JSON]:
    encoder = AnthropicMessagesStreamEncoder("msg_1", "public", provider="openai")
    events = encoder.start_events()
    for item in chunks:
        events += encoder.events(item)
    events += encoder.finish_events()
    for event in events:
        if event["type"] == PING:
            assert event == {"type": "ping"}
        else:
            EVENT.validate_python(event)
    return events


def final(events: list[JSON]) -> Message:
    """What the SDK's `get_final_message()` makes of the sequence."""
    snapshot = None
    buffers: dict[int, bytes] = {}
    for event in events:
        if event["type"] != PING:
            snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=buffers)  # type: ignore[arg-type]
    assert snapshot is not None
    return Message.model_validate(snapshot.to_dict())


def types(events: list[JSON]) -> list[str]:
    return [event["type"] for event in events]


def test_text() -> None:
    events = stream(
        chunk(role="assistant", content=""),
        chunk(content="Hel"),
        chunk(content="lo"),
        chunk(finish="stop"),
        usage_chunk(),
    )
    assert types(events) == [
        START,
        PING,
        BLOCK_START,
        BLOCK_DELTA,
        BLOCK_DELTA,
        BLOCK_STOP,
        MESSAGE_DELTA,
        STOP_MESSAGE,
    ]
    assert events[0]["message"] == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "public",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 0,
        },
    }
    assert events[2] == {"type": BLOCK_START, "index": 0, "content_block": {"type": "text", "text": ""}}
    assert events[3] == {"type": BLOCK_DELTA, "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}
    assert events[-2] == {
        "type": MESSAGE_DELTA,
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {
            "input_tokens": 8,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 4,
            "output_tokens": 5,
        },
    }
    message = final(events)
    assert message.content[0].text == "Hello"  # type: ignore[union-attr]
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens, message.usage.output_tokens) == (8, 4, 5)


def test_tool_use_with_streamed_arguments() -> None:
    events = stream(
        chunk(role="assistant", content="Checking."),
        calls(ToolCallDelta(0, id="call_1", name="get_weather", arguments="")),
        calls(ToolCallDelta(0, arguments='{"city":')),
        calls(ToolCallDelta(0, arguments='"Paris"}')),
        chunk(finish="tool_calls"),
    )
    assert types(events) == [
        START,
        PING,
        BLOCK_START,
        BLOCK_DELTA,
        BLOCK_STOP,
        BLOCK_START,
        BLOCK_DELTA,
        BLOCK_DELTA,
        BLOCK_STOP,
        MESSAGE_DELTA,
        STOP_MESSAGE,
    ]
    assert events[5] == {
        "type": BLOCK_START,
        "index": 1,
        "content_block": {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}},
    }
    assert events[7]["delta"] == {"type": "input_json_delta", "partial_json": '"Paris"}'}
    message = final(events)
    assert message.stop_reason == "tool_use"
    assert message.content[1].input == {"city": "Paris"}  # type: ignore[union-attr]


def test_parallel_tools() -> None:
    events = stream(
        calls(ToolCallDelta(0, id="call_1", name="a", arguments='{"x":1}')),
        calls(ToolCallDelta(1, id="call_2", name="b", arguments="{")),
        calls(ToolCallDelta(1, arguments="}"), finish="tool_calls"),
    )
    assert [(e["type"], e.get("index")) for e in events[2:-2]] == [
        (BLOCK_START, 0),
        (BLOCK_DELTA, 0),
        (BLOCK_STOP, 0),
        (BLOCK_START, 1),
        (BLOCK_DELTA, 1),
        (BLOCK_DELTA, 1),
        (BLOCK_STOP, 1),
    ]
    assert [(block.id, block.input) for block in final(events).content] == [  # type: ignore[union-attr]
        ("call_1", {"x": 1}),
        ("call_2", {}),
    ]


def test_whole_calls_in_one_chunk() -> None:
    """Gemini sends each call whole, several in one chunk, with the finish reason 'stop'."""
    events = stream(
        calls(
            ToolCallDelta(0, id="fc_1", name="a", arguments="{}"),
            ToolCallDelta(1, id="fc_2", name="b", arguments="{}"),
            finish="stop",
        )
    )
    assert final(events).stop_reason == "tool_use"
    assert types(events).count(BLOCK_START) == 2


def test_thinking_then_text() -> None:
    events = stream(
        chunk(role="assistant", reasoning_content="Let me "),
        chunk(reasoning_content="think."),
        chunk(content="42"),
        chunk(finish="stop"),
    )
    assert events[2] == {
        "type": BLOCK_START,
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    }
    assert events[3]["delta"] == {"type": "thinking_delta", "thinking": "Let me "}
    assert types(events)[2:-2] == [
        BLOCK_START,
        BLOCK_DELTA,
        BLOCK_DELTA,
        BLOCK_STOP,
        BLOCK_START,
        BLOCK_DELTA,
        BLOCK_STOP,
    ]
    message = final(events)
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "Let me think."  # type: ignore[union-attr]


def test_max_tokens_stop() -> None:
    events = stream(chunk(content="Once upon"), chunk(finish="length"), usage_chunk())
    assert events[-2]["delta"]["stop_reason"] == "max_tokens"
    assert final(events).stop_reason == "max_tokens"


def test_refusal() -> None:
    events = stream(chunk(refusal="I can't help with that."), chunk(finish="stop"))
    message = final(events)
    assert message.stop_reason == "refusal" and message.content[0].text == "I can't help with that."  # type: ignore[union-attr]


def test_empty_answer() -> None:
    events = stream(chunk(role="assistant", content=""), chunk(finish="stop"))
    assert types(events) == [START, PING, MESSAGE_DELTA, STOP_MESSAGE]
    assert final(events).content == []


def test_mid_stream_failure() -> None:
    """What the client receives when the upstream breaks after output began: the events so far, then
    the `error` event routes.py sends (the SDK raises it); no message_delta, no message_stop."""
    encoder = AnthropicMessagesStreamEncoder("msg_1", "public", provider="openai")
    events = encoder.start_events() + encoder.events(chunk(content="Hel"))
    events.append(error_payload(UpstreamTimeout(provider="openai", phase="between chunks"), "en"))
    assert types(events) == [START, PING, BLOCK_START, BLOCK_DELTA, "error"]
    assert TypeAdapter(ErrorResponse).validate_python(events[-1]).error.type == "timeout_error"


def test_interleaved_tool_fragments_are_a_protocol_error() -> None:
    encoder = AnthropicMessagesStreamEncoder("msg_1", "public", provider="openai")
    encoder.start_events()
    encoder.events(calls(ToolCallDelta(0, id="a", name="a", arguments="{")))
    encoder.events(calls(ToolCallDelta(1, id="b", name="b", arguments="{")))
    with pytest.raises(UpstreamProtocolError):
        encoder.events(calls(ToolCallDelta(0, arguments="}")))
