"""A connection's writes leave together at the end of the loop's turn (http/turn_writer.py): in the order they were
made, each connection's apart, before a close, and never to a transport that is closing."""

from __future__ import annotations

import asyncio
from typing import Any

from babelgate.http.turn_writer import TurnWriter


class Recording:
    def __init__(self, log: list[tuple[str, Any]], name: str) -> None:
        self.log = log
        self.name = name
        self.closing = False

    def writelines(self, parts: Any) -> None:
        self.log.append((self.name, b"".join(parts)))

    def close(self) -> None:
        self.log.append((self.name, "close"))
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing


async def test_the_writes_of_a_turn_leave_at_its_end_in_order_one_call_per_connection() -> None:
    log: list[tuple[str, Any]] = []
    loop = asyncio.get_running_loop()
    first, second = TurnWriter(Recording(log, "a"), loop), TurnWriter(Recording(log, "b"), loop)
    first.writelines((b"HTTP/1.1 200 OK\r\n\r\n", b"one"))
    second.write(b"two")
    first.write(b"three")
    assert log == []  # nothing during the turn
    await asyncio.sleep(0)
    assert log == [("a", b"HTTP/1.1 200 OK\r\n\r\nonethree"), ("b", b"two")]
    first.write(b"four")  # a later turn: written at its end
    await asyncio.sleep(0)
    assert log[-1] == ("a", b"four")


async def test_a_close_writes_what_waits_first_and_a_closing_transport_gets_nothing() -> None:
    log: list[tuple[str, Any]] = []
    loop = asyncio.get_running_loop()
    writer = TurnWriter(Recording(log, "a"), loop)
    writer.write(b"answer")
    writer.close()
    assert log == [("a", b"answer"), ("a", "close")]
    await asyncio.sleep(0)  # the turn's end finds nothing left
    assert log == [("a", b"answer"), ("a", "close")]
    gone = Recording(log, "b")
    late = TurnWriter(gone, loop)
    late.write(b"lost")
    gone.closing = True  # the client left before the turn ended
    await asyncio.sleep(0)
    assert ("b", b"lost") not in log
    assert late.is_closing()
