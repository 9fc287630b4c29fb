"""A response store in front of another one, so that no request waits on a database write.

`put` answers at once from an in-process LRU cache and hands the write to a background task;
the same process reads its own writes from the cache, while other processes see them once the
inner store has them. Writes and deletes of one id run in the order they were made, each after
the previous one has finished, so a slow first write cannot land after, and undo, a later one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from babelgate.store.base import Clock, ResponseStore, StoredResponse, is_expired, now_seconds

_T = TypeVar("_T")

log = logging.getLogger("babelgate.store")


class CachedStore:
    def __init__(self, inner: ResponseStore, *, capacity: int = 1024, purge_interval: float = 3600.0,
                 clock: Clock = time.time) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must not be negative, got {capacity}")
        self._inner = inner
        self._capacity = capacity
        self._purge_interval = purge_interval
        self._clock = clock
        self._cache: OrderedDict[str, StoredResponse] = OrderedDict()
        # Strong references: the event loop keeps only weak ones, and a collected task is a lost write.
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_change: dict[str, asyncio.Task[Any]] = {}  # the newest pending write or delete per id
        self._loading: dict[str, object] = {}  # id -> token of the inner read whose result may be cached
        self._last_purge: float | None = None
        self._purge: asyncio.Task[None] | None = None

    async def put(self, record: StoredResponse) -> None:
        self._loading.pop(record.id, None)
        self._remember(record)
        self._change(record.id, lambda: self._write(record))
        now = self._clock()
        if self._purge is None and (self._last_purge is None or now - self._last_purge >= self._purge_interval):
            self._last_purge = now
            self._purge = self._track(asyncio.create_task(self._purge_inner()))

    async def get(self, response_id: str) -> StoredResponse | None:
        record = self._cache.get(response_id)
        if record is not None:
            if is_expired(record.expires_at, now_seconds(self._clock)):
                del self._cache[response_id]
                return None
            self._cache.move_to_end(response_id)
            return record
        token = self._loading[response_id] = object()
        try:
            pending = self._last_change.get(response_id)
            if pending is not None:
                # Evicted before its write finished: the inner store will have it once the write is done.
                await asyncio.wait([pending])
            record = await self._inner.get(response_id)
        finally:
            # A put or delete of this id while we waited took the token away: what we read may be stale.
            still_current = self._loading.get(response_id) is token
            if still_current:
                del self._loading[response_id]
        if record is not None and still_current:
            self._remember(record)
        return record

    async def delete(self, response_id: str) -> bool:
        self._loading.pop(response_id, None)
        cached = self._cache.pop(response_id, None)
        existed = await asyncio.shield(self._change(response_id, lambda: self._inner.delete(response_id)))
        # A cached record whose write failed is gone from the inner store, yet callers of `get` saw it.
        return existed or (cached is not None and not is_expired(cached.expires_at, now_seconds(self._clock)))

    async def purge_expired(self) -> int:
        now = now_seconds(self._clock)
        for key in [key for key, record in self._cache.items() if is_expired(record.expires_at, now)]:
            del self._cache[key]
        return await self._inner.purge_expired()

    async def flush(self) -> None:
        """Wait for every background write, delete and purge started so far (and any they start)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self) -> None:
        await self.flush()
        self._cache.clear()
        await self._inner.close()

    def _remember(self, record: StoredResponse) -> None:
        if self._capacity == 0:
            return
        self._cache[record.id] = record
        self._cache.move_to_end(record.id)
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)

    def _change(self, response_id: str, operation: Callable[[], Awaitable[_T]]) -> asyncio.Task[_T]:
        previous = self._last_change.get(response_id)
        task = self._track(asyncio.create_task(_after(previous, operation)))
        self._last_change[response_id] = task

        def forget(done: asyncio.Task[Any]) -> None:
            if self._last_change.get(response_id) is done:
                del self._last_change[response_id]

        task.add_done_callback(forget)
        return task

    def _track(self, task: asyncio.Task[_T]) -> asyncio.Task[_T]:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _write(self, record: StoredResponse) -> None:
        try:
            await self._inner.put(record)
        except Exception:
            # The id only: a record's content is the user's conversation and never goes to the log.
            log.exception("storing response %s failed; it stays readable only in this process until evicted",
                          record.id)

    async def _purge_inner(self) -> None:
        try:
            await self._inner.purge_expired()
        except Exception:
            log.exception("purging expired responses failed; will retry after the purge interval")
        finally:
            self._purge = None


async def _after(previous: asyncio.Task[Any] | None, operation: Callable[[], Awaitable[_T]]) -> _T:
    if previous is not None:
        await asyncio.wait([previous])  # its outcome belongs to its own caller; only the order matters here
    return await operation()
