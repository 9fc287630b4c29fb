"""A response store in front of another one, so that no request waits on a database write.

`put` answers at once from an in-process LRU cache and queues the write; one drainer task per store
hands the queue to the inner store, consecutive writes together in one `put_many` (under load, a task
per write cost more of the event loop than the write itself). The same process reads its own writes
from the cache, while other processes see them once the inner store has them. Writes and deletes run
one after another in the order they were made, so a slow first write cannot land after, and undo, a
later one of the same id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from babelgate.store.base import Clock, ResponseStore, StoredResponse, is_expired, now_seconds
from babelgate.store.conversation_table import LogQuery, LogRow
from babelgate.store.ledger_table import Row, RowForm, UsageQuery, row_form

log = logging.getLogger("babelgate.store")


@dataclass(slots=True)
class _Delete:
    response_id: str
    existed: asyncio.Future[bool]  # the inner store's answer, for the caller of `delete`


# Other instances write behind too: a response one of them answered a moment ago may be known to its
# client before the shared store has it. A missing id made this recently is looked up again until then
# (only ids that were just made and are not found pay for it).
WRITE_BEHIND_WINDOW: Final = 2.0
_LOOK_AGAIN_EVERY: Final = 0.05
_GONE_KEPT: Final = 1024


class CachedStore:
    # Its puts only remember and queue (the write to the inner store happens behind them): a put never waits
    # on the inner store, so a deadline around one (timed.py) would only cost a timer.
    writes_behind: Final = True

    def __init__(
        self,
        inner: ResponseStore,
        *,
        capacity: int = 1024,
        purge_interval: float = 3600.0,
        clock: Clock = time.time,
        made_at: Callable[[str], float | None] | None = None,
    ) -> None:
        """`made_at`: for a store other processes write to, when an id was made (None if it cannot
        tell): a miss on an id younger than WRITE_BEHIND_WINDOW is looked up again until it is older."""
        if capacity < 0:
            raise ValueError(f"capacity must not be negative, got {capacity}")
        self._inner = inner
        self._capacity = capacity
        self._purge_interval = purge_interval
        self._clock = clock
        self._cache: OrderedDict[str, StoredResponse] = OrderedDict()
        self._changes: deque[StoredResponse | _Delete] = deque()  # not yet handed to the inner store, oldest first
        self._drainer: asyncio.Task[None] | None = None
        # Changes are numbered as they are made and finish in that order, so "is the change of this id
        # done?" is one comparison with the number of the last finished change.
        self._made = 0
        self._finished = 0
        self._newest_change: dict[str, int] = {}  # id -> number of its newest change not yet finished
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []  # reads waiting for a change to finish
        self._loading: dict[str, object] = {}  # id -> token of the inner read whose result may be cached
        self._last_purge: float | None = None
        self._purge: asyncio.Task[None] | None = None
        self._made_at = made_at
        self._gone: OrderedDict[str, None] = OrderedDict()  # ids deleted here lately: never waited for

    async def put(self, record: StoredResponse) -> None:
        self._loading.pop(record.id, None)
        self._remember(record)
        self._queue(record.id, record)
        now = self._clock()
        if self._purge is None and (self._last_purge is None or now - self._last_purge >= self._purge_interval):
            self._last_purge = now
            self._purge = asyncio.create_task(self._purge_inner())

    async def put_many(self, records: list[StoredResponse]) -> None:
        for record in records:
            await self.put(record)

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
            pending = self._newest_change.get(response_id)
            if pending is not None:
                # Evicted before its write finished: the inner store will have it once the write is done.
                await self._finishing(pending)
            record = await self._inner.get(response_id)
        finally:
            # A put or delete of this id while we waited took the token away: what we read may be stale.
            still_current = self._loading.get(response_id) is token
            if still_current:
                del self._loading[response_id]
        if record is not None and still_current:
            self._remember(record)
        if record is None and self._made_at is not None and response_id not in self._gone:
            return await self._written_soon(response_id, self._made_at(response_id))
        return record

    async def _written_soon(self, response_id: str, made: float | None) -> StoredResponse | None:
        now = self._clock()
        # Instances' clocks may differ a little; an id "from the future" beyond that is no reason to wait.
        if made is None or not -WRITE_BEHIND_WINDOW < now - made < WRITE_BEHIND_WINDOW:
            return None
        while self._clock() < made + WRITE_BEHIND_WINDOW:
            await asyncio.sleep(_LOOK_AGAIN_EVERY)
            record = await self._inner.get(response_id)
            if record is not None:
                return record
        return None

    async def delete(self, response_id: str) -> bool:
        self._loading.pop(response_id, None)
        if self._made_at is not None:
            self._gone[response_id] = None
            if len(self._gone) > _GONE_KEPT:
                self._gone.popitem(last=False)
        cached = self._cache.pop(response_id, None)
        change = _Delete(response_id, asyncio.get_running_loop().create_future())
        self._queue(response_id, change)
        # Shielded: a caller that gives up does not take the queued delete back.
        existed = await asyncio.shield(change.existed)
        # A cached record whose write failed is gone from the inner store, yet callers of `get` saw it.
        return existed or (cached is not None and not is_expired(cached.expires_at, now_seconds(self._clock)))

    async def purge_expired(self) -> int:
        now = now_seconds(self._clock)
        for key in [key for key, record in self._cache.items() if is_expired(record.expires_at, now)]:
            del self._cache[key]
        return await self._inner.purge_expired()

    async def flush(self) -> None:
        """Wait for every background write, delete and purge started so far (and any they start)."""
        while True:
            busy = [task for task in (self._drainer, self._purge) if task is not None]
            if not busy:
                return
            await asyncio.wait(busy)

    async def secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        return await self._inner.secret(name, make)  # read once by its user, who keeps it: nothing to cache

    async def put_document(self, kind: str, document_id: str, body: bytes) -> None:
        await self._inner.put_document(kind, document_id, body)

    async def documents(self, kind: str) -> dict[str, bytes]:
        return await self._inner.documents(kind)

    async def document_version(self, kind: str) -> int:
        return await self._inner.document_version(kind)

    @property
    def ledger_form(self) -> RowForm:
        return row_form(self._inner)

    async def append_usage(self, rows: list[Row]) -> None:
        await self._inner.append_usage(rows)

    async def usage(self, since: float, until: float) -> list[dict[str, Any]]:
        return await self._inner.usage(since, until)

    async def usage_summary(self, query: UsageQuery) -> list[dict[str, Any]]:
        return await self._inner.usage_summary(query)

    async def usage_errors(self, since: float, until: float) -> list[dict[str, Any]]:
        return await self._inner.usage_errors(since, until)

    async def delete_usage_before(self, ts: float) -> int:
        return await self._inner.delete_usage_before(ts)

    async def append_conversations(self, rows: list[LogRow]) -> None:
        await self._inner.append_conversations(rows)

    async def conversations(self, query: LogQuery) -> list[LogRow]:
        return await self._inner.conversations(query)

    async def conversation(self, request_id: str) -> LogRow | None:
        return await self._inner.conversation(request_id)

    async def delete_conversations_before(self, ts: float) -> int:
        return await self._inner.delete_conversations_before(ts)

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

    def _queue(self, response_id: str, change: StoredResponse | _Delete) -> None:
        self._made += 1
        self._newest_change[response_id] = self._made
        self._changes.append(change)
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())

    async def _finishing(self, change: int) -> None:
        if change <= self._finished:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((change, done))
        await done

    async def _drain(self) -> None:
        """Hands the queued changes to the inner store, in order, until none is left."""
        try:
            while self._changes:
                first = self._changes.popleft()
                if isinstance(first, _Delete):
                    await self._delete(first)
                    self._finish([first.response_id])
                    continue
                batch = [first]
                while self._changes:
                    following = self._changes[0]
                    if isinstance(following, _Delete):
                        break
                    batch.append(following)
                    self._changes.popleft()
                await self._write(batch)
                self._finish([record.id for record in batch])
        finally:
            self._drainer = None

    def _finish(self, ids: list[str]) -> None:
        """Marks the oldest unfinished changes (these ids', in order) done and wakes the reads that waited."""
        for response_id in ids:
            self._finished += 1
            if self._newest_change.get(response_id) == self._finished:
                del self._newest_change[response_id]
        if self._waiters:
            waiting = []
            for change, done in self._waiters:
                if change > self._finished:
                    waiting.append((change, done))
                elif not done.done():
                    done.set_result(None)
            self._waiters = waiting

    async def _write(self, records: list[StoredResponse]) -> None:
        try:
            await self._inner.put_many(records)
        except TimeoutError:
            # The store is silent, not a record bad: one at a time would wait out a deadline each,
            # and a traceback per record says nothing more than this line.
            log.warning(
                "storing %d response(s) failed: the store did not answer in time (ids %s…); they stay"
                " readable only in this process until evicted",
                len(records),
                records[0].id,
            )
        except Exception:
            if len(records) == 1:
                _log_write_failure(records[0])
                return
            # One bad record must not cost the others their place in the inner store: each on its own.
            for record in records:
                try:
                    await self._inner.put(record)
                except Exception:
                    _log_write_failure(record)

    async def _delete(self, change: _Delete) -> None:
        try:
            existed = await self._inner.delete(change.response_id)
        except Exception as exc:
            if not change.existed.done():
                change.existed.set_exception(exc)
        else:
            if not change.existed.done():
                change.existed.set_result(existed)

    async def _purge_inner(self) -> None:
        try:
            await self._inner.purge_expired()
        except Exception:
            log.exception("purging expired responses failed; will retry after the purge interval")
        finally:
            self._purge = None


def _log_write_failure(record: StoredResponse) -> None:
    # The id only: a record's content is the user's conversation and never goes to the log.
    log.exception("storing response %s failed; it stays readable only in this process until evicted", record.id)
