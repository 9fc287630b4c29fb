"""The usage ledger: one row per request (who, what, which upstream, how it ended, tokens, time),
written to the store (SQLite by default, PostgreSQL when configured) asynchronously, in batches,
never in the request path, and flushed when the gateway shuts down.

A request appends its row to a bounded queue (a deque append: no I/O, no await). A background task
writes what has gathered every `FLUSH_SECONDS`, or at once when `BATCH` rows wait. The ledger never
slows or fails a request, whatever the store does:

- A write that fails, or takes longer than `WRITE_SECONDS` (a silent database), starts an outage:
  one warning, then retries after 0.5 s, 1 s, 2 s … up to `RETRY_MAX_SECONDS` (with jitter, so
  instances that lost the same database do not come back at the same instant), and one info line
  when the store is back, with what was written and dropped meanwhile.
- At most `limit` rows wait in memory (queued, and the batch being retried); past it the oldest
  go, counted by reason (metric `babelgate_ledger_dropped{reason="queue_full"}`).
- At shutdown the last rows get `CLOSE_SECONDS` to reach the store; what does not goes to the spool
  (governance/ledger_spool.py), written to the store at the next start. Rows neither written nor
  spooled are counted (`reason="shutdown"`) and logged as lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate import headers as gateway_headers
from babelgate.randomness import RANDOM
from babelgate.store.ledger_table import MESSAGE_CHARS, PLAIN, Row, in_form, row_form

if TYPE_CHECKING:
    from babelgate.governance.ledger_spool import Claimed, LedgerSpool
    from babelgate.store import ResponseStore

log = logging.getLogger("babelgate.ledger")
FLUSH_SECONDS: Final = 0.5
BATCH: Final = 512
# About 450 bytes a row while it waits (its own values: no object of the answer's, accounting.py): 100,000 rows
# is about 45 MB (the docs round a row up to 0.5 KB: "about 50 MB").
QUEUE_LIMIT: Final = 100_000
PRUNE_EVERY: Final = 3600.0
# Longer than SQLite's busy timeout (store/sqlite.py: 10 s), so a write waiting for another
# process's lock is not taken for an outage; a PostgreSQL write cut short is rolled back.
WRITE_SECONDS: Final = 15.0
RETRY_FIRST_SECONDS: Final = 0.5
RETRY_MAX_SECONDS: Final = 30.0
CLOSE_SECONDS: Final = 5.0
DROP_REASONS: Final = ("queue_full", "shutdown")


@dataclass
class Outage:
    """The store stopped taking rows: since when, how often it was tried, what happened meanwhile."""

    started: float
    attempts: int = 0


class Ledger:
    def __init__(
        self,
        store: ResponseStore,
        *,
        limit: int = QUEUE_LIMIT,
        retention: float = 0.0,
        scrub: Callable[[str], str] = str,
        spool: LedgerSpool | None = None,
        write_seconds: float = WRITE_SECONDS,
        retry_first: float = RETRY_FIRST_SECONDS,
        retry_max: float = RETRY_MAX_SECONDS,
        close_seconds: float = CLOSE_SECONDS,
        append: Callable[[list[Row]], Awaitable[None]] | None = None,
        delete_before: Callable[[float], Awaitable[int]] | None = None,
        what: str = "ledger",
    ) -> None:
        self.store = store
        # The writer serves another table the same way (the conversation log, conversation/store_log.py): its
        # rows come made (`record_ready`), its own append and prune replace the ledger's.
        self._append = append
        self._delete_before = delete_before
        self.what = what
        self.form = row_form(store)  # the store's rows: None and bools, or what it binds without a conversion
        self.scrub = scrub  # takes secrets out of an error message before it is kept
        self.limit = limit
        self.retention = retention  # seconds a row is kept; 0: forever
        self.spool = spool  # where rows go when the store cannot take them at shutdown; None: nowhere
        self.write_seconds = write_seconds
        self.retry_first = retry_first
        self.retry_max = retry_max
        self.close_seconds = close_seconds
        self._pruned_at = 0.0
        self.dropped = dict.fromkeys(DROP_REASONS, 0)
        # Rows dropped since the store last took a write: an outage's report counts them all, those dropped
        # before its first failed write was known too (a queue that fills while that write waits).
        self._dropped_unwritten = 0
        self.outage: Outage | None = None
        self._queue: deque[Entry] = deque()
        self._retrying: list[Row] = []  # the batch a failed write gave back, tried first
        self._writing = 0  # rows of the write under way
        self._spooled = 0  # rows in spool files claimed for replay, not yet written
        self._wake: asyncio.Event | None = None
        self._closing: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._lock: asyncio.Lock | None = None  # one write at a time: a flush waits for the one under way

    @property
    def depth(self) -> int:
        """Rows waiting to be written: queued, given back by a failed write, being written, spooled."""
        return len(self._queue) + len(self._retrying) + self._writing + self._spooled

    def record(self, row: Entry) -> None:
        queue = self._queue
        if len(queue) + len(self._retrying) + self._writing >= self.limit and not self._drop_oldest():
            self._count_dropped("queue_full", 1)  # the write under way holds all the room: this row goes
            return
        queue.append(row)
        if self._writer is None and not self._closed:
            self.start()
        # In an outage the writer keeps to its backoff: a full batch does not wake it.
        elif len(queue) >= BATCH and self._wake is not None and self.outage is None:
            self._wake.set()

    def record_row(self, row: Row) -> None:
        """A row made by its caller (an MCP tool call's, mcp/), plain: queued like a request's entry, in the
        store's form."""
        self.record((READY, in_form(row, self.form)))

    def record_ready(self, row: Row) -> None:
        """A row already in the store's form (another table's), queued as it is."""
        self.record((READY, row))

    def _drop_oldest(self) -> bool:
        if self._retrying:
            self._retrying.pop(0)  # a batch (at most BATCH rows): cheap enough, and rare
        elif self._queue:
            self._queue.popleft()
        else:
            return False
        self._count_dropped("queue_full", 1)
        return True

    def _count_dropped(self, reason: str, rows: int) -> None:
        self.dropped[reason] += rows
        self._dropped_unwritten += rows

    def start(self) -> None:
        """Starts the writer (at the gateway's start: rows spooled by an earlier run are replayed
        even before the first request). Without a running loop, the first row starts it."""
        if self._writer is not None or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._wake, self._closing = asyncio.Event(), asyncio.Event()
        self._writer = loop.create_task(self._run())

    async def _run(self) -> None:
        assert self._wake is not None and self._closing is not None
        await self._replay()
        while not self._closed:
            if self.outage is not None:
                await self._rest(self._closing, self._retry_delay(self.outage.attempts))
            elif len(self._queue) < BATCH:
                self._wake.clear()
                await self._rest(self._wake, FLUSH_SECONDS)
            if self._closed:
                return  # close() writes what is left, under its own deadline
            # Spooled rows first (they are the oldest); no second try in the same round if they failed.
            if self.outage is None or await self._replay():
                await self._write_queued(drain=False)
            await self._prune()

    @staticmethod
    async def _rest(event: asyncio.Event, seconds: float) -> None:
        # asyncio.timeout, not wait_for: a wake-up that coincides with a cancellation must not
        # swallow the cancellation (the task would outlive its loop's shutdown).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()

    def _retry_delay(self, attempts: int) -> float:
        delay = min(self.retry_max, self.retry_first * 2.0 ** max(0, attempts - 1))
        # Jitter: instances that lost the same database do not all come back at the same instant.
        return delay * RANDOM.uniform(0.5, 1.0)

    async def _prune(self) -> None:
        """Rows older than the retention go, once an hour (the first time at the first write)."""
        now = time.time()
        if not self.retention or now - self._pruned_at < PRUNE_EVERY or self.outage is not None:
            return
        self._pruned_at = now
        try:
            async with asyncio.timeout(self.write_seconds):
                delete_before = self._delete_before or self.store.delete_usage_before
                dropped = await delete_before(now - self.retention)
        except Exception as exc:
            # The store went down between the write and the prune: the same outage as the writes',
            # with its one warning; the prune is tried again once the store is back.
            self._failed(exc)
            self._pruned_at = 0.0
            return
        if dropped:
            log.info(
                "dropped %d %s rows older than the retention (%g days)", dropped, self.what, self.retention / 86400
            )

    async def flush(self) -> None:
        """Write every queued row; returns once the rows queued before the call are in the store.
        In an outage it returns at once: the writer's retries own the rows, and a request that
        flushes (`/admin/usage`) must not wait on a store known to be down."""
        if self.outage is not None:
            return
        await self._write_queued()

    async def _write_queued(self, *, drain: bool = True) -> None:
        """Write the queued rows. `drain`: until none is left (a flush, the shutdown); the writer's own rounds
        write what has gathered and go back to rest, unless a full batch waits again: writing the few rows
        that came in during a write at once, round after round, made batches of a dozen rows, each paying a
        transaction and a hand-off to the store's thread."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            first = True
            while self._retrying or (self._queue and (drain or first or len(self._queue) >= BATCH)):
                first = False
                if self._retrying:
                    batch, self._retrying = self._retrying, []
                else:
                    # BATCH rows at a time: the rows of a write are built all at once (about 0.5 KB each), and
                    # what a burst of them takes the process keeps as resident memory.
                    entries = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
                    scrub, absent, flags = self.scrub, self.form.absent, self.form.flags
                    batch = [entry[1] if entry[0] is READY else _row(entry, scrub, absent, flags) for entry in entries]
                try:
                    written = await self._write(batch)
                except BaseException:  # cut short by close(): the rows are spooled with the rest
                    self._retrying = batch + self._retrying
                    raise
                if not written:
                    self._retrying = batch + self._retrying
                    return

    async def _write(self, rows: list[Row]) -> bool:
        """One store write under the deadline; False when it failed (the outage then starts, or goes on)."""
        self._writing = len(rows)
        try:
            async with asyncio.timeout(self.write_seconds):
                await (self._append or self.store.append_usage)(rows)
        except Exception as exc:
            self._failed(exc)
            return False
        finally:
            self._writing = 0
        self._succeeded(len(rows))
        return True

    def _failed(self, exc: Exception) -> None:
        if self.outage is None:
            self.outage = Outage(started=time.monotonic())
            # One line per outage, no traceback: a store that is down fails every retry alike.
            log.warning(
                "the %s's store is unavailable (%s); %d rows wait in memory (at most %d), retried with backoff",
                self.what,
                self._describe(exc),
                self.depth,
                self.limit,
            )
        self.outage.attempts += 1

    def _succeeded(self, rows: int) -> None:
        outage, self.outage = self.outage, None
        dropped, self._dropped_unwritten = self._dropped_unwritten, 0
        if outage is not None:
            log.info(
                "the %s's store is back after %.1f s: %d rows written now, %d dropped since its last write",
                self.what,
                time.monotonic() - outage.started,
                rows + self.depth,
                dropped,
            )

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            return f"no answer within {self.write_seconds:g} s"
        return f"{type(exc).__name__}: {self.scrub(str(exc))}"

    async def _replay(self) -> bool:
        """Writes the spool files of earlier runs, each in one store write (all its rows or none);
        False when the store failed."""
        if self.spool is None:
            return True
        files = await asyncio.to_thread(self.spool.claim)
        self._spooled = sum(claimed.rows for claimed in files)
        for claimed in files:
            if not await self._replay_one(self.spool, claimed):
                return False
        return True

    async def _replay_one(self, spool: LedgerSpool, claimed: Claimed) -> bool:
        form = self.form
        rows = [in_form(row, form) for row in await asyncio.to_thread(spool.read, claimed)]  # plain, as JSON has them
        self._spooled -= claimed.rows  # counted in the write under way meanwhile
        written = False
        try:
            written = await self._write(rows)
        finally:
            if not written:
                self._spooled += claimed.rows
        if not written:
            return False
        await asyncio.to_thread(spool.done, claimed)
        log.info("replayed %d ledger rows spooled at an earlier shutdown (%s)", len(rows), claimed.path.name)
        return True

    async def close(self) -> None:
        """Write what is left within `close_seconds`; spool the rest. The writer is woken, not
        cancelled, unless it outlives the deadline: a write cut short is rolled back by PostgreSQL,
        and its rows are spooled with the others."""
        self._closed = True
        deadline = time.monotonic() + self.close_seconds
        if self._writer is not None:
            assert self._wake is not None and self._closing is not None
            self._wake.set()
            self._closing.set()
            done, _ = await asyncio.wait({self._writer}, timeout=self.close_seconds)
            if not done:
                self._writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._writer
            self._writer = None
        remaining = deadline - time.monotonic()
        if remaining > 0 and (self._queue or self._retrying):
            self.write_seconds = min(self.write_seconds, remaining)
            await self._write_queued()
        await self._keep_the_rest()

    async def _keep_the_rest(self) -> None:
        form = self.form
        rows = self._retrying + [
            entry[1] if entry[0] is READY else _row(entry, self.scrub, form.absent, form.flags) for entry in self._queue
        ]
        self._retrying, self._queue = [], deque()
        if self.spool is not None:
            self.spool.release_all()  # spool files not replayed stay for the next start
        if not rows:
            return
        if self.spool is None:
            self._lost(rows, "no spool directory is set")
            return
        try:
            path = await asyncio.to_thread(self.spool.write, rows)
        except OSError as exc:
            self._lost(rows, f"the spool could not be written: {type(exc).__name__}: {exc}")
            return
        log.warning(
            "the ledger's store did not take the last %d rows at shutdown; they are in %s and are"
            " written at the next start",
            len(rows),
            path,
        )

    def _lost(self, rows: list[Row], why: str) -> None:
        self._count_dropped("shutdown", len(rows))
        log.error("%d %s rows lost at shutdown: the store did not take them and %s", len(rows), self.what, why)


# What a request leaves in the queue (accounting.py): the raw values, in this order; the row is made by
# the writer (`_row`), off the request path. A row made already (`record_row`) waits as (READY, row).
Entry = tuple[Any, ...]
READY: Final = object()
_HIT: Final = (gateway_headers.CACHE, b"hit")
_ONE_ATTEMPT: Final = (gateway_headers.ATTEMPTS, b"1")


def attempts_of(headers: list[tuple[bytes, bytes]]) -> int:
    """The router's count of attempts as the call's headers say it, 0 for an answer from the cache (no upstream,
    no cost); none said: one, as when a route has one deployment or the request was refused before the router.
    Asked as whole pairs (`in`, in C, the gateway's own constants compared by identity first): nearly every
    answer took one attempt, and only the others' headers are walked."""
    if _HIT in headers:
        return 0
    if _ONE_ATTEMPT not in headers:
        for name, value in headers:
            if name == gateway_headers.ATTEMPTS:
                return int(value)
    return 1


def _row(entry: Entry, scrub: Callable[[str], str], absent: Any = None, flags: tuple[Any, Any] = PLAIN.flags) -> Row:
    """The row (store/ledger_table.py COLUMNS order) of a request's entry, in the store's form: `absent` for no
    value, `flags` for False and True (`RowForm`)."""
    (
        ts,
        request_id,
        key_id,
        team,
        route,
        requested,
        provider,
        model,
        attempts,
        status,
        error_code,
        prompt_tokens,
        completion_tokens,
        cached_tokens,
        reasoning_tokens,
        cost,
        elapsed,
        ttft,
        stream,
        message,
        session,
        user,
        end_user,
        guardrails,
        realtime,
        search_units,
        batch_id,
    ) = entry
    hit = not attempts
    return (
        ts,
        request_id.decode(),
        key_id if key_id is not None else absent,
        team if team is not None else absent,
        route,
        requested or absent,
        provider,
        model,
        attempts,
        status,
        error_code or absent,
        prompt_tokens,
        completion_tokens,
        cached_tokens,
        reasoning_tokens,
        cost if cost is not None else (0.0 if hit else absent),
        # Milliseconds to three decimals: the microseconds rounded as an integer, then divided. `round(x, 3)`
        # gives the same figure but through a decimal conversion of the float, twice a row.
        round(elapsed * 1_000_000) / 1000,
        round(ttft * 1_000_000) / 1000 if ttft is not None else absent,
        flags[stream],
        flags[hit],
        # What `/admin/errors` shows: our text, or the upstream's words (scrubbed of secrets, cut short).
        scrub(message)[:MESSAGE_CHARS] if message is not None else absent,
        session if session is not None else absent,
        # server, tool, bytes_in, bytes_out: a tool call's, never a request's. Written out, not a starred constant:
        # a starred item makes the display a list built, extended and converted (`LIST_TO_TUPLE`), for every row.
        absent,
        absent,
        absent,
        absent,
        user if user is not None else absent,
        end_user if end_user is not None else absent,
        absent,  # content: a tool call's, never a request's
        orjson.dumps(guardrails).decode() if guardrails is not None else absent,  # each guardrail's action
        realtime if realtime is not None else absent,
        search_units if search_units is not None else absent,
        batch_id if batch_id is not None else absent,
    )
