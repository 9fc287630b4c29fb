"""Several upstream calls for one client request (the translated road's prompts), side by side.

At most `MAX_PARALLEL` calls run at once, so a long list of prompts does not open as many upstream
connections. The first failure ends the whole request and cancels the calls still running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar

T = TypeVar("T")
MAX_PARALLEL: Final = 8
_QUEUE_PER_CALL: Final = 4  # chunks buffered per call before a fast call waits for a slow client


async def gather_bounded(calls: Sequence[Callable[[], Awaitable[T]]], *, limit: int = MAX_PARALLEL) -> list[T]:
    """Each call's result, in the order of `calls`."""
    if len(calls) == 1:
        return [await calls[0]()]
    gate = asyncio.Semaphore(limit)

    async def run(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    tasks = [asyncio.ensure_future(run(call)) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        await _cancel(tasks)
        raise


async def merge_streams(
    streams: Sequence[AsyncIterator[T]], *, limit: int = MAX_PARALLEL
) -> AsyncIterator[tuple[int, T]]:
    """(index of the stream, item) as items come from any of `streams`; each stream's own order is
    kept. Closing the merged stream closes every stream still open."""
    if len(streams) == 1:
        async with contextlib.aclosing(streams[0]) as only:  # type: ignore[type-var]
            async for item in only:
                yield 0, item
        return
    gate = asyncio.Semaphore(limit)
    queue: asyncio.Queue[tuple[int, T | Exception | None]] = asyncio.Queue(len(streams) * _QUEUE_PER_CALL)

    async def pump(index: int, stream: AsyncIterator[T]) -> None:
        try:
            async with gate, contextlib.aclosing(stream):  # type: ignore[type-var]
                async for item in stream:
                    await queue.put((index, item))
        except Exception as error:  # handed to the consumer, which raises it; cancellation is not caught
            await queue.put((index, error))
            return
        await queue.put((index, None))

    tasks = [asyncio.ensure_future(pump(index, stream)) for index, stream in enumerate(streams)]
    try:
        running = len(tasks)
        while running:
            index, entry = await queue.get()
            if entry is None:
                running -= 1
            elif isinstance(entry, Exception):
                raise entry
            else:
                yield index, entry
    finally:
        await _cancel(tasks)


async def _cancel(tasks: Sequence[asyncio.Future[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
