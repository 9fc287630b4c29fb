"""Stored responses in PostgreSQL, so that gateways on several machines share one conversation state.

The pool and the table are created on first use, not at construction, so a gateway starts (and
answers requests that store nothing) while the database is still coming up. The table name is
spliced into SQL, which cannot take it as a parameter, hence the strict identifier check.

Every connect, pool acquire and statement of this module has a deadline (`timeout`, the config's
`store.timeout`): a database that goes silent then costs a failed call, never a connection held
for good. An acquire's deadline is also what asyncpg allows for handing the connection back after
a cancelled statement (past it, the connection is dropped), so a hung database cannot take the
pool's connections with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import asyncpg

from babelgate.store import conversation_table, postgres_ledger
from babelgate.store.base import Clock, StoredResponse, decode_record, encode_body, is_expired, now_seconds
from babelgate.store.conversation_table import LogQuery, LogRow
from babelgate.store.ledger_table import COLUMNS, ERROR_COLUMNS, ERROR_ROWS, Row, UsageQuery
from babelgate.store.timed import DEFAULT_TIMEOUT

# `user` is a keyword in PostgreSQL: every column quoted.
_SQL_COLUMNS: Final = ", ".join(f'"{column}"' for column in COLUMNS)

# Unquoted identifiers only, and short enough that "<table>_ledger_hourly_pkey" stays within Postgres's 63 bytes
# (longer names are silently truncated, and two tables could then fight over one index name).
_TABLE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,43}")
_POOL_MIN: Final = 1
_POOL_MAX: Final = 10


class PostgresResponseStore:
    def __init__(
        self,
        dsn: str,
        *,
        table: str = "babelgate_responses",
        clock: Clock = time.time,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not _TABLE_NAME.fullmatch(table):
            raise ValueError(f"table must be a plain SQL identifier of at most 44 characters, got {table!r}")
        self._dsn = dsn
        self._timeout = timeout
        self._table = table
        self._clock = clock
        self._pool: Any = None
        self._pool_lock = asyncio.Lock()
        self._closed = False
        self._releasing: set[asyncio.Task[None]] = set()  # connections handed back after a failure

    async def put(self, record: StoredResponse) -> None:
        async with self._connection() as connection:
            await connection.execute(self._upsert(), *_row(record), timeout=self._timeout)

    async def put_many(self, records: list[StoredResponse]) -> None:
        async with self._connection() as connection:
            # executemany runs in one transaction (asyncpg >= 0.22): all of the records or none.
            await connection.executemany(self._upsert(), [_row(record) for record in records], timeout=self._timeout)

    def _upsert(self) -> str:
        return (
            f"INSERT INTO {self._table} (id, created_at, expires_at, body) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (id) DO UPDATE SET created_at = EXCLUDED.created_at,"
            " expires_at = EXCLUDED.expires_at, body = EXCLUDED.body"
        )

    async def get(self, response_id: str) -> StoredResponse | None:
        async with self._connection() as connection:
            row = await connection.fetchrow(
                f"SELECT created_at, expires_at, body FROM {self._table}"
                " WHERE id = $1 AND (expires_at IS NULL OR expires_at > $2)",
                response_id,
                now_seconds(self._clock),
                timeout=self._timeout,
            )
        if row is None:
            return None
        return decode_record(response_id, row["created_at"], row["expires_at"], row["body"])

    async def delete(self, response_id: str) -> bool:
        async with self._connection() as connection:
            # An expired row goes too, but counts as absent, as it would for `get`.
            row = await connection.fetchrow(
                f"DELETE FROM {self._table} WHERE id = $1 RETURNING expires_at", response_id, timeout=self._timeout
            )
        return row is not None and not is_expired(row["expires_at"], now_seconds(self._clock))

    async def purge_expired(self) -> int:
        async with self._connection() as connection:
            status: str = await connection.execute(
                f"DELETE FROM {self._table} WHERE expires_at <= $1", now_seconds(self._clock), timeout=self._timeout
            )
        return int(status.rsplit(" ", 1)[-1])  # the command tag: "DELETE <count>"

    async def secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        async with self._connection() as connection:
            # Another instance may insert first: ON CONFLICT keeps its value, and the read returns it.
            await connection.execute(
                f"INSERT INTO {self._table}_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                name,
                make(),
                timeout=self._timeout,
            )
            value: bytes = await connection.fetchval(
                f"SELECT value FROM {self._table}_secrets WHERE name = $1", name, timeout=self._timeout
            )
        return value

    async def put_document(self, kind: str, document_id: str, body: bytes) -> None:
        table = f"{self._table}_documents"
        async with self._connection() as connection:
            await connection.execute(
                f"INSERT INTO {table} (kind, id, seq, body) VALUES ($1, $2, nextval('{table}_seq'), $3)"
                f" ON CONFLICT (kind, id) DO UPDATE SET seq = excluded.seq, body = excluded.body",
                kind,
                document_id,
                body,
                timeout=self._timeout,
            )

    async def documents(self, kind: str) -> dict[str, bytes]:
        async with self._connection() as connection:
            rows = await connection.fetch(
                f"SELECT id, body FROM {self._table}_documents WHERE kind = $1", kind, timeout=self._timeout
            )
        return {row["id"]: bytes(row["body"]) for row in rows}

    async def document_version(self, kind: str) -> int:
        async with self._connection() as connection:
            value = await connection.fetchval(
                f"SELECT coalesce(max(seq), 0) FROM {self._table}_documents WHERE kind = $1",
                kind,
                timeout=self._timeout,
            )
        return int(value)

    async def append_usage(self, rows: list[Row]) -> None:
        await postgres_ledger.append(await self._ready_pool(), self._table, rows)

    async def usage(self, since: float, until: float) -> list[dict[str, Any]]:
        async with self._connection() as connection:
            rows = await connection.fetch(
                f"SELECT {_SQL_COLUMNS} FROM {self._table}_ledger WHERE ts >= $1 AND ts < $2 ORDER BY ts",
                since,
                until,
                timeout=self._timeout,
            )
        return [dict(row) for row in rows]

    async def usage_summary(self, query: UsageQuery) -> list[dict[str, Any]]:
        # One connection acquired with a deadline (a connection reads like the pool): a summary cut off
        # by the caller's deadline hands it back, or drops it, within that deadline too.
        async with self._connection() as connection:
            return await postgres_ledger.summary(connection, self._table, query)

    async def usage_errors(self, since: float, until: float) -> list[dict[str, Any]]:
        async with self._connection() as connection:
            rows = await connection.fetch(
                f"SELECT {', '.join(ERROR_COLUMNS)} FROM {self._table}_ledger"
                f" WHERE ts >= $1 AND ts < $2 AND status >= 400 ORDER BY ts DESC LIMIT {ERROR_ROWS}",
                since,
                until,
                timeout=self._timeout,
            )
        return [dict(row) for row in rows]

    async def delete_usage_before(self, ts: float) -> int:
        return await postgres_ledger.delete_before(await self._ready_pool(), self._table, ts)

    @property
    def _conversations(self) -> str:
        """The conversation log's table: `babelgate_conversations` beside the default `babelgate_responses`."""
        return self._table.removesuffix("_responses") + "_conversations"

    async def append_conversations(self, rows: list[LogRow]) -> None:
        pool = await self._ready_pool()
        async with pool.acquire() as connection:
            await connection.copy_records_to_table(
                self._conversations, records=rows, columns=conversation_table.COLUMNS
            )

    async def conversations(self, query: LogQuery) -> list[LogRow]:
        condition, args = conversation_table.where(query, lambda n: f"${n}", like="ILIKE")
        async with self._connection() as connection:
            rows = await connection.fetch(
                f"SELECT {conversation_table.SQL_COLUMNS} FROM {self._conversations} WHERE {condition}"
                f" ORDER BY ts DESC, request_id DESC LIMIT {int(query.limit) + 1}",
                *args,
                timeout=self._timeout,
            )
        return [tuple(row) for row in rows]

    async def conversation(self, request_id: str) -> LogRow | None:
        async with self._connection() as connection:
            row = await connection.fetchrow(
                f"SELECT {conversation_table.SQL_COLUMNS} FROM {self._conversations} WHERE request_id = $1",
                request_id,
                timeout=self._timeout,
            )
        return tuple(row) if row is not None else None

    async def delete_conversations_before(self, ts: float) -> int:
        pool = await self._ready_pool()
        async with pool.acquire() as connection:
            status = await connection.execute(f"DELETE FROM {self._conversations} WHERE ts < $1", ts)
        return int(status.split()[-1])

    async def close(self) -> None:
        async with self._pool_lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            try:
                # A graceful close waits for every connection to come back: not from a silent database.
                async with asyncio.timeout(self._timeout):
                    await pool.close()
            except TimeoutError:
                pool.terminate()

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        pool = await self._ready_pool()
        connection = await pool.acquire(timeout=self._timeout)
        try:
            yield connection
        except BaseException:
            # Cut off by a deadline (or failed): asyncpg then waits up to the acquire's timeout for
            # the server to confirm the cancel before the connection is reused or dropped. That
            # happens in the background; the caller, whose deadline is over, does not wait twice.
            task = asyncio.get_running_loop().create_task(pool.release(connection))
            self._releasing.add(task)
            task.add_done_callback(self._released)
            raise
        await pool.release(connection)

    def _released(self, task: asyncio.Task[None]) -> None:
        self._releasing.discard(task)
        if not task.cancelled():
            task.exception()  # a connection that could not be reset is dropped by asyncpg: nothing to add

    async def _ready_pool(self) -> Any:
        if self._pool is not None:
            return self._pool
        async with self._pool_lock:
            if self._closed:
                raise RuntimeError("the PostgreSQL response store is closed")
            if self._pool is None:
                # `timeout`: each new connection's connect and authentication.
                pool = await asyncpg.create_pool(
                    self._dsn, min_size=_POOL_MIN, max_size=_POOL_MAX, timeout=self._timeout
                )
                try:
                    await self._create_table(pool)
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
        return self._pool

    async def _create_table(self, pool: Any) -> None:
        async with pool.acquire(timeout=self._timeout) as connection, connection.transaction():
            # CREATE ... IF NOT EXISTS is not safe against itself: two gateways starting together can
            # both pass the check and one then fails on a duplicate catalog row. The lock orders them.
            await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self._table)
            await connection.execute(
                f"CREATE TABLE IF NOT EXISTS {self._table} ("
                " id TEXT PRIMARY KEY, created_at BIGINT NOT NULL, expires_at BIGINT, body BYTEA NOT NULL)"
            )
            await connection.execute(
                f"CREATE INDEX IF NOT EXISTS {self._table}_expires_at ON {self._table} (expires_at)"
            )
            await connection.execute(
                f"CREATE TABLE IF NOT EXISTS {self._table}_secrets (name TEXT PRIMARY KEY, value BYTEA NOT NULL)"
            )
            for statement in postgres_ledger.schema(self._table):  # the usage ledger and its rollup
                await connection.execute(statement)
            table = self._conversations  # the conversation log (store/conversation_table.py)
            await connection.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (ts DOUBLE PRECISION NOT NULL, request_id TEXT NOT NULL,"
                f' key_id TEXT, team TEXT, "user" TEXT, model TEXT, summary TEXT NOT NULL, content TEXT NOT NULL,'
                f" search TEXT NOT NULL)"
            )
            await connection.execute(f"CREATE INDEX IF NOT EXISTS {table}_ts ON {table} (ts, request_id)")
            await connection.execute(f"CREATE INDEX IF NOT EXISTS {table}_id ON {table} (request_id)")
            await connection.execute(f"CREATE SEQUENCE IF NOT EXISTS {self._table}_documents_seq")
            await connection.execute(
                f"CREATE TABLE IF NOT EXISTS {self._table}_documents (kind TEXT NOT NULL, id TEXT NOT NULL,"
                f" seq BIGINT NOT NULL, body BYTEA NOT NULL, PRIMARY KEY (kind, id))"
            )


def _row(record: StoredResponse) -> tuple[str, int, int | None, bytes]:
    return record.id, record.created_at, record.expires_at, encode_body(record)
