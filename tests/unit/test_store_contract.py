"""One behaviour for every response store: memory, SQLite and PostgreSQL pass the same tests."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from babelgate.store import ResponseStore, StoredResponse, postgres_ledger
from babelgate.store import sqlite as sqlite_store
from babelgate.store.ledger_table import COLUMNS, ERROR_COLUMNS, Row, UsageQuery, row_of, summarize, top_errors
from babelgate.store.memory import MemoryResponseStore
from babelgate.store.postgres import PostgresResponseStore
from babelgate.store.sqlite import SQLiteResponseStore
from tests.services import postgres_dsn, postgres_table  # noqa: F401  (fixtures: pytest looks them up here)

T0 = 1_700_000_000


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


Backend = Callable[[FakeClock], ResponseStore]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Builds stores of one kind; stores built twice share their data, like a gateway restart would."""
    match request.param:
        case "memory":
            return lambda clock: MemoryResponseStore(clock=clock)
        case "sqlite":
            return lambda clock: SQLiteResponseStore(tmp_path / "state" / "responses.db", clock=clock)
        case "postgres":
            dsn: str = request.getfixturevalue("postgres_dsn")
            table: str = request.getfixturevalue("postgres_table")
            return lambda clock: PostgresResponseStore(dsn, table=table, clock=clock)
    raise AssertionError(request.param)


@pytest.fixture
async def open_store(backend: Backend) -> AsyncIterator[Callable[[FakeClock], ResponseStore]]:
    opened: list[ResponseStore] = []

    def factory(clock: FakeClock) -> ResponseStore:
        opened.append(backend(clock))
        return opened[-1]

    yield factory
    for store in opened:
        await store.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(open_store: Callable[[FakeClock], ResponseStore], clock: FakeClock) -> ResponseStore:
    return open_store(clock)


def record(
    response_id: str = "resp_1", *, expires_at: int | None = None, text: str = "hello", **overrides: Any
) -> StoredResponse:
    fields: dict[str, Any] = {
        "id": response_id,
        "created_at": T0,
        "expires_at": expires_at,
        "response": {
            "id": response_id,
            "object": "response",
            "status": "completed",
            "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}],
            "usage": {"input_tokens": 3, "output_tokens": 1},
            "temperature": 0.5,
            "metadata": None,
        },
        "input_items": [
            {"id": "msg_1", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
        ],
        "conversation": [{"type": "message", "role": "user", "content": "hi"}],
    }
    fields.update(overrides)
    return StoredResponse(**fields)


async def test_get_returns_the_record_that_was_put(store: ResponseStore) -> None:
    await store.put(record())
    assert await store.get("resp_1") == record()


async def test_get_of_an_unknown_id_is_none(store: ResponseStore) -> None:
    await store.put(record())
    assert await store.get("resp_other") is None


async def test_put_replaces_the_record_with_the_same_id(store: ResponseStore) -> None:
    await store.put(record(text="first"))
    await store.put(record(text="second", expires_at=T0 + 60))
    assert await store.get("resp_1") == record(text="second", expires_at=T0 + 60)


async def test_delete_reports_whether_the_record_existed(store: ResponseStore) -> None:
    await store.put(record("resp_1"))
    await store.put(record("resp_2"))
    assert await store.delete("resp_1") is True
    assert await store.get("resp_1") is None
    assert await store.delete("resp_1") is False
    assert await store.delete("resp_never") is False
    assert await store.get("resp_2") == record("resp_2")


async def test_record_expires_when_the_clock_reaches_expires_at(store: ResponseStore, clock: FakeClock) -> None:
    await store.put(record(expires_at=T0 + 10))
    clock.now = T0 + 9.999
    assert await store.get("resp_1") == record(expires_at=T0 + 10)
    clock.now = T0 + 10
    assert await store.get("resp_1") is None


async def test_record_without_expires_at_is_kept(store: ResponseStore, clock: FakeClock) -> None:
    await store.put(record())
    clock.now = T0 + 10 * 365 * 86400
    assert await store.purge_expired() == 0
    assert await store.get("resp_1") == record()


async def test_delete_of_an_expired_record_reports_false(store: ResponseStore, clock: FakeClock) -> None:
    await store.put(record(expires_at=T0 + 10))
    clock.now = T0 + 11
    assert await store.delete("resp_1") is False
    clock.now = T0
    assert await store.get("resp_1") is None  # it went all the same


async def test_purge_removes_only_expired_records(store: ResponseStore, clock: FakeClock) -> None:
    await store.put(record("resp_old", expires_at=T0 + 5))
    await store.put(record("resp_older", expires_at=T0 + 1))
    await store.put(record("resp_fresh", expires_at=T0 + 100))
    await store.put(record("resp_kept"))
    clock.now = T0 + 5
    assert await store.purge_expired() == 2
    assert await store.purge_expired() == 0
    clock.now = T0  # purged records do not come back when the clock does
    assert await store.get("resp_old") is None
    assert await store.get("resp_older") is None
    assert await store.get("resp_fresh") == record("resp_fresh", expires_at=T0 + 100)
    assert await store.get("resp_kept") == record("resp_kept")


async def test_unicode_and_large_payloads_round_trip(store: ResponseStore) -> None:
    text = 'héllo wörld — 你好 — مرحبا — 🦜🧪 — \u0000 nul — \u2028 line sep — "quotes" \\ backslash'
    big = [{"type": "message", "role": "user", "content": f"{i}: " + "ça va? 🙂 " * 200} for i in range(2_000)]
    original = record(
        "resp_ünïcode_🦜",
        text=text,
        conversation=big,
        input_items=[{"id": "item_🙂", "type": "message", "role": "user", "content": text}],
    )
    await store.put(original)
    assert await store.get("resp_ünïcode_🦜") == original


async def test_concurrent_puts_all_land(store: ResponseStore) -> None:
    originals = [record(f"resp_{i}", text=f"answer {i}") for i in range(100)]
    await asyncio.gather(*(store.put(r) for r in originals))
    assert await asyncio.gather(*(store.get(r.id) for r in originals)) == originals


async def test_put_many_stores_every_record_in_order_so_the_last_of_an_id_wins(store: ResponseStore) -> None:
    await store.put_many([record("resp_1", text="first"), record("resp_2"), record("resp_1", text="second")])
    assert await store.get("resp_1") == record("resp_1", text="second")
    assert await store.get("resp_2") == record("resp_2")


async def test_put_many_of_nothing_stores_nothing(store: ResponseStore) -> None:
    await store.put_many([])
    assert await store.get("resp_1") is None


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_records_survive_a_new_store_on_the_same_storage(
    open_store: Callable[[FakeClock], ResponseStore], clock: FakeClock
) -> None:
    first = open_store(clock)
    await first.put(record(expires_at=T0 + 60))
    await first.close()
    second = open_store(clock)
    assert await second.get("resp_1") == record(expires_at=T0 + 60)


# -- secrets (the generated reasoning key, sealing.py) -------------------------------------------------


async def test_a_secret_is_made_once_and_then_read_back(store: ResponseStore) -> None:
    made: list[bytes] = []

    def make() -> bytes:
        made.append(bytes([len(made)]) * 32)
        return made[-1]

    first = await store.secret("reasoning_key", make)
    assert first == made[0]
    assert await store.secret("reasoning_key", make) == first
    assert await store.secret("other", make) != first


async def test_stores_sharing_their_data_agree_on_a_secret_even_when_racing(
    open_store: Callable[[FakeClock], ResponseStore], clock: FakeClock, backend: Backend
) -> None:
    stores = [open_store(clock) for _ in range(4)]  # gateways starting together on a new database
    values = await asyncio.gather(*(store.secret("k", lambda n=n: bytes([n]) * 32) for n, store in enumerate(stores)))
    if isinstance(stores[0], MemoryResponseStore):
        return  # two memory stores share nothing, by design
    assert len(set(values)) == 1
    again = open_store(clock)  # a restart
    assert await again.secret("k", lambda: b"c" * 32) == values[0]


async def test_documents_are_kept_by_kind_and_id_and_every_write_moves_the_version_on(store: ResponseStore) -> None:
    assert await store.documents("key") == {} and await store.document_version("key") == 0
    await store.put_document("key", "a", b'{"n": 1}')
    first = await store.document_version("key")
    await store.put_document("key", "b", b'{"n": 2}')
    await store.put_document("key", "a", b'{"n": 3}')  # replaces
    assert await store.documents("key") == {"a": b'{"n": 3}', "b": b'{"n": 2}'}
    assert await store.document_version("key") > first
    assert await store.documents("other") == {}
    await store.close()


def rows_of(rows: list[dict[str, Any]]) -> list[Row]:
    """Rows by column name, as the ledger hands them to a store (store/ledger_table.py)."""
    return [row_of(row) for row in rows]


def _ledger_row(n: int, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {column: None for column in COLUMNS}
    row.update(
        ts=100.0 + n,
        request_id=f"r{n}",
        key_id="k1",
        team="search",
        route="chat.completions",
        model_requested="gpt-4o",
        provider="openai",
        model="gpt-4o",
        attempts=1,
        status=200,
        prompt_tokens=10,
        completion_tokens=n,
        cached_tokens=0,
        reasoning_tokens=0,
        cost_usd=0.001,
        latency_ms=float(n + 1),
        ttft_ms=None,
        stream=False,
        cache_hit=False,
    )
    row.update(fields)
    return row


async def test_ledger_rows_are_kept_and_read_back_by_time(store: ResponseStore) -> None:
    rows = [_ledger_row(n) for n in range(5)]
    await store.append_usage(rows_of(rows[:3]))
    await store.append_usage(rows_of(rows[3:]))
    assert await store.usage(101.0, 104.0) == rows[1:4]
    assert await store.usage(0, 1e12) == rows
    assert await store.delete_usage_before(102.0) == 2
    assert await store.usage(0, 1e12) == rows[2:]
    await store.close()


async def test_failed_requests_are_read_newest_first_and_summed_by_what_failed(store: ResponseStore) -> None:
    rows = [
        _ledger_row(0),
        _ledger_row(1, status=404, error_code="model_not_found", error_message="no model x"),
        _ledger_row(2, status=502, error_code="upstream_error", error_message="é: upstream said so"),
        _ledger_row(3, status=404, error_code="model_not_found", error_message="no model x", model_requested="x"),
        _ledger_row(4, status=499),
    ]
    await store.append_usage(rows_of(rows))
    failed = await store.usage_errors(0, 1e12)
    assert [row["ts"] for row in failed] == [104.0, 103.0, 102.0, 101.0]
    assert set(failed[0]) == set(ERROR_COLUMNS)
    assert [row["ts"] for row in await store.usage_errors(102.0, 104.0)] == [103.0, 102.0]
    assert top_errors(failed, 2) == [
        {
            "status": 404,
            "code": "model_not_found",
            "message": "no model x",
            "count": 2,
            "last_seen": 103.0,
            "model": "x",
        },
        {"status": 499, "code": None, "message": None, "count": 1, "last_seen": 104.0, "model": "gpt-4o"},
    ]
    await store.close()


async def test_ledger_totals_and_time_series_are_the_same_in_every_store(store: ResponseStore) -> None:
    rows = [
        _ledger_row(
            n,
            team="search" if n % 2 else "ads",
            status=200 if n % 5 else 502,
            ttft_ms=float(n) if n % 3 else None,
            cache_hit=n == 7,
            cost_usd=0.25 * n,
        )
        for n in range(20)
    ]
    await store.append_usage(rows_of(rows))
    (total,) = await store.usage_summary(UsageQuery(0, 1000))  # under 6 hours: exact everywhere
    assert total["requests"] == 20 and total["errors"] == 4 and total["error_rate"] == 0.2
    assert total["completion_tokens"] == sum(range(20)) and total["prompt_tokens"] == 200
    assert total["cost_usd"] == 47.5 and total["cache_hits"] == 1
    # percentile_disc: the smallest value with at least that share of the samples at or below it
    assert total["latency_ms"] == {"p50": 10.0, "p95": 19.0, "p99": 20.0}
    assert total["ttft_ms"] == {"p50": 10.0, "p95": 19.0, "p99": 19.0}
    by_team = await store.usage_summary(UsageQuery(0, 1000, ("team",), filters=(("status", 200),)))
    assert [(row["team"], row["requests"]) for row in by_team] == [("ads", 8), ("search", 8)]
    series = await store.usage_summary(UsageQuery(100.0, 120.0, ("team",), interval=10.0, filters=(("team", "ads"),)))
    assert [(row["time"], row["team"], row["requests"]) for row in series] == [(100.0, "ads", 5), (110.0, "ads", 5)]
    assert await store.usage_summary(UsageQuery(0, 50)) == []
    await store.close()


async def test_long_periods_keep_exact_sums_and_near_percentiles(
    store: ResponseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over 6 whole hours, PostgreSQL answers from its hourly rollup (store/postgres_ledger.py):
    the same sums and counts as the rows give, percentiles within 10 %."""
    monkeypatch.setattr(postgres_ledger, "DENSE", 1)  # the rollup answers however sparse these rows are
    hour = 3600.0
    start = 1_700_000_000.0 - 1_700_000_000.0 % hour  # a whole hour
    rows = [
        _ledger_row(
            0,
            ts=start + 1800 + n * 97.3,
            team=("a", "b", None)[n % 3],
            status=200 if n % 7 else 500,
            completion_tokens=n % 50,
            search_units=n % 3,
            latency_ms=5.0 + (n * 37) % 900,
            ttft_ms=float(1 + n % 200),
            cost_usd=0.001 * (n % 10),
            cache_hit=n % 11 == 0,
        )
        for n in range(400)
    ]  # 10.8 hours, from half past the first hour
    for first in range(0, 400, 150):  # several batches: the rollup adds them up
        await store.append_usage(rows_of(rows[first : first + 150]))
    query = UsageQuery(start + 1000, start + 40000, ("team",))
    exact = summarize(rows, query)
    answer = await store.usage_summary(query)
    assert [{k: v for k, v in row.items() if k not in ("latency_ms", "ttft_ms")} for row in answer] == [
        {k: v for k, v in row.items() if k not in ("latency_ms", "ttft_ms")} for row in exact
    ]
    for got, want in zip(answer, exact, strict=True):
        for field in ("latency_ms", "ttft_ms"):
            for share in ("p50", "p95", "p99"):
                assert abs(got[field][share] - want[field][share]) <= 0.1 * want[field][share] + 0.5
    series = await store.usage_summary(UsageQuery(start, start + 12 * hour, (), interval=2 * hour))
    assert [row["requests"] for row in series] == [
        row["requests"] for row in summarize(rows, UsageQuery(start, start + 12 * hour, (), interval=2 * hour))
    ]
    assert await store.delete_usage_before(start + 3 * hour) > 0
    (left,) = await store.usage_summary(UsageQuery(start, start + 12 * hour))
    assert left["requests"] == len([row for row in rows if row["ts"] >= start + 3 * hour])
    await store.close()


async def test_sessions_are_grouped_and_filtered_from_the_rows(
    store: ResponseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`group_by=session` (session affinity's column): from the rows in every store, even over a period
    PostgreSQL's hourly rollup would answer (it has no session column: one row per session and hour)."""
    monkeypatch.setattr(postgres_ledger, "DENSE", 1)
    hour = 3600.0
    start = 1_700_000_000.0 - 1_700_000_000.0 % hour
    rows = [
        _ledger_row(n, ts=start + 600 + n * 1000, session=("a1b2c3d4e5f60718", "ffff000011112222", None)[n % 3])
        for n in range(30)
    ]
    rows = [{**row, "cached_tokens": 5 if row["session"] else 0} for row in rows]
    await store.append_usage(rows_of(rows))
    assert await store.usage(0, 1e12) == rows
    query = UsageQuery(start, start + 10 * hour, ("session",))
    answer = await store.usage_summary(query)
    assert [(row["session"], row["requests"], row["cached_tokens"]) for row in answer] == [
        (row["session"], row["requests"], row["cached_tokens"]) for row in summarize(rows, query)
    ]
    assert {row["session"] for row in answer} == {"a1b2c3d4e5f60718", "ffff000011112222", None}
    one = await store.usage_summary(UsageQuery(start, start + 10 * hour, filters=(("session", "ffff000011112222"),)))
    assert one[0]["requests"] == len([row for row in rows if row["session"] == "ffff000011112222"])
    await store.close()


async def test_a_ledger_from_before_the_session_column_gains_it(
    backend: Backend, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """An existing database made before `session` was a column: the store adds it when it opens."""
    kind = request.node.callspec.params["backend"]
    if kind == "memory":
        pytest.skip("nothing outlives a memory store")
    if kind == "sqlite":
        (tmp_path / "state").mkdir(exist_ok=True)
        with sqlite3.connect(tmp_path / "state" / "responses.db") as db:
            db.execute(sqlite_store._SCHEMA[4].replace(", session TEXT", ""))
            db.execute("INSERT INTO babelgate_ledger (ts, request_id, status) VALUES (1.0, 'old', 200)")
    else:
        dsn, table = request.getfixturevalue("postgres_dsn"), request.getfixturevalue("postgres_table")
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(postgres_ledger.schema(table)[0].replace(", session TEXT", ""))
            await connection.execute(f"INSERT INTO {table}_ledger (ts, request_id, status) VALUES (1.0, 'old', 200)")
        finally:
            await connection.close()
    store = backend(FakeClock())
    await store.append_usage(rows_of([_ledger_row(0, session="0123456789abcdef")]))
    got = await store.usage(0, 1e12)
    assert [(row["request_id"], row["session"]) for row in got] == [("old", None), ("r0", "0123456789abcdef")]
    await store.close()
