"""Stored responses in an SQLite file: the embedded default, which survives gateway restarts.

`sqlite3` blocks, so every call runs on one worker thread that owns the one connection; the event
loop only awaits. One thread also serialises the calls, which is what a single SQLite writer wants.
Nothing is opened at construction: the file, its directories and the table appear on first use, so
configuring a path that is never used leaves no trace.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from pathlib import Path
from typing import Any, Final, TypeVar

from babelgate.randomness import RANDOM
from babelgate.store import conversation_table
from babelgate.store.base import Clock, StoredResponse, decode_record, encode_body, is_expired, now_seconds
from babelgate.store.conversation_table import LogQuery, LogRow
from babelgate.store.ledger_table import COLUMNS, ERROR_COLUMNS, ERROR_ROWS, Row, RowForm, UsageQuery, summarize

_T = TypeVar("_T")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS babelgate_responses ("
    " id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, expires_at INTEGER, body BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS babelgate_responses_expires_at ON babelgate_responses (expires_at)",
    "CREATE TABLE IF NOT EXISTS babelgate_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
    # Documents (virtual keys…): `seq` grows with every write of a kind, so a poll reads one number.
    "CREATE TABLE IF NOT EXISTS babelgate_documents (kind TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,"
    " body BLOB NOT NULL, PRIMARY KEY (kind, id))",
    # The usage ledger: one row per request (governance/ledger.py, store/ledger_table.py).
    "CREATE TABLE IF NOT EXISTS babelgate_ledger (ts REAL NOT NULL, request_id TEXT, key_id TEXT, team TEXT,"
    " route TEXT, model_requested TEXT, provider TEXT, model TEXT, attempts INTEGER, status INTEGER,"
    " error_code TEXT, prompt_tokens INTEGER, completion_tokens INTEGER, cached_tokens INTEGER,"
    " reasoning_tokens INTEGER, cost_usd REAL, latency_ms REAL, ttft_ms REAL, stream INTEGER, cache_hit INTEGER,"
    " error_message TEXT, session TEXT, server TEXT, tool TEXT, bytes_in INTEGER, bytes_out INTEGER,"
    ' "user" TEXT, end_user TEXT, content TEXT,'
    " guardrails TEXT, realtime TEXT, search_units INTEGER, batch_id TEXT)",
    "CREATE INDEX IF NOT EXISTS babelgate_ledger_ts ON babelgate_ledger (ts)",
    # The conversation log: one row per logged request (store/conversation_table.py).
    "CREATE TABLE IF NOT EXISTS babelgate_conversations (ts REAL NOT NULL, request_id TEXT NOT NULL, key_id TEXT,"
    ' team TEXT, "user" TEXT, model TEXT, summary TEXT NOT NULL, content TEXT NOT NULL, search TEXT NOT NULL)',
    "CREATE INDEX IF NOT EXISTS babelgate_conversations_ts ON babelgate_conversations (ts, request_id)",
    "CREATE INDEX IF NOT EXISTS babelgate_conversations_id ON babelgate_conversations (request_id)",
)
# What a value binds as. sqlite3 binds an exact int, float or str directly, but None and bool go through its
# adaptation protocol: a tuple built, a dict looked up and an adapter called, in C, ~1,200 instructions a value
# (a dozen a fast-path row, more than a third of the insert), and without an adapter it formats an AttributeError
# on top. A float NaN binds as NULL (SQLite stores no NaN: sqlite3_bind_double makes it NULL), a flag as the
# integer SQLite would store for it: so each value is looked up here (`dict.get` mapped over the row, in C), and
# nothing is registered in the process (`sqlite3.register_adapter` is process-wide; the gateway is a library
# too). The keys True and False are 1 and 0 as well: an int or float equal to 1 or 0 binds as the int, which the
# column's type stores as it would have stored the number. The ledger's own rows come in that form already
# (`LEDGER_FORM`): mapping every value of a statement was more than a third of the writer's work.
_BINDS: Final[dict[Any, Any]] = {None: math.nan, True: 1, False: 0}
_BIND: Final = _BINDS.get
LEDGER_FORM: Final = RowForm(absent=math.nan, flags=(0, 1))


def _bindable(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """`values` as sqlite3 binds them without adapting any: None as NaN (NULL), flags as 0 or 1."""
    return tuple(map(_BIND, values, values))


# Column names as SQL names them: `user` is a keyword in PostgreSQL and quoted everywhere for one spelling.
_QUOTED: Final = tuple(f'"{column}"' for column in COLUMNS)
_SQL_COLUMNS: Final = ", ".join(_QUOTED)
# Rows one INSERT statement carries: as many as fit in 999 parameters (SQLite's bound on a statement's before 3.32,
# which distributions still ship), and a batch's rest in powers of two, so that a batch of n rows is n // 30
# statements and at most five more (its low binary digits), each made once and kept by sqlite3's statement cache.
# Python's sqlite3 lets go of the GIL around each step of a statement, and the request path waits to take it back: a
# row per step handed the GIL over twice per ledger row (~2 futex calls per request, measured with
# `bench/syscalls.py`). Larger statements are slower per row (their programs no longer fit the CPU's caches) and
# their prepared programs cost megabytes of resident memory.
LEDGER_ROWS_PER_INSERT: Final = 999 // len(COLUMNS)
# Most rows have no value in most columns from `error_message` on (a failure's words, a session, a tool call's
# columns, a user, an end customer, guardrails, a realtime session, searches, a batch): a row is inserted naming the
# columns before it and, of those, only the ones it has values in (SQLite fills the rest with NULL), up to 13 bound
# values fewer (a fifth of the writer's work a row). A missing value is the form's one NaN object, found by identity.
SHORT_COLUMNS: Final = COLUMNS.index("error_message")
_FIRST: Final = tuple(range(SHORT_COLUMNS))  # the columns every row names
_ABSENT: Final = LEDGER_FORM.absent
_EMPTY_TAIL: Final = (_ABSENT,) * (len(COLUMNS) - SHORT_COLUMNS)
_INSERTS: Final[dict[tuple[int, tuple[int, ...]], str]] = {}  # (rows, columns) -> the statement (every store's)


def _insert_of(rows: int, columns: tuple[int, ...]) -> str:
    statement = _INSERTS.get((rows, columns))
    if statement is None:
        names = ", ".join(_QUOTED[index] for index in columns)
        values = "(" + ", ".join("?" * len(columns)) + ")"
        statement = _INSERTS[rows, columns] = f"INSERT INTO babelgate_ledger ({names}) VALUES " + ", ".join(
            [values] * rows
        )
    return statement


_SELECT_LEDGER = f"SELECT {_SQL_COLUMNS} FROM babelgate_ledger WHERE ts >= ? AND ts < ? ORDER BY ts"
_SELECT_ERRORS = (
    f"SELECT {', '.join(ERROR_COLUMNS)} FROM babelgate_ledger WHERE ts >= ? AND ts < ? AND status >= 400"
    f" ORDER BY ts DESC LIMIT {ERROR_ROWS}"
)
# Columns added since a ledger table was first created: added to an older file when it is opened.
_ADDED_COLUMNS = (
    ("babelgate_ledger", "error_message", "TEXT"),
    ("babelgate_ledger", "session", "TEXT"),
    ("babelgate_ledger", "server", "TEXT"),
    ("babelgate_ledger", "tool", "TEXT"),
    ("babelgate_ledger", "bytes_in", "INTEGER"),
    ("babelgate_ledger", "bytes_out", "INTEGER"),
    ("babelgate_ledger", '"user"', "TEXT"),
    ("babelgate_ledger", "end_user", "TEXT"),
    ("babelgate_ledger", "content", "TEXT"),
    ("babelgate_ledger", "guardrails", "TEXT"),
    ("babelgate_ledger", "realtime", "TEXT"),
    ("babelgate_ledger", "search_units", "INTEGER"),
    ("babelgate_ledger", "batch_id", "TEXT"),
)
# Several gateway processes may share one file; wait for a writer's lock instead of failing at once.
_BUSY_TIMEOUT_SECONDS = 10.0
# Expired responses a purge deletes per transaction (~4 MB of rows): a purge after a long pause, or after the
# retention was shortened, holds the file's write lock for one batch at a time, so the puts queued on the store's
# thread and other processes' writers go between batches instead of waiting out the whole purge.
PURGE_BATCH: Final = 1000


class SQLiteResponseStore:
    ledger_form: Final = LEDGER_FORM  # the ledger's rows as sqlite3 binds them without adapting a value

    def __init__(
        self, path: str | os.PathLike[str], *, clock: Clock = time.time, purge_batch: int = PURGE_BATCH
    ) -> None:
        if purge_batch < 1:
            raise ValueError(f"purge_batch must be positive, got {purge_batch}")
        self._path = Path(path)
        self._clock = clock
        self._purge_batch = purge_batch
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None  # touched only on the executor's thread
        self._closed = False
        # Puts that arrive while a write is under way go together in the next one: one hop to the
        # thread and one transaction for many responses (under load, the hop cost more than the insert).
        # A put that finds no write under way writes at once, on its caller's task: the gateway's
        # CachedStore hands over one batch at a time, so its puts never need a queue, a future or a task.
        self._writing = False
        self._queued: list[tuple[list[StoredResponse], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None  # held: the loop keeps only weak references to tasks

    async def put(self, record: StoredResponse) -> None:
        await self.put_many([record])

    async def put_many(self, records: list[StoredResponse]) -> None:
        if self._writing:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._queued.append((records, future))
            await future
            return
        self._writing = True
        try:
            await self._call(functools.partial(_put_many, records=records))
        finally:
            if self._queued:
                self._writer = asyncio.create_task(self._write_queued())  # `_writing` until the queue is empty
            else:
                self._writing = False

    async def _write_queued(self) -> None:
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                records = [record for records, _ in batch for record in records]
                try:
                    await self._call(functools.partial(_put_many, records=records))
                except Exception as exc:  # each caller hears of the failure of its own put
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for _, future in batch:
                        if not future.done():
                            future.set_result(None)
        finally:
            self._writing, self._writer = False, None

    async def get(self, response_id: str) -> StoredResponse | None:
        now = now_seconds(self._clock)
        return await self._call(lambda db: _get(db, response_id, now))

    async def delete(self, response_id: str) -> bool:
        now = now_seconds(self._clock)
        return await self._call(lambda db: _delete(db, response_id, now))

    async def purge_expired(self) -> int:
        now = now_seconds(self._clock)
        batch = self._purge_batch
        purged = 0
        while True:  # a batch a call: what was queued on the store's thread meanwhile runs between them
            deleted = await self._call(lambda db: _purge(db, now, batch))
            purged += deleted
            if deleted < batch:
                return purged

    async def secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        candidate = make()
        return await self._call(lambda db: _secret(db, name, candidate))

    async def put_document(self, kind: str, document_id: str, body: bytes) -> None:
        await self._call(lambda db: _put_document(db, kind, document_id, body))

    async def documents(self, kind: str) -> dict[str, bytes]:
        rows = await self._call(
            lambda db: db.execute("SELECT id, body FROM babelgate_documents WHERE kind = ?", (kind,)).fetchall()
        )
        return {row[0]: bytes(row[1]) for row in rows}

    async def document_version(self, kind: str) -> int:
        row = await self._call(
            lambda db: db.execute(
                "SELECT coalesce(max(seq), 0) FROM babelgate_documents WHERE kind = ?", (kind,)
            ).fetchone()
        )
        return int(row[0])

    async def append_usage(self, rows: list[Row]) -> None:
        await self._call(lambda db: _insert_ledger(db, rows))

    async def usage(self, since: float, until: float) -> list[dict[str, Any]]:
        rows = await self._call(lambda db: db.execute(_SELECT_LEDGER, (since, until)).fetchall())
        return [_ledger_row(row) for row in rows]

    async def usage_summary(self, query: UsageQuery) -> list[dict[str, Any]]:
        # The embedded store sums in Python the rows of the period (a single machine's traffic);
        # PostgreSQL answers in SQL.
        return summarize(await self.usage(query.since, query.until), query)

    async def usage_errors(self, since: float, until: float) -> list[dict[str, Any]]:
        rows = await self._call(lambda db: db.execute(_SELECT_ERRORS, (since, until)).fetchall())
        return [dict(zip(ERROR_COLUMNS, row, strict=True)) for row in rows]

    async def delete_usage_before(self, ts: float) -> int:
        return await self._call(lambda db: db.execute("DELETE FROM babelgate_ledger WHERE ts < ?", (ts,)).rowcount)

    async def append_conversations(self, rows: list[LogRow]) -> None:
        await self._call(lambda db: _insert_conversations(db, rows))

    async def conversations(self, query: LogQuery) -> list[LogRow]:
        condition, args = conversation_table.where(query, lambda n: "?")
        statement = (
            f"SELECT {conversation_table.SQL_COLUMNS} FROM babelgate_conversations WHERE {condition}"
            f" ORDER BY ts DESC, request_id DESC LIMIT {int(query.limit) + 1}"
        )
        return await self._call(lambda db: db.execute(statement, args).fetchall())

    async def conversation(self, request_id: str) -> LogRow | None:
        statement = f"SELECT {conversation_table.SQL_COLUMNS} FROM babelgate_conversations WHERE request_id = ?"
        row: LogRow | None = await self._call(lambda db: db.execute(statement, (request_id,)).fetchone())
        return row

    async def delete_conversations_before(self, ts: float) -> int:
        return await self._call(
            lambda db: db.execute("DELETE FROM babelgate_conversations WHERE ts < ?", (ts,)).rowcount
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is None:
            return
        await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        # The worker is idle once `_disconnect` returned, so it exits on its own; waiting would block the loop.
        executor.shutdown(wait=False)

    async def _call(self, operation: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._closed:
            raise RuntimeError("the SQLite response store is closed")
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="babelgate-sqlite")
        return await asyncio.get_running_loop().run_in_executor(self._executor, lambda: operation(self._connect()))

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            connection = open_connection(self._path)
            try:
                for statement in _SCHEMA:
                    connection.execute(statement)
                _add_columns(connection)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def open_connection(path: Path) -> sqlite3.Connection:
    """A store's connection to its file, as every SQLite store opens it. Autocommit: each statement is a transaction
    of its own. check_same_thread is off because each store's single-worker executor confines its connection to one
    thread at a time."""
    connection = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
    try:
        _use_wal(connection)  # readers in other processes never wait on us
        connection.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; only a power cut loses the tail
        # A page cache of 512 KiB, not SQLite's 2 MiB: the stores append and read back recent rows, whose pages
        # (each tree's right edge) fit, and the rest is in the OS's page cache a read away. The default filled
        # under load and stayed: 2 MiB more in every worker, for no fewer instructions a request.
        connection.execute("PRAGMA cache_size=-512")
    except BaseException:
        connection.close()
        raise
    return connection


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch the file to WAL, waiting out another process doing the same. Switching needs an exclusive
    lock taken from a shared one, and SQLite answers SQLITE_BUSY at once, without the busy timeout, when
    two connections both try (waiting could deadlock): two gateways opening a new file together did."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_SECONDS
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(RANDOM.uniform(0.001, 0.01))  # on the store's worker thread, never the event loop


def _add_columns(db: sqlite3.Connection) -> None:
    """Columns newer than the file: SQLite has no ADD COLUMN IF NOT EXISTS. A process that loses the
    race to another adding the same column finds it there."""
    for table, column, kind in _ADDED_COLUMNS:
        if not any(row[1] == column.strip('"') for row in db.execute(f"PRAGMA table_info({table})")):
            try:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):
                    raise


def _ledger_row(row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(COLUMNS, row, strict=True))
    out["stream"], out["cache_hit"] = bool(out["stream"]), bool(out["cache_hit"])
    return out


def _insert_ledger(db: sqlite3.Connection, records: list[Row]) -> None:
    """The rows in one transaction, each naming the columns from `error_message` on that it has values in (most
    rows none), the rows of the same columns together. Bound as they are: the ledger hands every row over in
    `LEDGER_FORM` (governance/ledger.py)."""
    shapes: dict[tuple[int, ...], list[Row]] = {_FIRST: []}
    for row in records:
        if row[SHORT_COLUMNS:] == _EMPTY_TAIL:
            shapes[_FIRST].append(row[:SHORT_COLUMNS])
            continue
        tail = [index for index in range(SHORT_COLUMNS, len(COLUMNS)) if row[index] is not _ABSENT]
        columns = _FIRST + tuple(tail)
        shapes.setdefault(columns, []).append(row[:SHORT_COLUMNS] + tuple([row[index] for index in tail]))
    db.execute("BEGIN")
    try:
        for columns, rows in shapes.items():
            _insert_rows(db, rows, columns)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _insert_rows(db: sqlite3.Connection, records: list[Row], columns: tuple[int, ...]) -> None:
    """LEDGER_ROWS_PER_INSERT rows to a statement, the rest in powers of two."""
    start, count = 0, len(records)
    while start < count:
        left = count - start
        size = LEDGER_ROWS_PER_INSERT if left >= LEDGER_ROWS_PER_INSERT else 1 << (left.bit_length() - 1)
        db.execute(_insert_of(size, columns), tuple(chain.from_iterable(records[start : start + size])))
        start += size


def _insert_conversations(db: sqlite3.Connection, rows: list[LogRow]) -> None:
    marks = ", ".join("?" for _ in conversation_table.COLUMNS)
    db.execute("BEGIN")  # one transaction for the batch
    try:
        db.executemany(f"INSERT INTO babelgate_conversations ({conversation_table.SQL_COLUMNS}) VALUES ({marks})", rows)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _put_document(db: sqlite3.Connection, kind: str, document_id: str, body: bytes) -> None:
    db.execute("BEGIN IMMEDIATE")  # the next seq is read and written under one writer's lock
    try:
        db.execute(
            "INSERT OR REPLACE INTO babelgate_documents (kind, id, seq, body) VALUES"
            " (?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM babelgate_documents WHERE kind = ?), ?)",
            (kind, document_id, kind, body),
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _secret(db: sqlite3.Connection, name: str, candidate: bytes) -> bytes:
    # Another process sharing the file may insert first: its value wins, and is the one read back.
    db.execute("INSERT OR IGNORE INTO babelgate_secrets (name, value) VALUES (?, ?)", (name, candidate))
    row = db.execute("SELECT value FROM babelgate_secrets WHERE name = ?", (name,)).fetchone()
    return bytes(row[0])


def _put_many(db: sqlite3.Connection, *, records: list[StoredResponse]) -> None:
    """In order, in one transaction: a later record of the same id replaces an earlier one."""
    rows = [_bindable((record.id, record.created_at, record.expires_at, encode_body(record))) for record in records]
    db.execute("BEGIN")
    try:
        db.executemany(
            "INSERT OR REPLACE INTO babelgate_responses (id, created_at, expires_at, body) VALUES (?, ?, ?, ?)", rows
        )
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _get(db: sqlite3.Connection, response_id: str, now: int) -> StoredResponse | None:
    row = db.execute(
        "SELECT created_at, expires_at, body FROM babelgate_responses"
        " WHERE id = ? AND (expires_at IS NULL OR expires_at > ?)",
        (response_id, now),
    ).fetchone()
    return None if row is None else decode_record(response_id, row[0], row[1], row[2])


def _delete(db: sqlite3.Connection, response_id: str, now: int) -> bool:
    # An expired row goes too, but counts as absent, as it would for `get`. fetchall, not fetchone:
    # sqlite3 finishes a RETURNING statement (and its implicit transaction) only once every row is read.
    rows = db.execute("DELETE FROM babelgate_responses WHERE id = ? RETURNING expires_at", (response_id,)).fetchall()
    return bool(rows) and not is_expired(rows[0][0], now)


def _purge(db: sqlite3.Connection, now: int, limit: int) -> int:
    """At most `limit` expired responses, the soonest expired first (the `expires_at` index finds them)."""
    return db.execute(
        "DELETE FROM babelgate_responses WHERE rowid IN"
        " (SELECT rowid FROM babelgate_responses WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)",
        (now, limit),
    ).rowcount
