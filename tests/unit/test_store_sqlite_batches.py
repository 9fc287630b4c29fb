"""SQLite puts that arrive together are written together (one hop to the store's thread, one
transaction), in order, and each caller hears of its own put's fate."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from babelgate.store import StoredResponse
from babelgate.store.ledger_table import COLUMNS, in_form, row_of
from babelgate.store.sqlite import LEDGER_ROWS_PER_INSERT, SHORT_COLUMNS, SQLiteResponseStore


def record(response_id: str, text: str = "x") -> StoredResponse:
    return StoredResponse(
        id=response_id, created_at=1, expires_at=None, response={"text": text}, input_items=[], conversation=[]
    )


async def test_concurrent_puts_are_written_in_few_transactions(tmp_path: Path) -> None:
    store = SQLiteResponseStore(tmp_path / "db.sqlite")
    statements: list[str] = []
    try:
        await store.get("resp_none")  # opens the connection
        # Counted by SQLite's own trace of the statements run (not by wrapping a method: the compiled build's
        # callers would not see the wrapper).
        assert store._connection is not None
        store._connection.set_trace_callback(statements.append)
        await asyncio.gather(*(store.put(record(f"resp_{n}")) for n in range(50)))
        transactions = [statement for statement in statements if statement == "BEGIN"]
        assert 1 <= len(transactions) <= 3  # the first put's write, then everything that queued behind it
        found = await asyncio.gather(*(store.get(f"resp_{n}") for n in range(50)))
        assert all(item is not None for item in found)
    finally:
        await store.close()


async def test_the_last_put_of_an_id_in_a_batch_wins(tmp_path: Path) -> None:
    store = SQLiteResponseStore(tmp_path / "db.sqlite")
    try:
        await asyncio.gather(
            store.put(record("resp_1", "first")),
            store.put(record("resp_1", "second")),
            store.put(record("resp_1", "third")),
        )
        stored = await store.get("resp_1")
        assert stored is not None and stored.response == {"text": "third"}
    finally:
        await store.close()


async def test_a_failed_batch_fails_each_of_its_puts_and_writes_none(tmp_path: Path) -> None:
    store = SQLiteResponseStore(tmp_path / "db.sqlite")
    try:
        await store.put(record("resp_ok"))
        bad = StoredResponse(
            id="resp_bad",
            created_at=1,
            expires_at=None,
            response={"x": object()},  # not JSON
            input_items=[],
            conversation=[],
        )
        results = await asyncio.gather(store.put(record("resp_a")), store.put(bad), return_exceptions=True)
        assert any(isinstance(result, Exception) for result in results)
        assert await store.get("resp_bad") is None
        await store.put(record("resp_after"))  # the store goes on after a failed batch
        assert await store.get("resp_after") is not None
    finally:
        await store.close()


async def test_a_purge_deletes_in_batches_and_a_put_goes_between_them(tmp_path: Path) -> None:
    """Expired responses go `purge_batch` to a transaction, each batch a call of its own on the store's thread: a
    put made while a long purge runs is written after the batch under way, not after the whole purge."""
    now = [1_000.0]
    store = SQLiteResponseStore(tmp_path / "db.sqlite", clock=lambda: now[0], purge_batch=2)
    statements: list[str] = []
    finished: list[str] = []
    try:
        expired = [StoredResponse(f"resp_{n}", 1, 500 + n, {"text": "x"}, [], []) for n in range(5)]
        await store.put_many([*expired, record("resp_kept")])
        assert store._connection is not None
        store._connection.set_trace_callback(statements.append)

        async def purge() -> int:
            purged = await store.purge_expired()
            finished.append("purge")
            return purged

        async def put() -> None:
            await store.put(record("resp_new"))
            finished.append("put")

        purged, _ = await asyncio.gather(purge(), put())
        assert purged == 5
        assert finished == ["put", "purge"]
        # Two full batches, then the last one, which finds fewer than a batch and ends the purge.
        assert len([statement for statement in statements if statement.startswith("DELETE")]) == 3
        assert await store.get("resp_kept") is not None and await store.get("resp_new") is not None
        with sqlite3.connect(tmp_path / "db.sqlite") as db:
            assert db.execute("SELECT count(*) FROM babelgate_responses").fetchone() == (2,)
    finally:
        await store.close()


def test_a_purge_batch_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="purge_batch"):
        SQLiteResponseStore(tmp_path / "db.sqlite", purge_batch=0)


def test_nothing_is_left_in_an_open_transaction(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = SQLiteResponseStore(tmp_path / "db.sqlite")
        try:
            await store.put(record("resp_1"))
        finally:
            await store.close()

    asyncio.run(scenario())
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        assert db.execute("SELECT count(*) FROM babelgate_responses").fetchone() == (1,)


async def test_a_ledger_made_before_error_messages_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # the ledger table as the first releases made it
        db.execute(
            "CREATE TABLE babelgate_ledger (ts REAL NOT NULL, request_id TEXT, key_id TEXT, team TEXT,"
            " route TEXT, model_requested TEXT, provider TEXT, model TEXT, attempts INTEGER, status INTEGER,"
            " error_code TEXT, prompt_tokens INTEGER, completion_tokens INTEGER, cached_tokens INTEGER,"
            " reasoning_tokens INTEGER, cost_usd REAL, latency_ms REAL, ttft_ms REAL, stream INTEGER,"
            " cache_hit INTEGER)"
        )
        db.execute("INSERT INTO babelgate_ledger (ts, status) VALUES (1.0, 200)")
    store = SQLiteResponseStore(path)
    row = {column: None for column in COLUMNS} | {
        "ts": 2.0,
        "status": 500,
        "error_message": "boom",
        "stream": False,
        "cache_hit": False,
    }
    await store.append_usage([row_of(row)])
    assert [r["error_message"] for r in await store.usage(0, 10)] == [None, "boom"]
    await store.close()


@pytest.fixture(params=["no adapter", "the process's own adapter for bool"])
def bool_adapter(request: pytest.FixtureRequest) -> Iterator[str]:
    """The ledger binds None as NaN (NULL) and flags as integers, adapting nothing: an adapter the process
    registered for bool never sees a flag of the ledger's, and the store registers none of its own."""
    key = (bool, sqlite3.PrepareProtocol)
    before = sqlite3.adapters.pop(key, None)
    if request.param != "no adapter":
        sqlite3.register_adapter(bool, lambda flag: "yes" if flag else "no")
    try:
        yield request.param
    finally:
        sqlite3.adapters.pop(key, None)
        if before is not None:
            sqlite3.adapters[key] = before


async def test_a_ledger_batch_is_written_many_rows_to_a_statement_every_row_as_it_was(
    tmp_path: Path, bool_adapter: str
) -> None:
    """`append_usage` puts LEDGER_ROWS_PER_INSERT rows in each INSERT (one GIL hand-over per statement, not per
    row) and the rest in powers of two: every row reads back as written, NULLs and flags included, in order."""
    store = SQLiteResponseStore(tmp_path / "db.sqlite")
    statements: list[str] = []
    count = 2 * LEDGER_ROWS_PER_INSERT + 5
    rows = [
        {column: None for column in COLUMNS}
        | {
            "ts": float(n),
            "request_id": f"r{n}",
            "status": 200 if n % 3 else None,
            "stream": n % 2 == 0,
            "cost_usd": n / 7,
        }
        for n in range(count)
    ]
    try:
        await store.usage(0, 1)  # opens the connection
        assert store._connection is not None
        store._connection.set_trace_callback(statements.append)
        await store.append_usage([in_form(row_of(row), store.ledger_form) for row in rows])  # as the ledger does
        inserts = [statement for statement in statements if statement.startswith("INSERT INTO babelgate_ledger")]
        # Two statements of LEDGER_ROWS_PER_INSERT rows, then the five left over as four rows and one (5 = 0b101).
        assert len(inserts) == 2 + 2
        assert [statement.count("), (") + 1 for statement in inserts] == [LEDGER_ROWS_PER_INSERT] * 2 + [4, 1]
        assert (type(None), sqlite3.PrepareProtocol) not in sqlite3.adapters  # the process's adapters are its own
        if bool_adapter == "no adapter":
            assert (bool, sqlite3.PrepareProtocol) not in sqlite3.adapters
        read = await store.usage(0, count)
        assert [(r["request_id"], r["status"], r["stream"], r["cost_usd"]) for r in read] == [
            (row["request_id"], row["status"], row["stream"], row["cost_usd"]) for row in rows
        ]
        assert all(r["error_code"] is None and r["key_id"] is None for r in read)
        flags = store._connection.execute("SELECT DISTINCT typeof(stream), typeof(team) FROM babelgate_ledger")
        assert sorted(flags.fetchall()) == [("integer", "null")]
    finally:
        await store.close()


async def test_the_ledger_hands_sqlite_its_rows_in_the_form_it_binds_and_they_read_back_as_they_were(
    tmp_path: Path, bool_adapter: str
) -> None:
    """A request's row is made in SQLite's form at once (NaN for no value, 0 and 1 for flags: nothing for sqlite3
    to adapt, and no mapping of every value in the writer); a plain row (a tool call's) is put in that form when it
    is queued. Both read back with their NULLs and flags, whatever adapter the process registered for bool."""
    from babelgate.governance.ledger import Ledger

    store = SQLiteResponseStore(tmp_path / "db.sqlite")
    ledger = Ledger(store)
    assert ledger.form is store.ledger_form
    request = (100.0, b"req-1", "vk", None, "chat.completions", "gpt-4o-mini", "openai", "gpt-4o-mini", 1, 200, "")
    request += (3, 4, 0, 0, None, 0.25, None, True, None, None, None, None, None, None, None, None)
    tool_call = {column: None for column in COLUMNS} | {"ts": 101.0, "request_id": "mcp-1", "status": 200}
    tool_call |= {"server": "files", "tool": "read", "bytes_in": 10, "bytes_out": 20, "stream": False}
    try:
        ledger.record(request)
        ledger.record_row(row_of(tool_call))
        await ledger.flush()
        first, second = await store.usage(0, 1000)
        assert (first["key_id"], first["team"], first["stream"], first["cache_hit"]) == ("vk", None, True, False)
        assert (first["cost_usd"], first["ttft_ms"], first["error_code"], first["server"]) == (None, None, None, None)
        assert (second["server"], second["stream"], second["cache_hit"], second["key_id"]) == (
            "files",
            False,
            False,  # NULL, read as a flag
            None,
        )
        assert store._connection is not None
        kinds = "SELECT typeof(stream), typeof(team), typeof(cost_usd) FROM babelgate_ledger ORDER BY ts"
        assert store._connection.execute(kinds).fetchall() == [("integer", "null", "null"), ("integer", "null", "null")]
    finally:
        await ledger.close()
        await store.close()


async def test_rows_without_their_last_columns_are_inserted_without_them_and_read_back_the_same(
    tmp_path: Path,
) -> None:
    """A row is inserted naming the columns before `error_message` and, of those from it on, only the ones it has
    values in. Mixed in one batch, every row reads back with every column as it was written, and the statements
    respect SQLite's 999 parameters (its bound before 3.32)."""
    store = SQLiteResponseStore(tmp_path / "db.sqlite")
    statements: list[str] = []
    tail = COLUMNS[SHORT_COLUMNS:]
    rows = []
    for n in range(3 * LEDGER_ROWS_PER_INSERT + 3):
        row = {column: None for column in COLUMNS} | {"ts": float(n), "request_id": f"r{n}", "status": 200}
        if n % 4 == 1:  # one value in the last columns, each of them in turn
            column = tail[n % len(tail)]
            row[column] = n if column in ("bytes_in", "bytes_out", "search_units") else f"v{n}"
        if n % 4 == 2:
            row |= {"error_message": "upstream said no", "status": 502, "stream": True}
        rows.append(row)
    try:
        await store.usage(0, 1)  # opens the connection
        assert store._connection is not None
        store._connection.set_trace_callback(statements.append)
        await store.append_usage([in_form(row_of(row), store.ledger_form) for row in rows])
        inserts = [statement for statement in statements if statement.startswith("INSERT INTO babelgate_ledger")]
        # Each row binds the columns before `error_message` and, of the rest, those it has values in; a statement
        # (its values written out by the trace) binds its columns once a row.
        shapes = [(statement.split(") VALUES")[0].count(",") + 1, statement.count("), (") + 1) for statement in inserts]
        assert sum(columns * count for columns, count in shapes) == sum(
            SHORT_COLUMNS + sum(row[column] is not None for column in tail) for row in rows
        )
        assert all(columns * count <= 999 for columns, count in shapes)
        read = await store.usage(0, len(rows))
        expected = [{column: row[column] for column in COLUMNS} for row in rows]
        for got in read:  # flags read back as booleans
            got["stream"] = got["stream"] or None
            got["cache_hit"] = got["cache_hit"] or None
        assert read == expected
    finally:
        await store.close()
