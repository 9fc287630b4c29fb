"""The ledger's writer while its store fails: backoff (not a loop), one warning per outage, a bounded
queue whose drops are counted, the real depth, recovery on its own, and at shutdown the spool (or
rows counted as lost, never promised and dropped). Real stores: memory, and SQLite made to fail."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from babelgate.governance.ledger import Entry, Ledger, _row, attempts_of
from babelgate.governance.ledger_spool import LedgerSpool, store_tag
from babelgate.store.ledger_table import Row, as_dict, row_of
from babelgate.store.memory import MemoryResponseStore
from babelgate.store.sqlite import SQLiteResponseStore


def entry(n: int) -> Entry:
    return (
        time.time(),
        f"req-{n}".encode(),
        "vk_1",
        None,
        "chat.completions",
        "gpt-4o-mini",
        "openai",
        "gpt-4o-mini",
        1,  # attempts
        200,
        "",
        0,  # prompt, completion, cached and reasoning tokens
        0,
        0,
        0,
        None,
        0.01,
        None,
        False,
        None,
        None,  # session
        None,  # user
        None,  # end user
        None,  # guardrails
        None,  # realtime
        None,  # search units
        None,  # batch
    )


class Failing:
    """A memory store whose writes fail (refused) or hang (a silent database) until it is healed;
    it counts the writes it was asked for."""

    def __init__(self) -> None:
        self.inner = MemoryResponseStore()
        self.mode = "refuse"
        self.attempts = 0

    async def append_usage(self, rows: list[Row]) -> None:
        self.attempts += 1
        if self.mode == "refuse":
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
        if self.mode == "hang":
            await asyncio.Event().wait()
        await self.inner.append_usage(rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.01)


def ledger_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "babelgate.ledger" and r.levelno >= logging.WARNING]


async def test_a_failing_store_is_retried_with_backoff_and_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    store = Failing()
    ledger = Ledger(store, retry_first=0.05, retry_max=0.2)  # type: ignore[arg-type]
    caplog.set_level(logging.INFO, logger="babelgate.ledger")
    for n in range(2000):  # more than a batch: the writer is woken at once, then keeps to its backoff
        ledger.record(entry(n))
    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.sleep(1.5)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    # Delays of at least 25, 50, 100, 100 … ms: about 17 tries in 1.5 s at the most, not thousands.
    assert 3 <= store.attempts <= 20, store.attempts
    assert cpu < 0.3 * wall, f"{cpu:.2f} s of CPU in {wall:.2f} s"
    assert ledger.depth == 2000 and ledger.outage is not None
    (warning,) = ledger_warnings(caplog)
    assert warning.exc_info is None and "ConnectionRefusedError" in warning.getMessage()
    store.mode = "pass"
    await until(lambda: ledger.depth == 0)
    assert len(store.inner._usage) == 2000
    assert [r.getMessage() for r in caplog.records if "is back" in r.getMessage()] != []
    await ledger.close()


async def test_past_the_limit_the_oldest_rows_go_and_are_counted() -> None:
    store = Failing()
    ledger = Ledger(store, limit=1000, retry_first=0.05, retry_max=0.1)  # type: ignore[arg-type]
    for n in range(1500):
        ledger.record(entry(n))
        if n == 600:
            await until(lambda: store.attempts > 0)  # a batch is given back by the failed write
    assert ledger.depth == 1000 and ledger.dropped == {"queue_full": 500, "shutdown": 0}
    store.mode = "pass"
    await until(lambda: ledger.depth == 0)
    ids = sorted(int(row["request_id"].removeprefix("req-")) for row in store.inner._usage)
    assert ids == list(range(500, 1500))
    await ledger.close()


async def test_rows_dropped_before_the_first_failed_write_is_known_are_reported_when_the_store_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A queue that fills while the first write hangs drops rows before any outage is known: the report when the
    store is back counts them with the rest (as the metric does)."""
    store = Failing()
    store.mode = "hang"
    ledger = Ledger(store, limit=1000, write_seconds=0.3, retry_first=0.05, retry_max=0.1)  # type: ignore[arg-type]
    caplog.set_level(logging.INFO, logger="babelgate.ledger")
    ledger.record(entry(0))
    await until(lambda: store.attempts == 1)  # the first write hangs: no outage yet
    for n in range(1, 1200):
        ledger.record(entry(n))
    assert ledger.outage is None and ledger.dropped["queue_full"] == 200
    await until(lambda: ledger.outage is not None)
    store.mode = "pass"
    await until(lambda: ledger.depth == 0)
    (back,) = [r.getMessage() for r in caplog.records if "is back" in r.getMessage()]
    assert "200 dropped" in back, back
    await ledger.close()


async def test_a_silent_store_is_given_up_at_the_deadline_and_close_is_bounded(tmp_path: Path) -> None:
    store = Failing()
    store.mode = "hang"
    spool = LedgerSpool(tmp_path, "t")
    ledger = Ledger(
        store,
        write_seconds=0.2,
        retry_first=0.05,
        retry_max=0.1,
        close_seconds=0.5,  # type: ignore[arg-type]
        spool=spool,
    )
    for n in range(600):
        ledger.record(entry(n))
    await until(lambda: ledger.outage is not None)
    assert ledger.depth == 600
    started = time.monotonic()
    await ledger.close()
    assert time.monotonic() - started < 2
    assert spooled_lines(tmp_path) == [600]


def spooled_lines(directory: Path) -> list[int]:
    """Lines of each spool file; a file the replay removes between the listing and the read is gone."""
    counts = []
    for path in sorted(directory.glob("ledger-*.jsonl")):
        try:
            counts.append(len(path.read_bytes().splitlines()))
        except FileNotFoundError:
            continue
    return counts


def _blocked_sqlite(tmp_path: Path) -> tuple[Path, Path]:
    """A database path SQLite cannot open while `blocker` is a file where its directory should be."""
    blocker = tmp_path / "state"
    blocker.write_text("not a directory")
    return blocker / "ledger.db", blocker


async def test_sqlite_down_at_shutdown_spools_and_the_next_start_replays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database, blocker = _blocked_sqlite(tmp_path)
    spool_dir = tmp_path / "spool"
    tag = store_tag(f"sqlite:{database}")
    first = Ledger(SQLiteResponseStore(database), spool=LedgerSpool(spool_dir, tag), close_seconds=1)
    caplog.set_level(logging.INFO, logger="babelgate.ledger")
    for n in range(700):
        first.record(entry(n))
    await first.close()
    assert first.dropped["shutdown"] == 0
    assert any("written at the next start" in r.getMessage() for r in ledger_warnings(caplog))
    assert spooled_lines(spool_dir) == [700]
    await first.store.close()

    blocker.unlink()  # the store is back
    store = SQLiteResponseStore(database)
    second = Ledger(store, spool=LedgerSpool(spool_dir, tag))
    second.start()  # at the gateway's start, before any request
    await until(lambda: spooled_lines(spool_dir) == [])
    rows = await store.usage(0, time.time() + 1)
    assert sorted(row["request_id"] for row in rows) == sorted(f"req-{n}" for n in range(700))
    await second.close()
    await store.close()


async def test_rows_that_cannot_be_spooled_are_counted_lost_not_promised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database, _ = _blocked_sqlite(tmp_path)
    unwritable = tmp_path / "spool-is-a-file"
    unwritable.write_text("")
    ledger = Ledger(SQLiteResponseStore(database), spool=LedgerSpool(unwritable, "t"), close_seconds=1)
    for n in range(300):
        ledger.record(entry(n))
    await ledger.close()
    assert ledger.dropped == {"queue_full": 0, "shutdown": 300}
    messages = [r.getMessage() for r in ledger_warnings(caplog)]
    assert any("300 ledger rows lost at shutdown" in m for m in messages)
    assert not any("next start" in m or "next try" in m for m in messages)
    await ledger.store.close()


def test_a_spool_file_is_replayed_once_by_its_own_store_only(tmp_path: Path) -> None:
    mine, other = LedgerSpool(tmp_path, "mine"), LedgerSpool(tmp_path, "other")
    mine.write([row_of({"ts": 1.0, "request_id": "a"})])
    other.write([row_of({"ts": 1.0, "request_id": "b"})])
    (claimed,) = mine.claim()
    assert LedgerSpool(tmp_path, "mine").claim() == []  # another gateway: the file is locked
    assert mine.read(claimed) == [row_of({"ts": 1.0, "request_id": "a"})]
    mine.done(claimed)
    assert [path.name.split("-")[1] for path in tmp_path.glob("*.jsonl")] == ["other"]
    assert oct(os.stat(next(tmp_path.glob("*.jsonl"))).st_mode & 0o777) == "0o600"


def test_a_spool_is_named_after_its_store_without_the_password() -> None:
    assert store_tag("postgresql://u:secret@db:5432/x") == store_tag("postgresql://u:other@db:5432/x")
    assert store_tag("postgresql://u@db:5432/x") != store_tag("postgresql://u@db:5432/y")


class SlowWrites:
    """A memory store whose every write takes a while, counting the writes and their rows."""

    def __init__(self, seconds: float) -> None:
        self.inner = MemoryResponseStore()
        self.seconds = seconds
        self.batches: list[int] = []

    async def append_usage(self, rows: list[Row]) -> None:
        self.batches.append(len(rows))
        await asyncio.sleep(self.seconds)
        await self.inner.append_usage(rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_rows_that_arrive_during_a_write_wait_for_the_next_round_not_a_write_of_their_own() -> None:
    """Steady traffic: the writer writes what has gathered and rests (half a second, or until a full batch
    waits). Writing at once the few rows that came in during each write made batches of a dozen rows, each
    a transaction and a hand-off to the store's thread."""
    store = SlowWrites(0.01)
    ledger = Ledger(store)  # type: ignore[arg-type]
    ledger.start()
    sent = 0
    for _ in range(120):  # 1.2 s of 10 rows every 10 ms: 1,200 rows
        for _ in range(10):
            ledger.record(entry(sent))
            sent += 1
        await asyncio.sleep(0.01)
    await ledger.close()
    assert sum(store.batches) == sent
    # Full batches (512) and the half-second rests: a handful of writes, not one per 10 ms write.
    assert len(store.batches) <= 8, store.batches


@pytest.mark.parametrize(
    ("headers", "attempts", "hit"),
    [
        ([(b"x-babelgate-attempts", b"1")], 1, False),
        ([(b"x-babelgate-route", b"r"), (b"x-babelgate-attempts", b"3")], 3, False),  # failed over twice
        ([], 1, False),  # refused before the router: the request itself is counted
        ([(b"x-babelgate-cache", b"hit"), (b"x-babelgate-attempts", b"1")], 0, True),  # no upstream
        ([(b"x-babelgate-cache", b"miss"), (b"x-babelgate-attempts", b"2")], 2, False),
    ],
)
def test_a_rows_attempts_and_cache_verdict_are_read_from_the_answers_headers(
    headers: list[tuple[bytes, bytes]], attempts: int, hit: bool
) -> None:
    row = as_dict(_row((*entry(0)[:8], attempts_of(headers), *entry(0)[9:]), str))
    assert (row["attempts"], row["cache_hit"]) == (attempts, hit)
    assert row["cost_usd"] == (0.0 if hit else None)  # an answer from the cache cost nothing; else none was said


async def test_a_waiting_row_holds_the_answers_counts_not_its_objects() -> None:
    """What waits in the queue (512 rows between writes, up to the queue's limit in an outage) is the row's own
    values: the usage's token counts and the attempts the headers said, not the answer's usage (its `extra` holds
    the upstream's detail objects) nor its header list; the row written from it says what they said."""
    from types import SimpleNamespace

    from prometheus_client import generate_latest

    from babelgate.accounting import account
    from babelgate.call import Call
    from babelgate.observability.metrics import Metrics
    from babelgate.providers.base import CallNotes
    from babelgate.schema.chat import Usage

    store = MemoryResponseStore()
    ledger = Ledger(store)
    metrics = Metrics()  # real objects: `account` may be compiled, and checks what it is given
    runtime: Any = SimpleNamespace(providers={}, metrics=metrics, ledger=ledger)
    call = Call("chat.completions", b"req-1", [])
    call.requested_model = call.model = "gpt-4o-mini"
    call.provider = "openai"
    details = {"cached_tokens": 3, "audio_tokens": 0}
    call.notes = CallNotes(usage=Usage(10, 5, 15, 3, None, 2, {"prompt_tokens_details": details}))
    call.headers_out += [(b"x-babelgate-route", b"r"), (b"x-babelgate-attempts", b"2")]
    account(runtime, call, status=200, elapsed=0.25, ttft=None, streamed=False)
    ((waiting,),) = [tuple(ledger._queue)]
    assert all(value is None or type(value) in (bytes, str, int, float, bool) for value in waiting), waiting
    await ledger.flush()
    (row,) = await store.usage(0, 2**40)
    assert (row["prompt_tokens"], row["completion_tokens"], row["cached_tokens"], row["reasoning_tokens"]) == (
        10,
        5,
        3,
        2,
    )
    assert (row["attempts"], row["cache_hit"], row["latency_ms"]) == (2, False, 250.0)
    metrics.flush()
    exposition = generate_latest(metrics.registry).decode()
    assert 'babelgate_tokens_total{kind="prompt",model="gpt-4o-mini",provider="openai"} 10.0' in exposition
    await ledger.close()


def test_a_spool_file_is_let_go_once_whoever_lets_it_go(tmp_path: Path) -> None:
    """A replay's `done` (in a thread) and a closing gateway's `release_all` may both let a claimed file go: its
    descriptor is closed once, never a second time (by then the number may be another file's or socket's)."""
    spool = LedgerSpool(tmp_path, "tag")
    spool.write([row_of({"request_id": "r1"})])
    (claimed,) = spool.claim()
    spool.done(claimed)
    reused = os.open(tmp_path / "other", os.O_CREAT | os.O_RDWR)  # the lowest free number: the spool file's
    try:
        spool._release(claimed)  # a late second release, as a concurrent release_all makes
        spool.release_all()
        os.fstat(reused)  # still open
    finally:
        os.close(reused)
