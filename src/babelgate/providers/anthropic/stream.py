"""Anthropic stream events → canonical chunks.

Anthropic numbers content blocks (text, thinking, tool_use alike); OpenAI numbers tool calls
only. The translator maps each tool_use block to the next tool-call index, sends id and name on
a call's first delta, relays `partial_json` as argument fragments, and turns a finished signed
thinking block into a `reasoning_details` delta so clients can send it back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from babelgate.errors import GatewayError, UpstreamProtocolError
from babelgate.providers.anthropic.errors import error_from_body
from babelgate.providers.anthropic.translate import finish_reason, usage_from_wire
from babelgate.providers.anthropic.translate_messages import reasoning_details
from babelgate.providers.anthropic.wire import REASONING_DETAILS
from babelgate.providers.transport import event_object
from babelgate.schema.chat import JSON, Usage
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta, ToolCallDelta
from babelgate.streaming import SSEEvent


@dataclass(slots=True)
class _Block:
    kind: str
    tool_index: int | None = None  # OpenAI's index of this tool call
    thinking: list[str] = field(default_factory=list)
    signature: str = ""
    data: str = ""


class AnthropicStreamTranslator:
    """One instance per stream; `done` turns true at `message_stop`."""

    def __init__(self, provider: str, *, created: int, json_tool: str | None, scrub: Callable[[str], str]) -> None:
        self.provider = provider
        self.created = created
        self.json_tool = json_tool
        self.scrub = scrub
        self.message_id = ""
        self.model = ""
        self.blocks: dict[int, _Block] = {}
        self.tool_calls = 0
        self.input_usage: JSON = {}
        self.output_tokens = 0
        self.finish_reason: str | None = None
        self.thinking_details: list[JSON] = []  # every signed block of this answer, for the replay cache
        self.tool_call_ids: list[str] = []
        self.done = False

    def finish(self) -> list[ChatChunk]:
        """Nothing is held back at the body's end: every event was translated as it came."""
        return []

    def feed(self, event: SSEEvent) -> list[ChatChunk]:
        return self.feed_data(event.data)

    def feed_data(self, data: str | bytes) -> list[ChatChunk]:
        """One event's JSON, however it came (an SSE frame's data, or Bedrock's base64 chunk decoded)."""
        payload = event_object(data, self.provider)
        try:
            return self._event(payload)
        except GatewayError:
            raise
        except (AttributeError, TypeError, ValueError, KeyError):
            raise UpstreamProtocolError(provider=self.provider, detail="a stream event has the wrong shape") from None

    def _event(self, payload: JSON) -> list[ChatChunk]:
        kind = payload.get("type")
        if kind == "message_start":
            message = payload["message"]
            self.message_id, self.model = str(message.get("id", "")), str(message.get("model", ""))
            self.input_usage = message.get("usage") or {}
            return [self._chunk(Delta(role="assistant", content=""))]
        if kind == "content_block_start":
            return self._block_start(int(payload["index"]), payload["content_block"])
        if kind == "content_block_delta":
            return self._block_delta(self.blocks[int(payload["index"])], payload["delta"])
        if kind == "content_block_stop":
            return self._block_stop(self.blocks[int(payload["index"])])
        if kind == "message_delta":
            usage = payload.get("usage") or {}
            self.output_tokens = int(usage.get("output_tokens") or self.output_tokens)
            # Newer API versions repeat input and cache counts here; the latest figures win.
            self.input_usage = {
                **self.input_usage,
                **{k: v for k, v in usage.items() if k != "output_tokens" and v is not None},
            }
            stop = (payload.get("delta") or {}).get("stop_reason")
            self.finish_reason = finish_reason(stop, has_tool_calls=self.tool_calls > 0)
            return [self._chunk(Delta(), finish=self.finish_reason)]
        if kind == "message_stop":
            self.done = True
            return [
                ChatChunk(id=self.message_id, created=self.created, model=self.model, choices=[], usage=self.usage())
            ]
        if kind == "error":
            raise error_from_body(payload, provider=self.provider, scrub=self.scrub)
        return []  # `ping`, and event types added after this was written (the SDK skips them too)

    def _block_start(self, index: int, block: JSON) -> list[ChatChunk]:
        kind = str(block.get("type"))
        entry = self.blocks[index] = _Block(kind)
        if kind == "text" and block.get("text"):
            return [self._chunk(Delta(content=block["text"]))]
        if kind == "tool_use" and block.get("name") == self.json_tool:
            entry.kind = "json_output"
            return []
        if kind == "tool_use":
            entry.tool_index = self.tool_calls
            self.tool_calls += 1
            self.tool_call_ids.append(str(block["id"]))
            call = ToolCallDelta(
                index=entry.tool_index, id=str(block["id"]), name=str(block["name"]), arguments="", type="function"
            )
            return [self._chunk(Delta(tool_calls=[call]))]
        if kind == "thinking" and block.get("thinking"):
            entry.thinking.append(block["thinking"])
            return [self._chunk(Delta(reasoning_content=block["thinking"]))]
        if kind == "redacted_thinking":
            entry.data = str(block.get("data", ""))
        return []

    def _block_delta(self, block: _Block, delta: JSON) -> list[ChatChunk]:
        kind = delta.get("type")
        if kind == "text_delta":
            return [self._chunk(Delta(content=_text(delta["text"])))]
        if kind == "input_json_delta":
            fragment = _text(delta.get("partial_json", ""))
            if not fragment or block.kind not in ("tool_use", "json_output"):
                return []  # a server tool's input (web search's query) is Anthropic's own work, not a call
            if block.kind == "json_output":
                return [self._chunk(Delta(content=fragment))]
            call = ToolCallDelta(index=block.tool_index if block.tool_index is not None else 0, arguments=fragment)
            return [self._chunk(Delta(tool_calls=[call]))]
        if kind == "thinking_delta":
            thinking = _text(delta["thinking"])
            block.thinking.append(thinking)
            return [self._chunk(Delta(reasoning_content=thinking))]
        if kind == "signature_delta":
            block.signature += _text(delta["signature"])
        return []  # citations_delta and newer delta kinds carry nothing OpenAI clients read

    def _block_stop(self, block: _Block) -> list[ChatChunk]:
        if block.kind == "thinking" and block.signature:
            signed = {"type": "thinking", "thinking": "".join(block.thinking), "signature": block.signature}
        elif block.kind == "redacted_thinking":
            signed = {"type": "redacted_thinking", "data": block.data}
        else:
            return []
        details = reasoning_details([signed])
        self.thinking_details += details
        return [self._chunk(Delta(extra={REASONING_DETAILS: details}))]

    def _chunk(self, delta: Delta, *, finish: str | None = None) -> ChatChunk:
        return ChatChunk(
            id=self.message_id,
            created=self.created,
            model=self.model,
            choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish)],  # type: ignore[arg-type]
        )

    def usage(self) -> Usage | None:
        return usage_from_wire({**self.input_usage, "output_tokens": self.output_tokens})


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("a stream delta carries no text")  # mapped to UpstreamProtocolError by `feed`
    return value
