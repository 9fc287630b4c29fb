"""Closing the Redis-shared routing state ends its background tasks, even one that took a cancellation for
something else (a read's own timeout under redis-py) and went on listening."""

from __future__ import annotations

import asyncio

from babelgate.routing.shared import _stopped


async def test_a_task_that_swallowed_its_cancellation_is_cancelled_until_it_ends() -> None:
    cancellations = 0

    async def listening() -> None:
        nonlocal cancellations
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancellations += 1
                if cancellations == 1:
                    continue  # taken for a timeout: listens on
                raise

    task = asyncio.get_running_loop().create_task(listening())
    await asyncio.sleep(0)
    await asyncio.wait_for(_stopped(task), 10)
    assert task.cancelled() and cancellations == 2


async def test_a_task_that_ended_on_its_own_error_is_stopped_quietly() -> None:
    async def failing() -> None:
        raise ConnectionError("gone")

    task = asyncio.get_running_loop().create_task(failing())
    await asyncio.sleep(0)
    await asyncio.wait_for(_stopped(task), 10)
    assert task.done()
