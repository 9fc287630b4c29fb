"""A stream's pieces go through the server's cycle (its method named exchange.PIECES) only where the app's `send` is
that cycle's own: a middleware between the server and the gateway (a user's app wrapping `create_app`) sees every
piece."""

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

    async def babelgate_piece(self, body: bytes) -> None:  # exchange.PIECES
        self.pieces.append(body)


def _exchange(send: Any) -> Exchange:
    scope = {"type": "http", "headers": [], "method": "POST", "path": "/v1/chat/completions"}
    return Exchange(scope, lambda: None, send, RequestIds(), errors=encode_error)


async def test_the_cycles_own_send_writes_pieces_through_the_cycle() -> None:
    cycle = Cycle()
    await _exchange(cycle.send)._piece_writer()(b"data: 1\n\n")
    assert cycle.pieces == [b"data: 1\n\n"] and cycle.sent == []


async def test_a_wrapped_send_gets_every_piece_as_a_message() -> None:
    cycle = Cycle()
    seen: list[dict[str, Any]] = []

    async def middleware_send(message: dict[str, Any]) -> None:
        seen.append(message)
        await cycle.send(message)

    await _exchange(middleware_send)._piece_writer()(b"data: 1\n\n")
    assert cycle.pieces == []
    assert seen == cycle.sent == [{"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True}]


def test_the_server_cycle_has_the_piece_writer() -> None:
    from babelgate.server_cycle import Cycle as ServerCycle

    assert callable(getattr(ServerCycle, PIECES))
