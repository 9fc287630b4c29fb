"""Canonical chat chunks → Anthropic's stream events, by a small state machine.

`message_start`, one `ping` (Anthropic sends one right after it), then content blocks one at a time —
`content_block_start`, its deltas, `content_block_stop` — and `message_delta` (stop_reason and the
cumulative usage, input counts included: chat streams report usage only at their end, so
`message_start` says 0) and `message_stop`. A block closes when output of another kind (or another
tool call) begins. Anthropic numbers every block; chat numbers tool calls only: `tool_blocks` maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from babelgate.errors import GatewayError, UpstreamProtocolError
from babelgate.frontends.anthropic_messages import wire
from babelgate.frontends.anthropic_messages.translate import encode_stream_error, stop_reason
from babelgate.frontends.anthropic_messages.wire import JSON
from babelgate.frontends.one_answer import OneAnswerEncoder
from babelgate.schema.chunks import Delta, ToolCallDelta


@dataclass(slots=True)
class _Block:
    index: int
    kind: str  # "text", "thinking" or "tool_use"


class AnthropicMessagesStreamEncoder(OneAnswerEncoder):
    """One per stream, a StreamEncoder (stream_encoder.py): its events (dicts whose `type` is also their SSE
    event name) framed as SSE; a failure after the stream began is Anthropic's `error` event."""

    def __init__(self, message_id: str, model: str, *, provider: str) -> None:
        super().__init__()
        self.message_id = message_id
        self.model = model
        self.provider = provider  # names the upstream in a protocol error
        self.next_index = 0
        self.open: _Block | None = None
        self.tool_blocks: dict[int, int] = {}  # chat tool-call index → block index
        self.refused = False

    def start_events(self) -> list[JSON]:
        message: JSON = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
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
        return [{"type": "message_start", "message": message}, {"type": "ping"}]

    def finish_events(self) -> list[JSON]:
        events: list[JSON] = []
        self._close(events)
        reason = stop_reason(self.finish_reason, tool_use=bool(self.tool_blocks), refusal=self.refused)
        return [
            *events,
            {
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": None},
                "usage": wire.usage_to_wire(self.usage),
            },
            {"type": "message_stop"},
        ]

    def fail(self, error: GatewayError, language: str) -> bytes:
        return encode_stream_error(error, language)

    # -- deltas ---------------------------------------------------------------------------------

    def _delta(self, delta: Delta, events: list[JSON]) -> None:
        if delta.reasoning_content:
            self._text_like("thinking", delta.reasoning_content, events)
        if delta.content:
            self._text_like("text", delta.content, events)
        if delta.refusal:
            self.refused = True
            self._text_like("text", delta.refusal, events)
        for call in delta.tool_calls or ():
            self._call(call, events)

    def _text_like(self, kind: str, text: str, events: list[JSON]) -> None:
        block = self.open
        if block is None or block.kind != kind:
            block = self._start(kind, _empty_block(kind), events)
        delta = {"type": "text_delta", "text": text} if kind == "text" else {"type": "thinking_delta", "thinking": text}
        events.append({"type": "content_block_delta", "index": block.index, "delta": delta})

    def _call(self, call: ToolCallDelta, events: list[JSON]) -> None:
        index = self.tool_blocks.get(call.index)
        if index is None:
            content = {"type": "tool_use", "id": call.id or wire.new_id("toolu_"), "name": call.name or "", "input": {}}
            index = self._start("tool_use", content, events).index
            self.tool_blocks[call.index] = index
        elif self.open is None or self.open.index != index:
            # Anthropic's blocks follow one another and a closed one never reopens; every provider
            # sends a call's fragments together, so this is a broken stream, said as such.
            raise UpstreamProtocolError(provider=self.provider, detail="tool-call fragments arrived out of order")
        if call.arguments:
            events.append(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": call.arguments},
                }
            )

    # -- blocks ---------------------------------------------------------------------------------

    def _start(self, kind: str, content: JSON, events: list[JSON]) -> _Block:
        self._close(events)
        block = self.open = _Block(self.next_index, kind)
        self.next_index += 1
        events.append({"type": "content_block_start", "index": block.index, "content_block": content})
        return block

    def _close(self, events: list[JSON]) -> None:
        if self.open is not None:
            events.append({"type": "content_block_stop", "index": self.open.index})
            self.open = None


def _empty_block(kind: str) -> dict[str, Any]:
    if kind == "text":
        return {"type": "text", "text": ""}
    return {"type": "thinking", "thinking": "", "signature": ""}
