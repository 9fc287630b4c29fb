"""The transport under `babelgate serve`'s HTTP protocol: one loop iteration's writes leave as one."""

from __future__ import annotations

import asyncio
from typing import Any

from babelgate.server_protocol import CoalescingTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def writelines(self, chunks: list[bytes]) -> None:
        self.calls.append(("writelines", list(chunks)))

    def close(self) -> None:
        self.closing = True
        self.calls.append(("close", None))

    def abort(self) -> None:
        self.closing = True
        self.calls.append(("abort", None))

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 10

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


async def test_the_head_and_body_of_one_answer_go_out_in_one_call() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert real.calls == [] and transport.get_write_buffer_size() == 10 + 19
    transport.write(b'{"ok":true}')  # the body takes the head along at once
    assert real.calls == [("writelines", [b"HTTP/1.1 200 OK\r\n\r\n", b'{"ok":true}'])]
    await asyncio.sleep(0)
    assert len(real.calls) == 1  # the end-of-turn flush finds nothing held
    transport.write(b"data: 1\n\n")  # a stream's later chunks are not held
    assert real.calls[-1] == ("write", b"data: 1\n\n")


async def test_a_head_without_a_body_leaves_at_the_end_of_the_turn() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert real.calls == []
    await asyncio.sleep(0)
    assert real.calls == [("write", b"HTTP/1.1 204 No Content\r\n\r\n")]


async def test_close_sends_what_is_pending_first_and_abort_drops_it() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.close()
    assert real.calls == [("write", b"HTTP/1.1 200 OK\r\n\r\n"), ("close", None)]
    await asyncio.sleep(0)
    assert len(real.calls) == 2  # the scheduled flush finds nothing left

    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 500 never sent\r\n\r\n")
    transport.abort()
    await asyncio.sleep(0)
    assert real.calls == [("abort", None)]


async def test_everything_else_is_the_real_transports() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    assert transport.get_extra_info("peername") == "info:peername"
    assert not transport.is_closing()
