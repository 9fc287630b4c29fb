"""The tool loop: one canonical chat request becomes as many model turns as its MCP tools need.

A frontend that received MCP tools (the Responses `mcp` tool, Anthropic's `mcp_servers`) on a road
whose provider does not run them itself builds a `Toolbox` of the request's servers and runs the loop:

1. `Toolbox.open` lists each server's tools (filtered by `allowed_tools`) and offers them to the model
   as chat functions named `<server_label>__<tool>` (docs/decisions.md, "MCP servers and who may use them"'s names);
2. a model turn (`provider.chat`, or `provider.stream` whose chunks go on to the client as they come);
3. when the model calls only MCP functions, the gateway calls the servers, appends the calls and
   their results to the conversation, and goes back to 2; a call that needs approval ends the answer
   with an `ApprovalRequested` (the client's `mcp_approval_response` brings it back, `approved`);
   a call of one of the client's own functions ends the answer as it would without MCP;
4. otherwise the model's answer is the answer.

The loop is bounded (`Bounds`: calls per request, total seconds, seconds per call) and accounted: each
model turn and each tool call is reported to `Accounting` (a ledger row each, under the request's id),
and the turns' usage is summed into the request's `CallNotes`, which budgets settle from.

What the loop yields is the frontend's to encode: `LoopEvent`s beside the chat answer (or chunks).
Nothing here knows a provider or a frontend.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Final

import orjson

from babelgate.providers.base import CallNotes, Provider
from babelgate.schema.chat import ChatRequest, ChatResponse, Message, Tool, ToolCall, Usage
from babelgate.schema.chunks import ChatChunk
from babelgate.tool_loop.servers import JSON, ListedTool, McpFailure, ToolServer

SEPARATOR: Final = "__"
MAX_NAME: Final = 64
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class Bounds:
    max_calls: int = 20
    max_seconds: float = 300.0
    call_timeout: float = 60.0


# -- what the loop reports ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolsListed:
    label: str
    tools: list[ListedTool]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCalled:
    call_id: str  # the model's call id (frontends derive their item ids from it)
    label: str
    name: str
    arguments: str
    output: str | None = None  # the tool's text, also when the tool reported an error
    error: McpFailure | None = None  # the server failed (timeout, unreachable, protocol)
    is_error: bool = False  # the tool answered with `isError`
    content: list[JSON] = field(default_factory=list)
    approval_request_id: str | None = None


@dataclass(frozen=True, slots=True)
class ApprovalRequested:
    call_id: str
    label: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Said:
    """What the model wrote in a turn that also called tools (not streamed: a stream sent it already)."""

    text: str


LoopEvent = ToolsListed | ToolCalled | ApprovalRequested | Said


@dataclass(slots=True)
class Outcome:
    """How the loop ended: `limit` names the bound that stopped it (`max_tool_calls`, `max_seconds`)."""

    events: list[LoopEvent] = field(default_factory=list)
    limit: str | None = None
    pending_approval: bool = False


# -- accounting ----------------------------------------------------------------------------------


class Accounting:
    """Where each turn and each call is reported (the conductor writes ledger rows from it); the
    default reports nowhere."""

    def turn(self, number: int, notes: CallNotes, status: int, elapsed: float) -> None:
        return None

    def tool_call(self, event: ToolCalled, elapsed: float) -> None:
        return None


# -- the request's servers -----------------------------------------------------------------------

Approval = Callable[[str], bool]  # tool name → whether a call of it needs the client's approval


@dataclass(slots=True)
class Server:
    """One MCP server of a request (one `mcp` tool, one `mcp_servers` entry)."""

    label: str
    server: ToolServer
    allowed: frozenset[str] | Callable[[str], bool] | None = None  # names, or a test of a name; None: all
    needs_approval: Approval = field(default=lambda _name: False)
    tools: list[ListedTool] = field(default_factory=list)

    def offers(self, name: str) -> bool:
        allowed = self.allowed
        if allowed is None:
            return True
        return name in allowed if isinstance(allowed, frozenset) else allowed(name)


def chat_name(label: str, tool: str) -> str:
    """The function name the model is offered for `tool` of the server `label`: `<label>__<tool>`, in
    the characters and length every provider takes for a function name (`[A-Za-z0-9_-]`, at most 64),
    a hash standing in for what does not fit. The toolbox maps it back, so it need not be reversible."""
    flat = f"{label}{SEPARATOR}{tool}"
    safe = _UNSAFE.sub("_", flat)
    if safe == flat and len(flat) <= MAX_NAME:
        return flat
    digest = hashlib.sha256(flat.encode()).hexdigest()[:10]
    return f"{safe[: MAX_NAME - len(digest) - 1]}_{digest}"


@dataclass(slots=True)
class Toolbox:
    servers: list[Server]
    bounds: Bounds = field(default_factory=Bounds)
    accounting: Accounting = field(default_factory=Accounting)
    started: float = field(default_factory=time.monotonic)
    calls: int = 0
    turns: int = 0
    _by_name: dict[str, tuple[Server, ListedTool]] = field(default_factory=dict)  # chat name → its tool

    async def open(self) -> list[ToolsListed]:
        """Lists every server's tools (a server that fails is reported, its tools are not offered)."""
        listed: list[ToolsListed] = []
        for server in self.servers:
            try:
                tools = await server.server.list_tools(self._timeout())
            except McpFailure as failure:
                listed.append(ToolsListed(server.label, [], failure.message))
                continue
            self.restore(server, tools)
            listed.append(ToolsListed(server.label, server.tools))
        return listed

    def restore(self, server: Server, tools: Iterable[ListedTool]) -> None:
        """Tools listed by an earlier turn of the conversation (OpenAI lists once per conversation)."""
        server.tools = [tool for tool in tools if server.offers(tool.name)]
        for tool in server.tools:
            self._by_name[chat_name(server.label, tool.name)] = (server, tool)

    def functions(self) -> list[Tool]:
        return [
            Tool(name, description=tool.description, parameters=tool.input_schema or {"type": "object"})
            for name, (_, tool) in self._by_name.items()
        ]

    def owns(self, name: str) -> bool:
        return name in self._by_name

    def find(self, label: str) -> Server | None:
        return next((server for server in self.servers if server.label == label), None)

    def needs_approval(self, name: str) -> bool:
        server, tool = self._by_name[name]
        return server.needs_approval(tool.name)

    def describe(self, call: ToolCall) -> tuple[str, str]:
        """The server label and tool name of a call of one of the toolbox's functions."""
        server, tool = self._by_name[call.name]
        return server.label, tool.name

    async def call(
        self, call_id: str, label: str, name: str, arguments: str, approval_id: str | None = None
    ) -> ToolCalled:
        server = self.find(label)
        started = time.monotonic()
        self.calls += 1
        try:
            if server is None:
                raise McpFailure("protocol", f"no MCP server labelled {label!r} in this request", -32602)
            parsed = orjson.loads(arguments or "{}")
            if not isinstance(parsed, dict):
                raise McpFailure("protocol", "the arguments are not a JSON object", -32602)
            output = await server.server.call_tool(name, parsed, self._timeout())
            event = ToolCalled(
                call_id,
                label,
                name,
                arguments,
                output.text,
                is_error=output.is_error,
                content=output.content,
                approval_request_id=approval_id,
            )
        except orjson.JSONDecodeError:
            failure = McpFailure("protocol", "the model's arguments are not valid JSON", -32602)
            event = ToolCalled(call_id, label, name, arguments, error=failure, approval_request_id=approval_id)
        except McpFailure as failure:
            event = ToolCalled(call_id, label, name, arguments, error=failure, approval_request_id=approval_id)
        self.accounting.tool_call(event, time.monotonic() - started)
        return event

    def _timeout(self) -> float:
        left = self.bounds.max_seconds - (time.monotonic() - self.started)
        return max(0.001, min(self.bounds.call_timeout, left))

    def out_of_time(self) -> bool:
        return time.monotonic() - self.started >= self.bounds.max_seconds

    async def aclose(self) -> None:
        for server in self.servers:
            await server.server.aclose()


# -- the conversation ------------------------------------------------------------------------------


def with_tools(request: ChatRequest, toolbox: Toolbox) -> ChatRequest:
    """The request with the MCP functions beside the client's own."""
    functions = toolbox.functions()
    if not functions:
        return request
    return replace(request, tools=[*(request.tools or ()), *functions])


def continued(request: ChatRequest, assistant: Message, results: list[ToolCalled]) -> ChatRequest:
    """The request with the model's calls and their results appended."""
    messages = [*request.messages, assistant]
    messages.extend(Message("tool", tool_result_text(result), tool_call_id=result.call_id) for result in results)
    return replace(request, messages=messages)


def tool_result_text(result: ToolCalled) -> str:
    """What the model reads of a call: the output, or the failure in words it can act on."""
    if result.error is not None:
        return f"Error calling the tool: {result.error.message}"
    return result.output or ""


def add_usage(total: Usage | None, more: Usage | None) -> Usage | None:
    if more is None:
        return total
    if total is None:
        return more

    def both(a: int | None, b: int | None) -> int | None:
        return None if a is None and b is None else (a or 0) + (b or 0)

    return Usage(
        total.prompt_tokens + more.prompt_tokens,
        total.completion_tokens + more.completion_tokens,
        total.total_tokens + more.total_tokens,
        both(total.cached_tokens, more.cached_tokens),
        both(total.cache_write_tokens, more.cache_write_tokens),
        both(total.reasoning_tokens, more.reasoning_tokens),
    )


# -- the loop ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Loop:
    """One request's loop over `provider` and `model`, reporting into `notes` (the request's)."""

    provider: Provider
    model: str
    notes: CallNotes
    toolbox: Toolbox

    def _turn_notes(self) -> CallNotes:
        return CallNotes(adjusted=self.notes.adjusted, tool_positions=self.notes.tool_positions, price=self.notes.price)

    def _settle_turn(self, turn: CallNotes, started: float, status: int = 200) -> None:
        self.toolbox.turns += 1
        self.notes.usage = add_usage(self.notes.usage, turn.usage)
        self.notes.finish_reason = turn.finish_reason
        self.notes.completed = turn.completed
        self.toolbox.accounting.turn(self.toolbox.turns, turn, status, time.monotonic() - started)

    def _limit(self, wanted: int) -> str | None:
        if self.toolbox.calls + wanted > self.toolbox.bounds.max_calls:
            return "max_tool_calls"
        if self.toolbox.out_of_time():
            return "max_seconds"
        return None

    async def _run_calls(self, calls: list[ToolCall], outcome: Outcome) -> list[ToolCalled] | None:
        """Runs the model's MCP calls; None when the answer ends here (approval needed, bound reached)."""
        approvals = [call for call in calls if self.toolbox.needs_approval(call.name)]
        runnable = [call for call in calls if not self.toolbox.needs_approval(call.name)]
        limit = self._limit(len(runnable))
        if limit is not None:
            outcome.limit = limit
            return None
        results = []
        for call in runnable:
            label, name = self.toolbox.describe(call)
            result = await self.toolbox.call(call.id, label, name, call.arguments)
            outcome.events.append(result)
            results.append(result)
        if approvals:
            for call in approvals:
                label, name = self.toolbox.describe(call)
                outcome.events.append(ApprovalRequested(call.id, label, name, call.arguments))
            outcome.pending_approval = True
            return None
        return results

    async def run(self, request: ChatRequest, outcome: Outcome) -> ChatResponse:
        """Model turns until an answer (non-streaming). The events go into `outcome`."""
        while True:
            turn, started = self._turn_notes(), time.monotonic()
            try:
                response = await self.provider.chat(request, self.model, turn)
            except Exception:
                self._settle_turn(turn, started, 502)
                raise
            self._settle_turn(turn, started)
            message = response.choices[0].message if response.choices else None
            calls = (message.tool_calls if message is not None else None) or []
            if not calls:
                return response  # the answer
            assert message is not None
            foreign = [call for call in calls if not self.toolbox.owns(call.name)]
            if foreign:
                # A call the client runs itself: the answer goes back to it, with only its own calls (the
                # model's MCP calls of the same turn are not run, as in a stream).
                message.tool_calls = foreign
                return response
            if message.content:
                # Said once, before the calls (an event); the answer's own message is what comes after them.
                outcome.events.append(Said(message.content))
                message.content = None
            results = await self._run_calls(calls, outcome)
            if results is None:
                message.tool_calls = None  # they are reported as MCP items, not function calls
                return response
            request = continued(request, Message("assistant", message.content, tool_calls=calls), results)

    async def stream_closing(
        self, request: ChatRequest, outcome: Outcome, opening: Iterable[LoopEvent] = ()
    ) -> AsyncIterator[ChatChunk | LoopEvent]:
        """`opening`'s events (what happened before the first turn: the tools listed), then `stream`'s, with the
        toolbox closed when the stream ends, however it ends (its answer, an error, a client gone). Both frontends
        that run MCP tools stream through it, and neither holds an async generator of its own: their modules are
        compiled (buildtools/babelgate_build.py), and mypyc has none."""
        try:
            for event in opening:
                yield event
            async for item in self.stream(request, outcome):
                yield item
        finally:
            await self.toolbox.aclose()

    async def stream(self, request: ChatRequest, outcome: Outcome) -> AsyncIterator[ChatChunk | LoopEvent]:
        """Model turns until an answer, streamed: the model's text goes on as it comes; calls of MCP
        functions are held back (they become the frontend's MCP items), run, and the next turn streams."""
        while True:
            turn, started = self._turn_notes(), time.monotonic()
            earlier = self.notes.usage  # the turns before this one: a chunk's usage is shown added to theirs
            held: dict[int, ToolCall] = {}
            text: list[str] = []
            foreign = False
            try:
                async for chunk in self.provider.stream(request, self.model, turn):
                    passed = []
                    for choice in chunk.choices:
                        if choice.index != 0:
                            continue
                        delta = choice.delta
                        if delta.content:
                            text.append(delta.content)
                        kept = []
                        for part in delta.tool_calls or ():
                            call = held.get(part.index)
                            if call is None:
                                call = held[part.index] = ToolCall(part.id or f"call_{part.index}", part.name or "", "")
                                foreign = foreign or not self.toolbox.owns(call.name)
                            if part.arguments:
                                call.arguments += part.arguments
                            if not self.toolbox.owns(call.name):
                                kept.append(part)
                        delta.tool_calls = kept or None
                        if choice.finish_reason == "tool_calls" and held and not foreign:
                            choice.finish_reason = None  # the loop goes on: not the answer's end
                        passed.append(choice)
                    chunk.choices = passed
                    if chunk.usage is not None and earlier is not None:
                        chunk.usage = add_usage(earlier, chunk.usage)
                    yield chunk
            except Exception:
                self._settle_turn(turn, started, 502)
                raise
            self._settle_turn(turn, started)
            if not held or foreign:
                return
            calls = [held[index] for index in sorted(held)]
            before = len(outcome.events)
            results = await self._run_calls(calls, outcome)
            for event in outcome.events[before:]:
                yield event
            if results is None:
                return
            assistant = Message("assistant", "".join(text) or None, tool_calls=calls)
            request = continued(request, assistant, results)


async def approved_calls(
    toolbox: Toolbox, decisions: list[tuple[ApprovalRequested, str, bool, str | None]]
) -> tuple[list[LoopEvent], list[tuple[ToolCall, ToolCalled]]]:
    """Runs the calls the client approved (`(request, approval id, approve, reason)`); a refused call is
    answered to the model as refused. Returns the events and (call, result) pairs to replay."""
    events: list[LoopEvent] = []
    replay: list[tuple[ToolCall, ToolCalled]] = []
    for request, approval_id, approve, reason in decisions:
        call = ToolCall(request.call_id, chat_name(request.label, request.name), request.arguments)
        if approve:
            result = await toolbox.call(request.call_id, request.label, request.name, request.arguments, approval_id)
            events.append(result)
        else:
            refusal = "The user did not approve this tool call" + (f": {reason}" if reason else ".")
            result = ToolCalled(request.call_id, request.label, request.name, request.arguments, refusal)
        replay.append((call, result))
    return events, replay
