"""Canonical chat chunks → the Responses semantic event sequence, by a small state machine.

Items open as their first delta arrives and close when another kind of output starts or the
stream ends: reasoning (as a summary), the assistant message (text and refusal parts), and one
function_call item per tool call (parallel calls stay open together, keyed by chunk index).
Every event carries `sequence_number`; the order is the one Open Responses specifies.

As a StreamEncoder (stream_encoder.py) its events are framed by the transport's `frame` (SSE events,
or WebSocket messages), and `trailer` follows the last one (`[DONE]` on SSE).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from babelgate.errors import GatewayError
from babelgate.frontends.one_answer import Frame, OneAnswerEncoder, sse_event
from babelgate.frontends.openai_errors import error_object
from babelgate.frontends.responses import wire
from babelgate.frontends.responses.mcp import INCOMPLETE_LIMIT, approval_item, call_item, list_item
from babelgate.frontends.responses.reasoning import REASONING_DETAILS, ReasoningSeal
from babelgate.frontends.responses.resource import ResponseShell
from babelgate.frontends.responses.tools import ToolNames
from babelgate.frontends.responses.translate import outcome
from babelgate.frontends.responses.wire import JSON
from babelgate.frontends.text_pieces import TextPieces
from babelgate.schema.chunks import ChatChunk, Delta, ToolCallDelta
from babelgate.streaming import SSE_DONE
from babelgate.tool_loop.loop import LoopEvent, Outcome, Said, ToolCalled, ToolsListed


@dataclass(slots=True)
class _Part:
    kind: str  # "output_text" or "refusal"
    pieces: TextPieces = field(default_factory=TextPieces)


@dataclass(slots=True)
class _Message:
    id: str
    index: int
    parts: list[_Part] = field(default_factory=list)
    closed: int = 0  # parts already closed: a part closes before the next one opens


@dataclass(slots=True)
class _Reasoning:
    id: str
    index: int
    pieces: TextPieces = field(default_factory=TextPieces)
    summary_open: bool = False  # a summary part was added (reasoning may come as sealed state alone)
    details: list[JSON] = field(default_factory=list)  # the provider's state, sealed when the item closes


@dataclass(slots=True)
class _Call:
    id: str
    index: int
    call_id: str
    name: str
    namespace: str | None = None
    arguments: TextPieces = field(default_factory=TextPieces)


class ResponsesStreamEncoder(OneAnswerEncoder):
    """`names` gives calls back the names the client declared (tools.py); with `seal`, reasoning
    items carry the provider's reasoning state in `encrypted_content` (reasoning.py)."""

    def __init__(
        self,
        shell: ResponseShell,
        names: ToolNames | None = None,
        seal: ReasoningSeal | None = None,
        *,
        frame: Frame = sse_event,
        trailer: bytes = SSE_DONE,
        loop: Outcome | None = None,
    ) -> None:
        super().__init__(frame)
        self.loop = loop  # how the gateway's MCP tool loop ended, when it runs one (mcp.py)
        self.trailer = trailer
        self.shell = shell
        self.names = names or ToolNames()
        self.seal = seal
        self.sequence = 0
        self.output: list[JSON] = []  # closed items; they close in output_index order (see _close_all)
        self.message: _Message | None = None
        self.reasoning: _Reasoning | None = None
        self.calls: dict[int, _Call] = {}
        self.final: JSON | None = None  # the terminal resource, once sent

    # -- the StreamEncoder ----------------------------------------------------------------------

    def feed(self, chunk: ChatChunk | LoopEvent) -> bytes:
        if isinstance(chunk, ChatChunk):
            return self.framed(self.events(chunk))
        return self.framed(self._loop_event(chunk))

    def finish(self) -> bytes:
        return super().finish() + self.trailer

    def fail(self, error: GatewayError, language: str) -> bytes:
        return self.framed(self.fail_events(error.status, error_object(error, language))) + self.trailer

    # -- the sequence ---------------------------------------------------------------------------

    def start_events(self) -> list[JSON]:
        snapshot = self.shell.resource("in_progress")
        return [
            self._event("response.created", response=snapshot),
            self._event("response.in_progress", response=snapshot),
        ]

    def finish_events(self) -> list[JSON]:
        events: list[JSON] = []
        self._close_all(events)
        status, details = outcome(self.finish_reason)
        if self.loop is not None and self.loop.limit is not None:
            status, details = "incomplete", INCOMPLETE_LIMIT
        self.final = self.shell.resource(
            status, self.output, usage=wire.usage_to_wire(self.usage), incomplete_details=details
        )
        events.append(self._event(f"response.{status}", response=self.final))
        return events

    def fail_events(self, status: int, error: JSON) -> list[JSON]:
        """After output began, an upstream failure: an `error` event, then `response.failed`
        (items opened so far are not closed: they never completed)."""
        self.final = self.shell.resource(
            "failed",
            self.output,
            usage=wire.usage_to_wire(self.usage),
            error=wire.response_error(status, error["message"]),
        )
        event = wire.error_event(self.sequence, error)
        self.sequence += 1
        return [event, self._event("response.failed", response=self.final)]

    # -- deltas ---------------------------------------------------------------------------------

    def _delta(self, delta: Delta, events: list[JSON]) -> None:
        if delta.reasoning_content:
            self._reasoning_delta(delta.reasoning_content, events)
        if self.seal is not None and delta.extra.get(REASONING_DETAILS):
            self._open_reasoning(events).details.extend(delta.extra[REASONING_DETAILS])
        if delta.content:
            self._part_delta("output_text", delta.content, events)
        if delta.refusal:
            self._part_delta("refusal", delta.refusal, events)
        for call in delta.tool_calls or ():
            self._call_delta(call, events)

    def _open_reasoning(self, events: list[JSON]) -> _Reasoning:
        if self.reasoning is None:
            self._close_all(events)
            item = self.reasoning = _Reasoning(wire.new_id(wire.REASONING_PREFIX), self._next_index())
            events.append(
                self._event(
                    "response.output_item.added", output_index=item.index, item=wire.reasoning_item(item.id, None)
                )
            )
        return self.reasoning

    def _reasoning_delta(self, text: str, events: list[JSON]) -> None:
        item = self._open_reasoning(events)
        if not item.summary_open:
            item.summary_open = True
            events.append(
                self._event(
                    "response.reasoning_summary_part.added",
                    item_id=item.id,
                    output_index=item.index,
                    summary_index=0,
                    part=wire.summary_part(""),
                )
            )
        item.pieces.add(text)
        events.append(
            self._event(
                "response.reasoning_summary_text.delta",
                item_id=item.id,
                output_index=item.index,
                summary_index=0,
                delta=text,
            )
        )

    def _part_delta(self, kind: str, text: str, events: list[JSON]) -> None:
        if self.message is None:
            self._close_all(events)
            self.message = _Message(wire.new_id(wire.MESSAGE_PREFIX), self._next_index())
            events.append(
                self._event(
                    "response.output_item.added",
                    output_index=self.message.index,
                    item=wire.message_item(self.message.id, [], "in_progress"),
                )
            )
        message = self.message
        if not message.parts or message.parts[-1].kind != kind:
            self._close_parts(message, events)
            message.parts.append(_Part(kind))
            events.append(
                self._event("response.content_part.added", **self._part_place(message), part=_part_wire(_Part(kind)))
            )
        part = message.parts[-1]
        part.pieces.add(text)
        name = "response.output_text.delta" if kind == "output_text" else "response.refusal.delta"
        extra: JSON = {"logprobs": []} if kind == "output_text" else {}
        events.append(self._event(name, **self._part_place(message), delta=text, **extra))

    def _call_delta(self, delta: ToolCallDelta, events: list[JSON]) -> None:
        call = self.calls.get(delta.index)
        if call is None:
            if self.message is not None or self.reasoning is not None:
                self._close_all(events)
            name, namespace = self.names.client_name(delta.name or "")
            call = self.calls[delta.index] = _Call(
                wire.new_id(wire.FUNCTION_CALL_PREFIX),
                self._next_index(),
                delta.id or wire.new_id("call_"),
                name,
                namespace,
            )
            item = wire.function_call_item(call.id, call.call_id, call.name, "", "in_progress", call.namespace)
            events.append(self._event("response.output_item.added", output_index=call.index, item=item))
        if delta.arguments:
            call.arguments.add(delta.arguments)
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=call.id,
                    output_index=call.index,
                    delta=delta.arguments,
                )
            )

    # -- MCP items (the gateway's tool loop) -------------------------------------------------------

    def _loop_event(self, event: LoopEvent) -> list[JSON]:
        events: list[JSON] = []
        self._close_all(events)
        index = self._next_index()
        if isinstance(event, ToolsListed):
            item = list_item(wire.new_id(wire.MCP_LIST_PREFIX), event)
            place = {"item_id": item["id"], "output_index": index}
            events.append(self._event("response.output_item.added", output_index=index, item={**item, "tools": []}))
            events.append(self._event("response.mcp_list_tools.in_progress", **place))
            ended = "failed" if event.error is not None else "completed"
            events.append(self._event(f"response.mcp_list_tools.{ended}", **place))
        elif isinstance(event, ToolCalled):
            item_id = wire.new_id(wire.MCP_CALL_PREFIX)
            place = {"item_id": item_id, "output_index": index}
            opened = {**call_item(item_id, event, "in_progress"), "arguments": ""}
            events.append(self._event("response.output_item.added", output_index=index, item=opened))
            events.append(self._event("response.mcp_call.in_progress", **place))
            events.append(self._event("response.mcp_call_arguments.delta", **place, delta=event.arguments))
            events.append(self._event("response.mcp_call_arguments.done", **place, arguments=event.arguments))
            item = call_item(item_id, event)
            events.append(self._event(f"response.mcp_call.{item['status']}", **place))
        elif isinstance(event, Said):
            return events  # streamed as it came
        else:
            item = approval_item(wire.new_id(wire.MCP_APPROVAL_PREFIX), event)
            events.append(self._event("response.output_item.added", output_index=index, item=item))
        self._done(index, item, events)
        return events

    # -- closing items --------------------------------------------------------------------------

    def _close_all(self, events: list[JSON]) -> None:
        if self.reasoning is not None:
            self._close_reasoning(self.reasoning, events)
            self.reasoning = None
        if self.message is not None:
            self._close_message(self.message, events)
            self.message = None
        for call in self.calls.values():
            self._close_call(call, events)
        self.calls.clear()

    def _close_reasoning(self, item: _Reasoning, events: list[JSON]) -> None:
        place = {"item_id": item.id, "output_index": item.index, "summary_index": 0}
        text = item.pieces.text()
        if item.summary_open:
            events.append(self._event("response.reasoning_summary_text.done", **place, text=text))
            events.append(self._event("response.reasoning_summary_part.done", **place, part=wire.summary_part(text)))
        sealed = self.seal.seal(text or None, item.details) if self.seal is not None else None
        self._done(item.index, wire.reasoning_item(item.id, text, sealed), events)

    def _close_parts(self, message: _Message, events: list[JSON]) -> None:
        for content_index in range(message.closed, len(message.parts)):
            part = message.parts[content_index]
            place = {"item_id": message.id, "output_index": message.index, "content_index": content_index}
            if part.kind == "output_text":
                events.append(self._event("response.output_text.done", **place, text=part.pieces.text(), logprobs=[]))
            else:
                events.append(self._event("response.refusal.done", **place, refusal=part.pieces.text()))
            events.append(self._event("response.content_part.done", **place, part=_part_wire(part)))
        message.closed = len(message.parts)

    def _close_message(self, message: _Message, events: list[JSON]) -> None:
        self._close_parts(message, events)
        content = [_part_wire(part) for part in message.parts]
        self._done(message.index, wire.message_item(message.id, content, "completed"), events)

    def _close_call(self, call: _Call, events: list[JSON]) -> None:
        arguments = call.arguments.text()
        events.append(
            self._event(
                "response.function_call_arguments.done",
                item_id=call.id,
                output_index=call.index,
                name=call.name,
                arguments=arguments,
            )
        )
        item = wire.function_call_item(call.id, call.call_id, call.name, arguments, "completed", call.namespace)
        self._done(call.index, item, events)

    def _done(self, index: int, item: JSON, events: list[JSON]) -> None:
        self.output.append(item)
        events.append(self._event("response.output_item.done", output_index=index, item=item))

    # -- helpers --------------------------------------------------------------------------------

    def _next_index(self) -> int:
        open_items = (self.message is not None) + (self.reasoning is not None) + len(self.calls)
        return len(self.output) + open_items

    @staticmethod
    def _part_place(message: _Message) -> JSON:
        return {"item_id": message.id, "output_index": message.index, "content_index": len(message.parts) - 1}

    def _event(self, kind: str, **fields: Any) -> JSON:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event


def _part_wire(part: _Part) -> JSON:
    text = part.pieces.text()
    return wire.text_part(text) if part.kind == "output_text" else wire.refusal_part(text)
