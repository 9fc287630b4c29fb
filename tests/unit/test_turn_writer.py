"""A connection's writes leave together at the end of the loop's turn (http/turn_writer.py): in the order they were
made, each connection's apart, before a close, and never to a transport that is closing; one callback a turn for
every connection, and one connection's failure is not the others'."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

from babelgate.http.turn_writer import Turn, TurnWriter


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


async def test_one_callback_a_turn_serves_every_connection_that_wrote_in_it() -> None:
    log: list[tuple[str, Any]] = []
    loop = asyncio.get_running_loop()
    writers = [TurnWriter(Recording(log, name), loop) for name in "abc"]
    scheduled: list[Any] = []
    call_soon = loop.call_soon

    def counted(callback: Any, *args: Any, **kwargs: Any) -> Any:
        scheduled.append(callback)
        return call_soon(callback, *args, **kwargs)

    loop.call_soon = counted  # type: ignore[method-assign]
    try:
        for writer in writers:  # a stream's pieces on three connections, one a turn each
            writer.write(b"piece")
        writers[0].write(b"more")
        await asyncio.sleep(0)
    finally:
        del loop.call_soon  # type: ignore[method-assign]
    assert len([callback for callback in scheduled if isinstance(getattr(callback, "__self__", None), Turn)]) == 1
    assert log == [("a", b"piecemore"), ("b", b"piece"), ("c", b"piece")]


async def test_a_connection_whose_write_fails_leaves_the_others_written_and_tells_the_loop() -> None:
    log: list[tuple[str, Any]] = []
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))

    class Broken(Recording):
        def writelines(self, parts: Any) -> None:
            raise RuntimeError("the transport broke")

    try:
        first, broken, last = (
            TurnWriter(transport, loop) for transport in (Recording(log, "a"), Broken(log, "b"), Recording(log, "c"))
        )
        for writer in (first, broken, last):
            writer.write(b"answer")
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert log == [("a", b"answer"), ("c", b"answer")]
    assert [str(context["exception"]) for context in reported] == ["the transport broke"]


def test_a_closed_loop_is_not_kept_alive_by_its_turn() -> None:
    loop = asyncio.new_event_loop()
    try:
        writer = TurnWriter(Recording([], "a"), loop)
        writer.write(b"answer")
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
    alive = weakref.ref(loop)
    del loop, writer
    gc.collect()
    assert alive() is None
