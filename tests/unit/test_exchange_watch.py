"""Exchange.watch: a client that leaves cancels the call; a call that ends sooner never watches."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from babelgate.exchange import Exchange, _LongCalls
from babelgate.frontends.openai_errors import encode_error
from babelgate.observability.request_id import RequestIds


class Server:
    """The server's side of `receive`: what it was asked, and a disconnect when told."""

    def __init__(self) -> None:
        self.asked = 0
        self.gone = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        self.asked += 1
        await self.gone.wait()
        return {"type": "http.disconnect"}


def _exchange(server: Server) -> Exchange:
    scope = {"type": "http", "headers": [], "method": "POST", "path": "/v1/chat/completions"}

    async def send(message: dict[str, Any]) -> None:
        return None

    return Exchange(scope, server.receive, send, RequestIds(), errors=encode_error)


async def test_a_call_that_ends_before_the_delay_never_reads_from_the_server() -> None:
    server = Server()
    exchange = _exchange(server)
    exchange.watch(0.05)
    await asyncio.sleep(0.01)
    exchange.unwatch()
    await asyncio.sleep(0.1)
    assert server.asked == 0
    assert not _LongCalls._all  # nothing left behind that holds the loop


async def test_a_client_that_leaves_after_the_delay_cancels_the_call() -> None:
    server = Server()
    exchange = _exchange(server)

    async def call() -> None:
        exchange.watch(0.05)
        await asyncio.sleep(10)

    task = asyncio.create_task(call())
    await asyncio.sleep(0.1)
    assert server.asked == 1  # the watcher started
    server.gone.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1)
    assert exchange.disconnected
    exchange.unwatch()


async def test_a_client_that_left_before_the_delay_is_noticed_when_it_starts() -> None:
    server = Server()
    server.gone.set()
    exchange = _exchange(server)

    async def call() -> None:
        exchange.watch(0.05)
        await asyncio.sleep(10)

    task = asyncio.create_task(call())
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1)
    exchange.unwatch()
    assert not _LongCalls._all
