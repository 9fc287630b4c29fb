"""Canonical chunks → ConverseStream's events, and those events → the AWS event stream.

The encoder is the Messages frontend's state machine (its blocks open, take deltas and close as Claude's do, and
Converse numbers blocks the same way) with each of its events written as the ConverseStream event it is:
`messageStart`, `contentBlockStart` (tool uses), `contentBlockDelta` (text, a tool use's input, reasoning text and
its signature), `contentBlockStop`, then `messageStop` (the stop reason) and `metadata` (usage and latency).

It writes them as SSE (`event: contentBlockDelta`, `data: {…}`) first: that is what the output guardrails read
(their windows follow `delta.text`), on both roads; `as_event_stream`, the model call's `reframe`, then writes
each as an event-stream message, as Bedrock frames them, and a failure after the stream began as the
exception message Bedrock ends such a stream with.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Final

from babelgate import eventstream
from babelgate.answer import Answer
from babelgate.errors import GatewayError
from babelgate.frontends.anthropic_clouds.bedrock import EVENT_STREAM_TYPE
from babelgate.frontends.anthropic_messages.stream import AnthropicMessagesStreamEncoder
from babelgate.frontends.bedrock_converse.answers import JSON, stop_reason, usage_to_wire
from babelgate.i18n import render_message
from babelgate.providers.bedrock.translate_blocks import signed_reasoning
from babelgate.providers.bedrock.wire import REASONING_DETAILS
from babelgate.schema.chunks import Delta
from babelgate.streaming import SSEDecoder, encode_sse_event, parse_frame

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


class ConverseStreamEncoder(AnthropicMessagesStreamEncoder):
    """One per stream (a StreamEncoder): the Messages events, each written as its ConverseStream event in SSE."""

    def __init__(self, model: str, *, provider: str, started: float) -> None:
        super().__init__("", model, provider=provider)
        self.started = started  # time.monotonic() when the attempt began: the metadata's latencyMs
        self.frame = self._converse

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
            return encode_sse_event("contentBlockDelta", {"contentBlockIndex": event["index"], "delta": payload})
        if kind == "content_block_start":
            block = event["content_block"]
            if block["type"] != "tool_use":
                return b""  # Bedrock opens only tool-use blocks with a start event
            start = {"toolUse": {"toolUseId": block["id"], "name": block["name"]}}
            return encode_sse_event("contentBlockStart", {"contentBlockIndex": event["index"], "start": start})
        if kind == "content_block_stop":
            return encode_sse_event("contentBlockStop", {"contentBlockIndex": event["index"]})
        if kind == "message_start":
            return encode_sse_event("messageStart", {"role": "assistant"})
        if kind == "message_delta":
            reason = stop_reason(self.finish_reason, tool_use=bool(self.tool_blocks))
            metadata = {
                "usage": usage_to_wire(self.usage),
                "metrics": {"latencyMs": int((time.monotonic() - self.started) * 1000)},
            }
            return encode_sse_event("messageStop", {"stopReason": reason}) + encode_sse_event("metadata", metadata)
        return b""  # ping, message_stop: Converse has none


def as_event_stream(answer: Answer) -> Answer:
    """A streamed answer's SSE events (the encoder's, or the native road's) as ConverseStream's event stream. A
    whole answer is Converse's JSON as it is."""
    if answer.rest is None:
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


class _EventFramer:
    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = SSEDecoder()

    def feed(self, data: bytes) -> bytes:
        out = []
        for frame in self._decoder.feed_frames(data):
            event = parse_frame(frame)
            if event is None or not event.event or not event.data:
                continue
            out.append(eventstream.event(event.event, event.data.encode()))
        return b"".join(out)

    async def frames(self, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async with contextlib.aclosing(rest):  # type: ignore[type-var]
            async for data in rest:
                framed = self.feed(data)
                if framed:
                    yield framed
