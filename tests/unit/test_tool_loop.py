"""The tool loop (tool_loop/loop.py) with a scripted provider and an in-memory tool server: which calls
it runs, when it stops, what it reports and what the model is given back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from babelgate.providers.base import CallNotes
from babelgate.schema.chat import AssistantMessage, ChatRequest, ChatResponse, Choice, Message, ToolCall, Usage
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta, ToolCallDelta
from babelgate.tool_loop.loop import (
    Accounting,
    ApprovalRequested,
    Bounds,
    Loop,
    Outcome,
    Said,
    Server,
    Toolbox,
    ToolCalled,
    ToolsListed,
    add_usage,
    chat_name,
    with_tools,
)
from babelgate.tool_loop.servers import JSON, ListedTool, McpFailure, ToolOutput


class Tools:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, JSON]] = []
        self.fail = fail
        self.closed = False

    async def list_tools(self, seconds: float) -> list[ListedTool]:
        if self.fail:
            raise McpFailure("unavailable", "down")
        return [ListedTool("add", {"type": "object"}), ListedTool("rm", {"type": "object"})]

    async def call_tool(self, name: str, arguments: JSON, seconds: float) -> ToolOutput:
        self.calls.append((name, arguments))
        if name == "slow":
            raise McpFailure("timeout", "too slow")
        return ToolOutput(str(sum(arguments.values())) if name == "add" else "gone")

    async def aclose(self) -> None:
        self.closed = True


class Model:
    """Answers each turn with the next of `turns`: a list of calls (name, arguments) or a text."""

    name = "scripted"
    type = "scripted"

    def __init__(self, *turns: Any) -> None:
        self.turns = list(turns)
        self.requests: list[ChatRequest] = []

    def _next(self, request: ChatRequest, notes: CallNotes) -> Any:
        self.requests.append(request)
        notes.usage = Usage(10, 2, 12)
        return self.turns.pop(0)

    async def chat(self, request: ChatRequest, model: str, notes: CallNotes) -> ChatResponse:
        turn = self._next(request, notes)
        if isinstance(turn, str):
            message, finish = AssistantMessage(content=turn), "stop"
        else:
            calls = [ToolCall(f"call_{i}", name, args) for i, (name, args) in enumerate(turn)]
            message, finish = AssistantMessage(content=None, tool_calls=calls), "tool_calls"
        return ChatResponse("r", 0, model, [Choice(0, message, finish)], usage=notes.usage)  # type: ignore[arg-type]

    async def stream(self, request: ChatRequest, model: str, notes: CallNotes) -> AsyncIterator[ChatChunk]:
        turn = self._next(request, notes)
        if isinstance(turn, str):
            yield ChatChunk("c", 0, model, [ChunkChoice(0, Delta(content=turn), "stop")])
            return
        deltas = [ToolCallDelta(i, f"call_{i}", name, args) for i, (name, args) in enumerate(turn)]
        yield ChatChunk("c", 0, model, [ChunkChoice(0, Delta(tool_calls=deltas), "tool_calls")])


class Rows(Accounting):
    def __init__(self) -> None:
        self.turns: list[int] = []
        self.calls: list[str] = []

    def turn(self, number: int, notes: CallNotes, status: int, elapsed: float) -> None:
        self.turns.append(number)

    def tool_call(self, event: ToolCalled, elapsed: float) -> None:
        self.calls.append(event.name)


def _setup(model: Model, tools: Tools, **bounds: Any) -> tuple[Loop, Toolbox, Rows, ChatRequest, list[ToolsListed]]:
    rows = Rows()
    box = Toolbox([Server("t", tools, needs_approval=lambda name: name == "rm")], Bounds(**bounds), rows)
    listed = asyncio.run(box.open())
    request = with_tools(ChatRequest("m", [Message("user", "hi")]), box)
    return Loop(model, "m", CallNotes(), box), box, rows, request, listed  # type: ignore[arg-type]


def test_calls_run_until_the_model_answers_and_every_turn_is_counted() -> None:
    tools = Tools()
    model = Model([("t__add", '{"a": 1, "b": 2}')], "three")
    loop, _, rows, request, listed = _setup(model, tools)
    assert [tool.name for tool in request.tools or ()] == ["t__add", "t__rm"]
    assert listed == [ToolsListed("t", [ListedTool("add", {"type": "object"}), ListedTool("rm", {"type": "object"})])]
    outcome = Outcome()
    response = asyncio.run(loop.run(request, outcome))
    assert response.choices[0].message.content == "three"
    assert [type(event) for event in outcome.events] == [ToolCalled]
    assert tools.calls == [("add", {"a": 1, "b": 2})]
    replay = model.requests[1].messages
    assert replay[-2].tool_calls is not None and replay[-2].tool_calls[0].name == "t__add"
    assert (replay[-1].role, replay[-1].content) == ("tool", "3")
    assert rows.turns == [1, 2] and rows.calls == ["add"]
    assert loop.notes.usage == Usage(20, 4, 24), "the request's usage is every turn's"


def test_a_call_that_needs_approval_ends_the_answer_unrun() -> None:
    tools = Tools()
    loop, *_, request, _ = _setup(Model([("t__rm", "{}")]), tools)
    outcome = Outcome()
    response = asyncio.run(loop.run(request, outcome))
    assert outcome.events == [ApprovalRequested("call_0", "t", "rm", "{}")] and outcome.pending_approval
    assert tools.calls == [] and response.choices[0].message.tool_calls is None


def test_the_call_bound_stops_the_loop() -> None:
    tools = Tools()
    model = Model([("t__add", '{"a": 1}')], [("t__add", '{"a": 2}')], "never reached")
    loop, *_, request, _ = _setup(model, tools, max_calls=1)
    outcome = Outcome()
    asyncio.run(loop.run(request, outcome))
    assert outcome.limit == "max_tool_calls" and tools.calls == [("add", {"a": 1})]
    assert len(model.turns) == 1


def test_a_client_function_among_the_calls_goes_back_to_the_client() -> None:
    tools = Tools()
    loop, *_, request, _ = _setup(Model([("t__add", "{}"), ("weather", "{}")]), tools)
    response = asyncio.run(loop.run(request, Outcome()))
    assert [call.name for call in response.choices[0].message.tool_calls or ()] == ["weather"]
    assert tools.calls == []


def test_broken_arguments_and_a_failing_server_are_told_to_the_model() -> None:
    tools = Tools()
    model = Model([("t__add", "{not json")], "sorry")
    loop, *_, request, _ = _setup(model, tools)
    outcome = Outcome()
    asyncio.run(loop.run(request, outcome))
    (event,) = outcome.events
    assert isinstance(event, ToolCalled) and event.error is not None and "not valid JSON" in event.error.message
    assert str(model.requests[1].messages[-1].content).startswith("Error calling the tool:")


def test_a_server_that_cannot_list_is_reported_and_offers_nothing() -> None:
    *_, request, listed = _setup(Model("hi"), Tools(fail=True))
    assert listed == [ToolsListed("t", [], "down")] and request.tools is None


def test_streamed_turns_hold_back_mcp_calls() -> None:
    tools = Tools()
    model = Model([("t__add", '{"a": 2, "b": 2}')], "four")
    loop, *_, request, _ = _setup(model, tools)
    outcome = Outcome()

    async def collect() -> list[Any]:
        return [item async for item in loop.stream(request, outcome)]

    items = asyncio.run(collect())
    chunks = [item for item in items if isinstance(item, ChatChunk)]
    assert all(not choice.delta.tool_calls for chunk in chunks for choice in chunk.choices)
    assert [choice.finish_reason for chunk in chunks for choice in chunk.choices] == [None, "stop"]
    assert [type(item).__name__ for item in items if not isinstance(item, ChatChunk)] == ["ToolCalled"]


def test_text_beside_calls_is_kept() -> None:
    class Chatty(Model):
        async def chat(self, request: ChatRequest, model: str, notes: CallNotes) -> ChatResponse:
            response = await super().chat(request, model, notes)
            if response.choices[0].message.tool_calls:
                response.choices[0].message.content = "Let me add."
            return response

    loop, *_, request, _ = _setup(Chatty([("t__add", '{"a": 1}')], "1"), Tools())
    outcome = Outcome()
    asyncio.run(loop.run(request, outcome))
    assert isinstance(outcome.events[0], Said) and outcome.events[0].text == "Let me add."


@pytest.mark.parametrize(("a", "b", "total"), [(None, None, None), (Usage(1, 1, 2), None, Usage(1, 1, 2))])
def test_add_usage(a: Usage | None, b: Usage | None, total: Usage | None) -> None:
    assert add_usage(a, b) == total


def test_function_names_fit_every_provider() -> None:
    assert chat_name("docs", "search") == "docs__search"
    odd = chat_name("docs", "files/read.v2")
    assert odd.startswith("docs__files_read_v2_") and len(odd) <= 64
    long = chat_name("a" * 40, "b" * 40)
    assert len(long) == 64 and long != chat_name("a" * 40, "b" * 41)
