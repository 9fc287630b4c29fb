"""ConverseStream events -> canonical chunks (BRT ConverseStreamOutput).

The events: messageStart, then per content block contentBlockStart (tool uses only), contentBlockDelta
(text, toolUse input fragments, reasoningContent text / signature / redactedContent) and
contentBlockStop, then messageStop (the stop reason) and metadata (usage, cache reads and writes
included), the stream's last event. Converse numbers every content block; OpenAI numbers tool calls
only, so each tool-use block gets the next tool-call index. A signed reasoning block, once stopped,
goes out as a `reasoning_details` delta, in the Anthropic provider's format, so clients send it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from babelgate.errors import GatewayError, UpstreamProtocolError
from babelgate.providers.anthropic.translate_messages import reasoning_details
from babelgate.providers.bedrock.translate import finish_reason, usage_from_wire
from babelgate.providers.bedrock.wire import REASONING_DETAILS
from babelgate.schema.chat import JSON, Usage
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta, ToolCallDelta


@dataclass(slots=True)
class _Block:
    kind: str = "text"  # text, tool_use, json_output, reasoning
    tool_index: int = 0
    reasoning: list[str] = field(default_factory=list)
    signature: str = ""
    redacted: str = ""


class ConverseStreamTranslator:
    """One instance per stream; `done` turns true at the metadata event."""

    def __init__(self, provider: str, *, message_id: str, model: str, created: int, json_tool: str | None) -> None:
        self.provider = provider
        self.message_id = message_id
        self.model = model
        self.created = created
        self.json_tool = json_tool
        self.blocks: dict[int, _Block] = {}
        self.tool_calls = 0
        self.tool_call_ids: list[str] = []
        self.thinking_details: list[JSON] = []
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.done = False

    def feed(self, name: str, payload: JSON) -> list[ChatChunk]:
        try:
            return self._event(name, payload)
        except GatewayError:
            raise
        except (AttributeError, TypeError, ValueError, KeyError):
            raise UpstreamProtocolError(provider=self.provider, detail="a stream event has the wrong shape") from None

    def _event(self, name: str, payload: JSON) -> list[ChatChunk]:
        if name == "messageStart":
            return [self._chunk(Delta(role="assistant", content=""))]
        if name == "contentBlockStart":
            return self._block_start(int(payload["contentBlockIndex"]), payload.get("start") or {})
        if name == "contentBlockDelta":
            index = int(payload["contentBlockIndex"])
            return self._block_delta(self.blocks.setdefault(index, _Block()), payload["delta"])
        if name == "contentBlockStop":
            block = self.blocks.get(int(payload["contentBlockIndex"]))
            return self._block_stop(block) if block is not None else []
        if name == "messageStop":
            self.finish_reason = finish_reason(payload.get("stopReason"), has_tool_calls=self.tool_calls > 0)
            return [self._chunk(Delta(), finish=self.finish_reason)]
        if name == "metadata":
            self.usage = usage_from_wire(payload.get("usage"))
            self.done = True
            return [ChatChunk(id=self.message_id, created=self.created, model=self.model, choices=[], usage=self.usage)]
        return []  # event types added after this was written carry nothing a client reads

    def _block_start(self, index: int, start: JSON) -> list[ChatChunk]:
        use = start.get("toolUse")
        if not isinstance(use, dict):
            self.blocks[index] = _Block()
            return []
        if use.get("name") == self.json_tool:
            self.blocks[index] = _Block("json_output")
            return []
        block = self.blocks[index] = _Block("tool_use", tool_index=self.tool_calls)
        self.tool_calls += 1
        self.tool_call_ids.append(str(use["toolUseId"]))
        call = ToolCallDelta(
            index=block.tool_index, id=str(use["toolUseId"]), name=str(use["name"]), arguments="", type="function"
        )
        return [self._chunk(Delta(tool_calls=[call]))]

    def _block_delta(self, block: _Block, delta: JSON) -> list[ChatChunk]:
        if "text" in delta:
            return [self._chunk(Delta(content=_text(delta["text"])))]
        if "toolUse" in delta:
            fragment = _text(delta["toolUse"].get("input", ""))
            if not fragment:
                return []
            if block.kind == "json_output":
                return [self._chunk(Delta(content=fragment))]
            return [self._chunk(Delta(tool_calls=[ToolCallDelta(index=block.tool_index, arguments=fragment)]))]
        if "reasoningContent" in delta:
            block.kind = "reasoning"
            reasoning = delta["reasoningContent"]
            if "text" in reasoning:
                text = _text(reasoning["text"])
                block.reasoning.append(text)
                return [self._chunk(Delta(reasoning_content=text))]
            if "signature" in reasoning:
                block.signature += _text(reasoning["signature"])
            elif "redactedContent" in reasoning:
                block.redacted += _text(reasoning["redactedContent"])
        return []

    def _block_stop(self, block: _Block) -> list[ChatChunk]:
        if block.kind != "reasoning" or not (block.signature or block.redacted):
            return []
        signed: JSON = (
            {"type": "redacted_thinking", "data": block.redacted}
            if block.redacted
            else {"type": "thinking", "thinking": "".join(block.reasoning), "signature": block.signature}
        )
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


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("a stream delta carries no text")  # mapped to UpstreamProtocolError by `feed`
    return value
