"""`Loop.stream_closing` (tool_loop/loop.py): the stream the Responses and Messages frontends relay when the gateway
runs MCP tools. The toolbox (its MCP sessions) is closed when the stream ends, however it ends, and what happened
before the first turn comes first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from babelgate.providers.base import CallNotes
from babelgate.schema.chat import ChatRequest, Message
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta
from babelgate.tool_loop.loop import Loop, Outcome


class _Accounting:
    def turn(self, *_: Any) -> None:
        pass


class _Toolbox:
    """What the loop asks of a toolbox when the model calls no tool, and whether it was closed."""

    def __init__(self) -> None:
        self.turns = 0
        self.accounting = _Accounting()
        self.closed = 0

    def owns(self, name: str) -> bool:
        return False

    async def aclose(self) -> None:
        self.closed += 1


class _Provider:
    def __init__(self, texts: list[str], fail: bool = False) -> None:
        self.texts, self.fail = texts, fail

    async def stream(self, request: ChatRequest, model: str, notes: CallNotes) -> AsyncIterator[ChatChunk]:
        for text in self.texts:
            yield ChatChunk("c", 0, model, [ChunkChoice(0, Delta(content=text))])
        if self.fail:
            raise RuntimeError("the upstream went away")


def _loop(provider: _Provider, toolbox: _Toolbox) -> Loop:
    return Loop(provider, "m", CallNotes(), toolbox)  # type: ignore[arg-type]


REQUEST = ChatRequest(model="m", messages=[Message("user", "hi")])


def test_the_opening_comes_first_and_the_toolbox_is_closed_at_the_end() -> None:
    toolbox = _Toolbox()
    opening = [object(), object()]

    async def read() -> list[Any]:
        return [
            item async for item in _loop(_Provider(["a", "b"]), toolbox).stream_closing(REQUEST, Outcome(), opening)
        ]

    items = asyncio.run(read())
    assert items[:2] == opening
    assert [item.choices[0].delta.content for item in items[2:]] == ["a", "b"]
    assert toolbox.closed == 1


def test_the_toolbox_is_closed_when_the_upstream_fails_or_the_reader_stops() -> None:
    failing, stopped = _Toolbox(), _Toolbox()

    async def fail() -> None:
        async for _ in _loop(_Provider(["a"], fail=True), failing).stream_closing(REQUEST, Outcome()):
            pass

    async def stop() -> None:
        stream = _loop(_Provider(["a", "b", "c"]), stopped).stream_closing(REQUEST, Outcome())
        async for _ in stream:
            break
        await stream.aclose()  # type: ignore[attr-defined]  # a client gone: the relay closes the stream

    with pytest.raises(RuntimeError, match="went away"):
        asyncio.run(fail())
    asyncio.run(stop())
    assert failing.closed == 1 and stopped.closed == 1
