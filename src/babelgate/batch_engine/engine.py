"""The batch engine of one gateway instance: it claims a chunk of a live batch's lines (store/batch_records.py)
with a lease it renews, runs the chunk's lines that have no outcome yet through the pipeline (line.py), at most
`batches.concurrency` at once, and records their outcomes in batches off the lines' path. The instance that
records a batch's last chunk finishes it: its status, and for an OpenAI batch its output and error files
(results.py).

A crashed instance's chunks are claimed again once their lease runs out, by another instance or by this one after
a restart: the lines recorded before the crash are skipped, the others run again. Several instances on one
PostgreSQL claim different chunks of the same batch (docs/batches.md, "Durability")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from babelgate.batch_engine.line import run_line
from babelgate.batch_engine.provider_road import minimum_lines, road_of, run_provider_batch, sent_before
from babelgate.batch_engine.results import finish
from babelgate.config.batches import BatchesConfig
from babelgate.errors import GatewayError, RateLimitExceeded
from babelgate.frontends.batches import jsonl
from babelgate.frontends.route import Route
from babelgate.governance.budgets import BudgetExceeded
from babelgate.observability.request_id import RequestIds
from babelgate.routing.registry import Deployment
from babelgate.store.batch_records import BatchRecord, BatchStore, Chunk, Kind, Outcome
from babelgate.store.file_contents import FileContents

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

log = logging.getLogger("babelgate.batches")

IDLE_POLL: Final = 0.5  # seconds before a claim is tried again when there was nothing to claim
IDLE_MOST: Final = 5.0  # the longest wait between claims of an idle instance (doubling from IDLE_POLL)
CHUNKS_AT_ONCE: Final = 2  # one running, the next claimed, so the lines never wait for a claim
FLUSH_LINES: Final = 32  # outcomes written together
FLUSH_SECONDS: Final = 0.5  # at the latest, outcomes wait this long before they are written
STATUS_EVERY: Final = 1.0  # seconds between reads of a running batch's status (a cancel, its expiry)
PURGE_EVERY: Final = 600.0  # seconds between purges of expired files
PACE_LEAST: Final = 0.05  # seconds a line refused by a rate limit waits at least before it runs again
PACE_MOST: Final = 60.0  # and at most (the limit's Retry-After, within these)
PACE_UNSAID: Final = 0.25  # where the limit says no Retry-After (requests in flight: one may end any moment)
# Seconds between looks, by the holder of a batch's finishing chunk, at the batch's open chunks.
FINISH_POLL: Final = 0.5


class BatchEngine:
    def __init__(
        self,
        current: Callable[[], Runtime],
        routes: Mapping[str, Route],
        ids: RequestIds,
        settings: BatchesConfig,
        store: BatchStore,
        contents: FileContents,
    ) -> None:
        self._current = current
        self._routes = routes
        self._ids = ids
        self.settings = settings
        self.store = store
        self.contents = contents
        self.holder = f"{secrets.token_hex(6)}"  # this instance, in the chunks' leases
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._held: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._finishing: set[tuple[str, int]] = set()  # of `_held`, the chunks that finish their batch
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()  # set (and replaced) whenever a chunk here ends
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.get_running_loop().create_task(work(), name=f"babelgate-batches-{work.__name__}")
                for work in (self._claim_loop, self._renew_loop, self._purge_loop)
            ]

    def wake(self) -> None:
        """A batch was created: claim without waiting for the next poll."""
        self._wake.set()

    async def aclose(self) -> None:
        """Stops claiming and running; what was not recorded runs again once the leases run out."""
        tasks = [*self._tasks, *self._held.values()]
        self._tasks = []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    async def _claim_loop(self) -> None:
        idle = IDLE_POLL
        while True:
            try:
                self._wake.clear()  # before the claim: a wake while it runs is not lost
                if self._running_lines() < CHUNKS_AT_ONCE:
                    now = time.time()
                    chunk = await self.store.claim(self.holder, now, now + self.settings.lease_seconds)
                    if chunk is not None:
                        key = (chunk.batch_id, chunk.number)
                        if chunk.finishes:
                            self._finishing.add(key)
                        task = asyncio.get_running_loop().create_task(self._run_chunk(chunk))
                        self._held[key] = task
                        task.add_done_callback(lambda _, key=key: self._forget(key))  # type: ignore[misc]
                        idle = IDLE_POLL
                        continue
                try:
                    await asyncio.wait_for(self._wake.wait(), idle)
                    idle = IDLE_POLL
                except TimeoutError:
                    # Nothing to do here: the store is asked less and less often (another instance's new batch
                    # waits at most IDLE_MOST), this instance's own batches wake it at once.
                    idle = min(idle * 2, IDLE_MOST)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("could not claim batch lines", exc_info=True)
                await asyncio.sleep(IDLE_MOST)

    def _running_lines(self) -> int:
        """Chunks of lines this instance runs (the finishing chunks it holds mostly wait)."""
        return len(self._held) - len(self._finishing)

    def _forget(self, key: tuple[str, int]) -> None:
        self._held.pop(key, None)
        self._finishing.discard(key)
        self._wake.set()  # room for the next chunk: claimed now, not at the next poll
        self._progress.set()  # a batch's finisher here looks at once
        self._progress = asyncio.Event()

    async def _renew_loop(self) -> None:
        lease = self.settings.lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            if self._held:
                try:
                    await self.store.renew(self.holder, list(self._held), time.time() + lease)
                except Exception:
                    log.warning("could not renew the leases of batch lines", exc_info=True)

    async def _purge_loop(self) -> None:
        while True:
            try:
                await purge_expired_files(self.store, self.contents)
            except Exception:
                log.warning("could not purge expired files", exc_info=True)
            await asyncio.sleep(PURGE_EVERY)

    async def _run_chunk(self, chunk: Chunk) -> None:
        try:
            if chunk.finishes:
                await self._finish(chunk)
            else:
                await _ChunkRun(self, chunk).run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("batch %s: chunk %d failed; it runs again once its lease ends", chunk.batch_id, chunk.number)

    async def _finish(self, chunk: Chunk) -> None:
        """Waits until every other chunk of the batch is done, then finishes the batch (results.py) and the chunk."""
        # Polled, as the other chunks may be another instance's; told at once when one of this instance's ends.
        while True:
            progress = self._progress
            if await self.store.open_chunks(chunk.batch_id) <= 1:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(progress.wait(), FINISH_POLL)
        await finish(self, chunk.batch_id)
        await self.store.record_lines(chunk.batch_id, [], done=chunk.number)

    def runtime(self) -> Runtime:
        return self._current()

    def route(self, url: str) -> Route:
        return self._routes[url[3:] if url.startswith("/v1/") else url]


class _ChunkRun:
    """One claimed chunk: its lines run, their outcomes recorded in batches."""

    def __init__(self, engine: BatchEngine, chunk: Chunk) -> None:
        self.engine = engine
        self.chunk = chunk
        self.pending: list[Outcome] = []
        self.flushed_at = time.monotonic()
        self.writing = asyncio.Lock()
        self.status = ""
        self.expires_at = 0
        self.checked_at = 0.0

    async def run(self) -> None:
        engine, chunk = self.engine, self.chunk
        store = engine.store
        batch = await store.get_batch(chunk.batch_id)
        if batch is None:
            return
        if batch.status == "validating":
            await store.set_status(batch.id, "in_progress", since=("validating",), body={"in_progress_at": _now()})
        self.status, self.expires_at, self.checked_at = batch.status, batch.expires_at, time.monotonic()
        recorded = await store.recorded_lines(batch.id, chunk.first, chunk.end)
        try:
            data = await engine.contents.read(batch.input_file_id, chunk.start, chunk.stop)
        except FileNotFoundError:  # deleted while the batch ran: its lines cannot be read, by any instance
            await _input_gone(store, batch)
            return
        running: set[asyncio.Task[None]] = set()
        runtime = engine.runtime()
        roads: dict[tuple[str, str, str], tuple[Deployment, list[tuple[int, str, dict[str, Any]]]]] = {}
        here: list[tuple[int, str, dict[str, Any]]] = []  # the lines the gateway runs
        index = chunk.first
        for number, start, stop in jsonl.lines(data):
            line, index = index, index + 1
            if line in recorded:
                continue
            parsed = jsonl.parse_line(data[start:stop], number)
            custom_id = str(parsed.get("custom_id", ""))
            stopped = await self._stopped()
            if stopped is not None:
                self.pending.append(Outcome(line, custom_id, stopped))
                continue
            deployment = road_of(runtime, batch, parsed)
            if deployment is not None:  # the provider's batch API runs it, with the chunk's other lines for it
                url = str(parsed["url"])
                group = roads.setdefault((url, deployment.provider.name, deployment.model), (deployment, []))
                group[1].append((line, custom_id, parsed))
                continue
            here.append((line, custom_id, parsed))
        for (url, _, _), (deployment, lines) in roads.items():
            if not sent_before(batch, chunk.number, deployment) and len(lines) < minimum_lines(deployment):
                here += lines  # too few for the provider's batch API (and never sent to it): run here
                continue
            bodies = [(line, custom_id, parsed["body"]) for line, custom_id, parsed in lines]
            provider_batch = self._provider_batch(runtime, batch, deployment, url, bodies)
            running.add(asyncio.get_running_loop().create_task(provider_batch))
        for line, custom_id, parsed in here:
            await engine._slots.acquire()
            task = asyncio.get_running_loop().create_task(self._line(batch, line, custom_id, parsed))
            running.add(task)
            task.add_done_callback(running.discard)
        if running:
            await asyncio.gather(*running)
        await self._flush(done=chunk.number)

    async def _stopped(self) -> Kind | None:
        """Why no more lines start: the batch was cancelled, or its window is over."""
        if time.monotonic() - self.checked_at > STATUS_EVERY:
            batch = await self.engine.store.get_batch(self.chunk.batch_id)
            self.status = batch.status if batch is not None else "cancelling"
            self.checked_at = time.monotonic()
        if self.status == "cancelling":
            return "canceled"
        if time.time() >= self.expires_at:
            return "expired"
        return None

    async def _line(self, batch: BatchRecord, line: int, custom_id: str, parsed: dict[str, object]) -> None:
        """Runs the line; one the key's or the model's own rate limit refused waits as long as the limit says and
        runs again (the batch keeps to the limits rather than failing its lines), unless the batch stopped."""
        try:
            body = parsed.get("body")
            while True:
                status, answer, request_id, error = await run_line(
                    self.engine.runtime(),
                    self.engine._routes,
                    self.engine._ids,
                    owner=batch.owner,
                    owner_key=batch.body.get("owner_key"),
                    batch_id=batch.id,
                    url=str(parsed.get("url")),
                    body=dict(body) if isinstance(body, dict) else {},
                )
                if not paced(error) or await self._stopped() is not None:
                    break
                assert error is not None
                await asyncio.sleep(min(max(error.retry_after or PACE_UNSAID, PACE_LEAST), PACE_MOST))
        finally:
            self.engine._slots.release()
        await self._record(Outcome(line, custom_id, "ok", status, request_id, answer))

    async def _provider_batch(
        self,
        runtime: Runtime,
        batch: BatchRecord,
        deployment: Deployment,
        url: str,
        lines: list[tuple[int, str, dict[str, Any]]],
    ) -> None:
        store = self.engine.store
        await run_provider_batch(
            runtime,
            self.engine._ids,
            batch,
            self.chunk.number,
            deployment,
            url,
            lines,
            remember=lambda body: store.remember(batch.id, body),
            stopped=self._stopped,
            record=self._record,
        )

    async def _record(self, outcome: Outcome) -> None:
        self.pending.append(outcome)
        if len(self.pending) >= FLUSH_LINES or time.monotonic() - self.flushed_at > FLUSH_SECONDS:
            await self._flush()

    async def _flush(self, done: int | None = None) -> None:
        async with self.writing:
            outcomes, self.pending = self.pending, []
            self.flushed_at = time.monotonic()
            if outcomes or done is not None:
                await self.engine.store.record_lines(self.chunk.batch_id, outcomes, done=done)


def paced(error: GatewayError | None) -> bool:
    """A refusal by the caller's own rate limits (not a budget, not an upstream's 429): the line waits its turn."""
    return isinstance(error, RateLimitExceeded) and not isinstance(error, BudgetExceeded)


def _now() -> int:
    return int(time.time())


async def _input_gone(store: BatchStore, batch: BatchRecord) -> None:
    """The batch fails as a whole (OpenAI's `failed`, with why in its `errors`): no chunk of it is claimed again."""
    message = f"The input file {batch.input_file_id} was deleted before every line was read."
    errors = {"object": "list", "data": [{"code": "input_file_missing", "message": message, "param": "input_file_id"}]}
    now = _now()
    body = {"failed_at": now, "ended_at": now, "errors": errors}
    await store.set_status(batch.id, "failed", since=("validating", "in_progress", "cancelling"), body=body)


async def purge_expired_files(store: BatchStore, contents: FileContents) -> int:
    """Expired files' contents, then their records (a record never names contents that are gone)."""
    purged = 0
    while True:
        expired = await store.expired_files(_now(), 500)
        for record in expired:
            await contents.delete(record.id)
            await store.delete_file(record.id)
        purged += len(expired)
        if len(expired) < 500:
            return purged
