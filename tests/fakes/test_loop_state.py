"""The background loop's report for a failed test (tests/conftest.py): where each task waits, or, when a call
blocks the loop, where that call is."""

from __future__ import annotations

import asyncio
import os
import socket
import threading

from tests.fakes.servers import LoopThread


async def _waits_for(event: asyncio.Event) -> None:
    await event.wait()


def test_the_report_names_where_each_task_waits_and_a_call_that_blocks_the_loop() -> None:
    thread = LoopThread()
    try:
        event = thread.run(_make_event())
        task = asyncio.run_coroutine_threadsafe(_waits_for(event), thread.loop)
        assert "_waits_for" in _eventually_reported(thread, "_waits_for")

        released = threading.Event()

        def stuck_in_a_blocking_call() -> None:
            released.wait(30)

        thread.loop.call_soon_threadsafe(stuck_in_a_blocking_call)
        report = thread.state()
        released.set()
        assert report.startswith("the loop is blocked") and "stuck_in_a_blocking_call" in report
        thread.loop.call_soon_threadsafe(event.set)
        task.result(10)
    finally:
        thread.stop()


async def _make_event() -> asyncio.Event:
    return asyncio.Event()


def _eventually_reported(thread: LoopThread, name: str) -> str:
    report = ""
    for _ in range(100):  # the task starts on the loop's next turn
        report = thread.state()
        if name in report:
            break
    return report


def test_the_report_names_a_descriptor_closed_behind_the_loop_s_back() -> None:
    thread = LoopThread()
    watched, other = socket.socketpair()
    try:
        thread.loop.call_soon_threadsafe(thread.loop.add_reader, watched.fileno(), lambda: None)
        number = watched.fileno()
        assert "not with its epoll set" not in _eventually_reported(thread, "(no task)")
        os.close(watched.detach())  # closed without the loop's remove_reader: its number stays registered
        assert f"registered with the loop but not with its epoll set: fds [{number}]" in thread.state()
    finally:
        thread.loop.call_soon_threadsafe(thread.loop.remove_reader, number)
        other.close()
        thread.stop()
