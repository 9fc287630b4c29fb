"""Writes made in one turn of the event loop leave together at its end.

Every answer (and every upstream request) completed in one turn of the loop then leaves in a row, after the
turn's work, instead of one by one between it. Over loopback a write does the reader's side of TCP as well and
wakes the reader when it sleeps (a client, a proxy or an upstream on the same host, the bench's wrk and fake
upstream): written at once, nearly every answer woke a sleeping thread on another CPU, a wake-up that costs a
virtual machine an exit to its hypervisor, paid in the writer's system time; written at the turn's end, the first
write wakes the reader and the others find it awake, and the loop goes back to its own work sooner. The bytes,
their order on each connection and the number of system calls are the same; a write leaves at most one turn
later, before the loop waits for anything (docs/performance.md, "Writes at the end of the turn").
"""

from __future__ import annotations

import asyncio
from typing import Any


class TurnWriter:
    """A connection's writes, handed to its transport together at the end of the loop's turn, in the order they
    were made; `close` writes what waits first. The server's connections (server_protocol.py, server_cycle.py)
    and the upstream client's (connection.py) write through one each."""

    __slots__ = ("_loop", "_parts", "transport")

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        # What waits for the end of the turn: bytes, or any bytes-like object an app handed the server (typed `Any`,
        # so that the compiled build checks nothing a transport would take).
        self._parts: list[Any] | None = None

    def write(self, data: Any) -> None:
        parts = self._parts
        if parts is None:
            self._parts = [data]
            self._loop.call_soon(self.flush)
        else:
            parts.append(data)

    def writelines(self, data: tuple[Any, ...]) -> None:
        parts = self._parts
        if parts is None:
            self._parts = list(data)
            self._loop.call_soon(self.flush)
        else:
            parts.extend(data)

    def flush(self) -> None:
        """What waits, written now (the end of the turn, a close, a connection handed to another protocol)."""
        parts, self._parts = self._parts, None
        if parts and not self.transport.is_closing():
            self.transport.writelines(parts)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return bool(self.transport.is_closing())
