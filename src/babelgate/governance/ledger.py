"""The usage ledger: one row per request (who, what, which upstream, how it ended, tokens, time),
written to the store (SQLite by default, PostgreSQL when configured) asynchronously, in batches,
never in the request path, and flushed when the gateway shuts down.

A request appends its row to a bounded queue (a deque append: no I/O, no await). A background task
writes what has gathered every `FLUSH_SECONDS`, or at once when `BATCH` rows wait. When the store
falls behind and the queue is full, the oldest rows are dropped and counted (metric
`babelgate_ledger_dropped`): the ledger never slows or fails a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from babelgate import response_cache
from babelgate.store.ledger_table import MESSAGE_CHARS

if TYPE_CHECKING:
    from babelgate.store import ResponseStore

log = logging.getLogger("babelgate.ledger")
FLUSH_SECONDS: Final = 0.5
BATCH: Final = 512
QUEUE_LIMIT: Final = 100_000
PRUNE_EVERY: Final = 3600.0


class Ledger:
    def __init__(self, store: ResponseStore, *, limit: int = QUEUE_LIMIT, retention: float = 0.0,
                 scrub: Callable[[str], str] = str) -> None:
        self.store = store
        self.scrub = scrub  # takes secrets out of an error message before it is kept
        self.limit = limit
        self.retention = retention  # seconds a row is kept; 0: forever
        self._pruned_at = 0.0
        self.dropped = 0
        self._queue: deque[Entry] = deque()
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._lock: asyncio.Lock | None = None  # one write at a time: a flush waits for the one under way

    @property
    def depth(self) -> int:
        return len(self._queue)

    def record(self, row: Entry) -> None:
        queue = self._queue
        if len(queue) >= self.limit:
            queue.popleft()
            self.dropped += 1
        queue.append(row)
        if self._writer is None and not self._closed:
            self._start()
        elif len(queue) >= BATCH and self._wake is not None:
            self._wake.set()

    def _start(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._wake = asyncio.Event()
        self._writer = loop.create_task(self._run())

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._closed:
            if len(self._queue) < BATCH:
                self._wake.clear()
                # asyncio.timeout, not wait_for: a wake-up that coincides with a cancellation must not
                # swallow the cancellation (the task would outlive its loop's shutdown).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(FLUSH_SECONDS):
                        await self._wake.wait()
            await self.flush()
            await self._prune()

    async def _prune(self) -> None:
        """Rows older than the retention go, once an hour (the first time at the first write)."""
        now = time.time()
        if not self.retention or now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        try:
            dropped = await self.store.delete_usage_before(now - self.retention)
        except Exception:
            log.warning("could not drop ledger rows past their retention", exc_info=True)
            return
        if dropped:
            log.info("dropped %d ledger rows older than the retention (%g days)", dropped, self.retention / 86400)

    async def flush(self) -> None:
        """Write every queued row; a failed write keeps its rows for the next try (up to the limit).
        Returns once the rows queued before the call are in the store."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self._write_all()

    async def _write_all(self) -> None:
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(BATCH * 4, len(self._queue)))]
            try:
                await self.store.append_usage([_row(entry, self.scrub) for entry in batch])
            except Exception:
                log.warning("could not write %d ledger rows; keeping them for the next try", len(batch),
                            exc_info=True)
                self._queue.extendleft(reversed(batch))
                while len(self._queue) > self.limit:
                    self._queue.popleft()
                    self.dropped += 1
                return

    async def close(self) -> None:
        """Let the writer finish its write, then write what is left (the gateway's shutdown: SIGTERM
        loses nothing). The writer is woken, not cancelled: a write cut short could be lost or,
        on a store that finishes it in its own thread, written twice."""
        self._closed = True
        if self._writer is not None:
            assert self._wake is not None
            self._wake.set()
            with contextlib.suppress(Exception):
                await self._writer
            self._writer = None
        await self.flush()


# What a request leaves in the queue (accounting.py): the raw values, in this order; the row's dict
# is made by the writer (`_row`), off the request path.
Entry = tuple[Any, ...]


def _row(entry: Entry, scrub: Callable[[str], str]) -> dict[str, Any]:
    (ts, request_id, key_id, team, route, requested, provider, model, headers, status, error_code, usage,
     price, elapsed, ttft, stream, message) = entry
    attempts = next((int(value) for name, value in headers if name == b"x-babelgate-attempts"), 1)
    hit = (response_cache.HEADER, b"hit") in headers  # answered from the response cache: no upstream, no cost
    if hit:
        attempts = 0
    return {
        "ts": ts, "request_id": request_id.decode(), "key_id": key_id, "team": team, "route": route,
        "model_requested": requested, "provider": provider, "model": model, "attempts": attempts,
        "status": status, "error_code": error_code or None,
        "prompt_tokens": usage.prompt_tokens if usage else 0,
        "completion_tokens": usage.completion_tokens if usage else 0,
        "cached_tokens": (usage.cached_tokens or 0) if usage else 0,
        "reasoning_tokens": (usage.reasoning_tokens or 0) if usage else 0,
        "cost_usd": price.cost(usage) if price is not None and usage is not None else (0.0 if hit else None),
        "latency_ms": round(elapsed * 1000, 3),
        "ttft_ms": round(ttft * 1000, 3) if ttft is not None else None,
        "stream": stream,
        "cache_hit": hit,
        # What `/admin/errors` shows: our text, or the upstream's words (scrubbed of secrets, cut short).
        "error_message": scrub(message)[:MESSAGE_CHARS] if message is not None else None,
    }
