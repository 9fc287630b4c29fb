"""Writes made in one turn of the event loop leave together at its end.

Every answer (and every upstream request, every piece of a stream) completed in one turn of the loop then leaves
in a row, after the turn's work, instead of one by one between it. Over loopback a write does the reader's side of
TCP as well and wakes the reader when it sleeps (a client, a proxy or an upstream on the same host, the bench's wrk
and fake upstream): written at once, nearly every answer woke a sleeping thread on another CPU, a wake-up that
costs a virtual machine an exit to its hypervisor, paid in the writer's system time; written at the turn's end,
the first write wakes the reader and the others find it awake, and the loop goes back to its own work sooner. The
bytes, their order on each connection and the number of system calls are the same; a write leaves at most one
turn later, before the loop waits for anything (docs/performance.md, "Writes at the end of the turn").

One callback a turn serves every connection that wrote in it (`Turn`): a stream's pieces, one a turn on each of
many connections, cost a list append each instead of a callback each.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from typing import Any, Final

# The turn's callback runs in a context of its own, the same every time: a transport's write needs no context
# variable, and the loop would otherwise copy the writer's context for each callback.
_CONTEXT: Final = contextvars.Context()


class Turn:
    """One loop's connections with writes waiting, written by one callback at the end of the loop's turn. (It holds
    no reference to its loop: `_TURNS` keeps it by the loop's weak reference, which a value holding the loop would
    keep alive; the writers, which hold it, leave the list at every turn's end.)"""

    __slots__ = ("waiting",)

    def __init__(self) -> None:
        self.waiting: list[TurnWriter] = []

    def end(self) -> None:
        """The end of the turn: every writer's waiting writes, in the order the writers first wrote."""
        waiting, self.waiting = self.waiting, []
        for writer in waiting:
            try:
                writer.flush()
            except Exception as error:  # one connection's failure is not the others': as the loop reports a callback's
                writer.loop.call_exception_handler({"message": "a connection's writes failed", "exception": error})


# One `Turn` per event loop, not per gateway: the loop's turn is what every connection on it shares.
_TURNS: Final[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Turn]] = weakref.WeakKeyDictionary()


def turn_of(loop: asyncio.AbstractEventLoop) -> Turn:
    """The loop's one `Turn` (asked once a connection)."""
    turn = _TURNS.get(loop)
    if turn is None:
        turn = _TURNS[loop] = Turn()
    return turn


class TurnWriter:
    """A connection's writes, handed to its transport together at the end of the loop's turn, in the order they
    were made; `close` writes what waits first. The server's connections (server_protocol.py, server_cycle.py)
    and the upstream client's (connection.py) write through one each."""

    __slots__ = ("_parts", "_turn", "loop", "transport")

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self._turn = turn_of(loop)
        # What waits for the end of the turn: bytes, or any bytes-like object an app handed the server (typed `Any`,
        # so that the compiled build checks nothing a transport would take).
        self._parts: list[Any] | None = None

    # `write` and `writelines` join the turn's waiting writers themselves (written out, not a method of `Turn`: a call
    # fewer for each of a request's two writes).
    def write(self, data: Any) -> None:
        parts = self._parts
        if parts is None:
            self._parts = [data]
            turn = self._turn
            if not turn.waiting:
                self.loop.call_soon(turn.end, context=_CONTEXT)
            turn.waiting.append(self)
        else:
            parts.append(data)

    def writelines(self, data: tuple[Any, ...]) -> None:
        parts = self._parts
        if parts is None:
            self._parts = list(data)
            turn = self._turn
            if not turn.waiting:
                self.loop.call_soon(turn.end, context=_CONTEXT)
            turn.waiting.append(self)
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
