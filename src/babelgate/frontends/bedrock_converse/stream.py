"""Canonical chunks → ConverseStream's events, and those events → the AWS event stream.

The encoder is the Messages frontend's state machine (its blocks open, take deltas and close as Claude's do, and
Converse numbers blocks the same way) with each of its events written as the ConverseStream event it is:
`messageStart`, `contentBlockStart` (tool uses), `contentBlockDelta` (text, a tool use's input, reasoning text and
its signature), `contentBlockStop`, then `messageStop` (the stop reason) and `metadata` (usage and latency).

A stream that output guardrails read is written as SSE first (`event: contentBlockDelta`, `data: {…}`), the framing
their windows read (`delta.text`); `as_event_stream`, the model call's `reframe`, then writes each event as an
event-stream message, as it does for the native road's relayed events. A stream no output guardrail reads is
written as event-stream messages at once (`framing="eventstream"`), which `as_event_stream` lets through: the
SSE step costs a parse and a second framing of every event. A failure after the stream began is the exception
message Bedrock ends such a stream with.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Final, Literal

import orjson

from babelgate import eventstream
from babelgate.answer import Answer
from babelgate.errors import GatewayError
from babelgate.frontends.anthropic_clouds.bedrock import EVENT_STREAM_TYPE
from babelgate.frontends.anthropic_messages.stream import AnthropicMessagesStreamEncoder
from babelgate.frontends.bedrock_converse.answers import JSON, stop_reason, usage_to_wire
from babelgate.i18n import render_message
from babelgate.providers.bedrock.translate_blocks import signed_reasoning
from babelgate.providers.bedrock.wire import REASONING_DETAILS
from babelgate.schema.chunks import ChatChunk, Delta
from babelgate.streaming import encode_sse_event

Framing = Literal["sse", "eventstream"]

# A failure inside a stream that began: ConverseStreamOutput's exception members by status.
STREAM_ERROR_NAMES: Final[dict[int, str]] = {
    400: "validationException",
    429: "throttlingException",
    503: "serviceUnavailableException",
}


def stream_error_name(status: int) -> str:
    if status in STREAM_ERROR_NAMES:
        return STREAM_ERROR_NAMES[status]
    return "modelStreamErrorException" if status in (424, 502, 504) else "internalServerException"


def encode_stream_error(error: GatewayError, language: str) -> bytes:
    name = stream_error_name(error.status) if error.status >= 500 or error.status == 429 else "validationException"
    return eventstream.exception(name, render_message(error, language))


def _event_message(name: str, payload: JSON) -> bytes:
    return eventstream.event(name, orjson.dumps(payload))


class ConverseStreamEncoder(AnthropicMessagesStreamEncoder):
    """One per stream (a StreamEncoder): the Messages events, each written as its ConverseStream event, in SSE or
    as event-stream messages (`framing`)."""

    def __init__(self, model: str, *, provider: str, started: float, framing: Framing = "sse") -> None:
        super().__init__("", model, provider=provider)
        self.started = started  # time.monotonic() when the attempt began: the metadata's latencyMs
        self.frame = self._converse
        self.write = encode_sse_event if framing == "sse" else _event_message

    def feed(self, chunk: ChatChunk) -> bytes:
        """Most chunks of a stream: a piece of text for the text block already open, written at once."""
        choices = chunk.choices
        if chunk.usage is None and len(choices) == 1:
            choice = choices[0]
            delta = choice.delta
            block = self.open
            if (
                delta.content
                and block is not None
                and block.kind == "text"
                and choice.index == 0
                and choice.finish_reason is None
                and not (delta.reasoning_content or delta.refusal or delta.tool_calls or delta.extra)
            ):
                return self.write(
                    "contentBlockDelta", {"contentBlockIndex": block.index, "delta": {"text": delta.content}}
                )
        return super().feed(chunk)

    def _delta(self, delta: Delta, events: list[JSON]) -> None:
        super()._delta(delta, events)
        extra = delta.extra
        if extra and REASONING_DETAILS in extra:
            block = self.open
            for signed in signed_reasoning(extra[REASONING_DETAILS]):
                signature = signed["reasoningContent"].get("reasoningText", {}).get("signature")
                if block is not None and block.kind == "thinking" and signature:
                    delta_event = {"type": "signature_delta", "signature": signature}
                    events.append({"type": "content_block_delta", "index": block.index, "delta": delta_event})

    def fail(self, error: GatewayError, language: str) -> bytes:
        return encode_stream_error(error, language)

    def _converse(self, event: JSON) -> bytes:
        kind = event["type"]
        if kind == "content_block_delta":
            delta = event["delta"]
            sort = delta["type"]
            if sort == "text_delta":
                payload: JSON = {"text": delta["text"]}
            elif sort == "input_json_delta":
                payload = {"toolUse": {"input": delta["partial_json"]}}
            elif sort == "thinking_delta":
                payload = {"reasoningContent": {"text": delta["thinking"]}}
            else:
                payload = {"reasoningContent": {"signature": delta["signature"]}}
            return self.write("contentBlockDelta", {"contentBlockIndex": event["index"], "delta": payload})
        if kind == "content_block_start":
            block = event["content_block"]
            if block["type"] != "tool_use":
                return b""  # Bedrock opens only tool-use blocks with a start event
            start = {"toolUse": {"toolUseId": block["id"], "name": block["name"]}}
            return self.write("contentBlockStart", {"contentBlockIndex": event["index"], "start": start})
        if kind == "content_block_stop":
            return self.write("contentBlockStop", {"contentBlockIndex": event["index"]})
        if kind == "message_start":
            return self.write("messageStart", {"role": "assistant"})
        if kind == "message_delta":
            reason = stop_reason(self.finish_reason, tool_use=bool(self.tool_blocks))
            metadata = {
                "usage": usage_to_wire(self.usage),
                "metrics": {"latencyMs": int((time.monotonic() - self.started) * 1000)},
            }
            return self.write("messageStop", {"stopReason": reason}) + self.write("metadata", metadata)
        return b""  # ping, message_stop: Converse has none


def as_event_stream(answer: Answer) -> Answer:
    """A streamed answer's SSE events (the encoder's, or the native road's) as ConverseStream's event stream; one
    already written so, and a whole answer (Converse's JSON), as they are."""
    if answer.rest is None or answer.content_type == EVENT_STREAM_TYPE:
        return answer
    framer = _EventFramer()
    return Answer(
        framer.feed(answer.body),
        answer.notes,
        status=answer.status,
        content_type=EVENT_STREAM_TYPE,
        headers=answer.headers,
        rest=framer.frames(answer.rest),
        on_error=encode_stream_error,
    )


_EVENT: Final = b"event: "
_DATA: Final = b"\ndata: "


class _EventFramer:
    """SSE frames as this door's own writers make them (`event: <name>`, one `data:` line, a blank line: the
    encoder's, the guardrails' rewrites of them, the native road's) → event-stream messages, read by slicing:
    the JSON is never decoded, as it goes out as it came."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held = b""

    def feed(self, data: bytes) -> bytes:
        buffer = self._held + data if self._held else data
        out = []
        start = 0
        while True:
            while buffer[start : start + 1] == b"\n":  # a frame's own trailing line breaks
                start += 1
            end = buffer.find(b"\n\n", start)
            if end < 0:
                break
            if buffer.startswith(_EVENT, start):
                line = buffer.find(_DATA, start, end)
                if line > 0:
                    name = buffer[start + 7 : line].decode()
                    out.append(eventstream.event(name, buffer[line + 7 : end]))
            start = end + 2
        self._held = buffer[start:]
        return b"".join(out)

    async def frames(self, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async with contextlib.aclosing(rest):  # type: ignore[type-var]
            async for data in rest:
                framed = self.feed(data)
                if framed:
                    yield framed
