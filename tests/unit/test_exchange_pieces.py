"""A stream's pieces go through the server's cycle (exchange.PIECES) only where the app's `send` is that cycle's
own: a middleware between the server and the gateway (a user's app wrapping `create_app`) sees every piece."""

from __future__ import annotations

from typing import Any

from babelgate.exchange import PIECES, Exchange
from babelgate.frontends.openai_errors import encode_error
from babelgate.observability.request_id import RequestIds


class Cycle:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.pieces: list[bytes] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def piece(self, body: bytes) -> None:
        self.pieces.append(body)


def _exchange(cycle: Cycle, send: Any) -> Exchange:
    scope = {"type": "http", "headers": [], "method": "POST", "path": "/v1/chat/completions", PIECES: cycle}
    return Exchange(scope, lambda: None, send, RequestIds(), errors=encode_error)


async def test_the_cycles_own_send_writes_pieces_through_the_cycle() -> None:
    cycle = Cycle()
    await _exchange(cycle, cycle.send)._piece_writer()(b"data: 1\n\n")
    assert cycle.pieces == [b"data: 1\n\n"] and cycle.sent == []


async def test_a_wrapped_send_gets_every_piece_as_a_message() -> None:
    cycle = Cycle()
    seen: list[dict[str, Any]] = []

    async def middleware_send(message: dict[str, Any]) -> None:
        seen.append(message)
        await cycle.send(message)

    await _exchange(cycle, middleware_send)._piece_writer()(b"data: 1\n\n")
    assert cycle.pieces == []
    assert seen == cycle.sent == [{"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True}]
