"""The batch engine's records in PostgreSQL: instances on several machines share a batch's work, each claiming
a chunk at a time (`FOR UPDATE SKIP LOCKED`: two claimers never wait on, or take, the same chunk). Its own small
pool; tables made on first use under an advisory lock, as the response store's are."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Final

import asyncpg
import orjson

from babelgate.store.batch_records import (
    BATCH_COLUMNS,
    CHUNK_COLUMNS,
    FILE_COLUMNS,
    LINE_COLUMNS,
    LIVE_SQL,
    TABLES,
    BatchRecord,
    Chunk,
    FileRecord,
    Outcome,
    Scope,
    batch_of,
    batch_row,
    file_of,
    outcome_of,
    scope_condition,
    tally,
)

_POOL_MAX: Final = 4


def _mark(n: int) -> str:
    return f"${n}"


class PostgresBatchStore:
    def __init__(self, dsn: str, *, timeout: float) -> None:
        self._dsn = dsn
        self._timeout = timeout
        self._pool: Any = None
        self._lock = asyncio.Lock()

    async def _ready(self) -> Any:
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is None:
                pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=_POOL_MAX, timeout=self._timeout)
                try:
                    async with pool.acquire(timeout=self._timeout) as connection, connection.transaction():
                        await connection.execute("SELECT pg_advisory_xact_lock(hashtext('babelgate_batches'))")
                        for statement in TABLES:
                            await connection.execute(statement.format(blob="BYTEA"))
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
        return self._pool

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        pool = await self._ready()
        async with pool.acquire(timeout=self._timeout) as connection:
            yield connection

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def put_file(self, record: FileRecord) -> None:
        values = [getattr(record, name) for name in FILE_COLUMNS.split(", ")]
        async with self._connection() as db:
            await db.execute(
                f"INSERT INTO babelgate_files ({FILE_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
                " ON CONFLICT (id) DO NOTHING",
                *values,
                timeout=self._timeout,
            )

    async def get_file(self, file_id: str) -> FileRecord | None:
        async with self._connection() as db:
            row = await db.fetchrow(f"SELECT {FILE_COLUMNS} FROM babelgate_files WHERE id = $1", file_id)
        return file_of(row) if row is not None else None

    async def list_files(
        self, scope: Scope, *, purpose: str | None, after: str | None, limit: int, ascending: bool, now: int
    ) -> list[FileRecord]:
        condition, args = scope_condition(scope, _mark)
        where = [condition]
        args.append(now)
        where.append(f"(expires_at IS NULL OR expires_at > ${len(args)})")
        if purpose is not None:
            args.append(purpose)
            where.append(f"purpose = ${len(args)}")
        if after is not None:
            args.append(after)
            sign = ">" if ascending else "<"
            where.append(
                f"(created_at, id) {sign} (SELECT created_at, id FROM babelgate_files WHERE id = ${len(args)})"
            )
        order = "ASC" if ascending else "DESC"
        async with self._connection() as db:
            rows = await db.fetch(
                f"SELECT {FILE_COLUMNS} FROM babelgate_files WHERE {' AND '.join(where)}"
                f" ORDER BY created_at {order}, id {order} LIMIT {int(limit)}",
                *args,
            )
        return [file_of(row) for row in rows]

    async def delete_file(self, file_id: str) -> bool:
        async with self._connection() as db:
            status: str = await db.execute("DELETE FROM babelgate_files WHERE id = $1", file_id)
        return status != "DELETE 0"

    async def expired_files(self, now: int, limit: int) -> list[FileRecord]:
        async with self._connection() as db:
            rows = await db.fetch(
                f"SELECT {FILE_COLUMNS} FROM babelgate_files WHERE expires_at <= $1 LIMIT {int(limit)}", now
            )
        return [file_of(row) for row in rows]

    async def create_batch(self, record: BatchRecord, chunks: list[Chunk]) -> None:
        async with self._connection() as db, db.transaction():
            await db.execute(
                "INSERT INTO babelgate_batches (id, owner, team, api, status, created_at, expires_at, total,"
                " input_file_id, body) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
                *batch_row(record),
            )
            await db.executemany(
                f"INSERT INTO babelgate_batch_chunks ({CHUNK_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6)",
                [(c.batch_id, c.number, c.first, c.end, c.start, c.stop) for c in chunks],
            )

    async def get_batch(self, batch_id: str) -> BatchRecord | None:
        async with self._connection() as db:
            row = await db.fetchrow(f"SELECT {BATCH_COLUMNS} FROM babelgate_batches WHERE id = $1", batch_id)
        return batch_of(row) if row is not None else None

    async def list_batches(
        self, scope: Scope, api: str, *, after: str | None, limit: int, newest_first: bool = True
    ) -> list[BatchRecord]:
        condition, args = scope_condition(scope, _mark)
        args.append(api)
        where = [condition, f"api = ${len(args)}"]
        if after is not None:
            args.append(after)
            sign = "<" if newest_first else ">"
            where.append(
                f"(created_at, id) {sign} (SELECT created_at, id FROM babelgate_batches WHERE id = ${len(args)})"
            )
        order = "DESC" if newest_first else "ASC"
        async with self._connection() as db:
            rows = await db.fetch(
                f"SELECT {BATCH_COLUMNS} FROM babelgate_batches WHERE {' AND '.join(where)}"
                f" ORDER BY created_at {order}, id {order} LIMIT {int(limit)}",
                *args,
            )
        return [batch_of(row) for row in rows]

    async def remember(self, batch_id: str, body: dict[str, Any]) -> None:
        await self._move(batch_id, None, None, body)

    async def set_status(self, batch_id: str, status: str, *, since: tuple[str, ...], body: dict[str, Any]) -> bool:
        return await self._move(batch_id, status, since, body)

    async def _move(
        self, batch_id: str, status: str | None, since: tuple[str, ...] | None, body: dict[str, Any]
    ) -> bool:
        async with self._connection() as db, db.transaction():
            row = await db.fetchrow("SELECT status, body FROM babelgate_batches WHERE id = $1 FOR UPDATE", batch_id)
            if row is None or (since is not None and row["status"] not in since):
                return False
            merged = orjson.dumps({**orjson.loads(row["body"]), **body})
            await db.execute(
                "UPDATE babelgate_batches SET status = $1, body = $2 WHERE id = $3",
                status or row["status"],
                merged,
                batch_id,
            )
            return True

    async def delete_batch(self, batch_id: str) -> bool:
        async with self._connection() as db, db.transaction():
            await db.execute("DELETE FROM babelgate_batch_lines WHERE batch_id = $1", batch_id)
            await db.execute("DELETE FROM babelgate_batch_chunks WHERE batch_id = $1", batch_id)
            status: str = await db.execute("DELETE FROM babelgate_batches WHERE id = $1", batch_id)
        return status != "DELETE 0"

    async def claim(self, holder: str, now: float, until: float) -> Chunk | None:
        columns = ", ".join("c." + name for name in CHUNK_COLUMNS.split(", "))
        async with self._connection() as db:
            row = await db.fetchrow(
                f"UPDATE babelgate_batch_chunks c SET holder = $1, until = $3 FROM ("
                " SELECT k.batch_id, k.number FROM babelgate_batch_chunks k"
                " JOIN babelgate_batches b ON b.id = k.batch_id"
                f" WHERE NOT k.done AND b.status IN {LIVE_SQL} AND (k.holder IS NULL OR k.until < $2)"
                " ORDER BY b.created_at, k.batch_id, k.number LIMIT 1 FOR UPDATE OF k SKIP LOCKED) pick"
                f" WHERE c.batch_id = pick.batch_id AND c.number = pick.number RETURNING {columns}",
                holder,
                now,
                until,
            )
        return Chunk(*row) if row is not None else None

    async def renew(self, holder: str, chunks: list[tuple[str, int]], until: float) -> None:
        async with self._connection() as db:
            await db.executemany(
                "UPDATE babelgate_batch_chunks SET until = $1 WHERE batch_id = $2 AND number = $3 AND holder = $4",
                [(until, batch_id, number, holder) for batch_id, number in chunks],
            )

    async def record_lines(self, batch_id: str, outcomes: list[Outcome], *, done: int | None = None) -> None:
        async with self._connection() as db, db.transaction():
            rows = await db.fetch(
                f"INSERT INTO babelgate_batch_lines (batch_id, {LINE_COLUMNS})"
                " SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::int[], $6::text[], $7::bytea[])"
                " ON CONFLICT DO NOTHING RETURNING line",
                batch_id,
                [o.line for o in outcomes],
                [o.custom_id for o in outcomes],
                [o.kind for o in outcomes],
                [o.status for o in outcomes],
                [o.request_id for o in outcomes],
                [o.body for o in outcomes],
            )
            inserted = {row["line"] for row in rows}
            written = [outcome for outcome in outcomes if outcome.line in inserted]
            if written:
                await db.execute(
                    "UPDATE babelgate_batches SET succeeded = succeeded + $1, errored = errored + $2,"
                    " canceled = canceled + $3, expired = expired + $4 WHERE id = $5",
                    *tally(written),
                    batch_id,
                )
            if done is not None:
                await db.execute(
                    "UPDATE babelgate_batch_chunks SET done = TRUE WHERE batch_id = $1 AND number = $2", batch_id, done
                )

    async def recorded_lines(self, batch_id: str, first: int, end: int) -> set[int]:
        async with self._connection() as db:
            rows = await db.fetch(
                "SELECT line FROM babelgate_batch_lines WHERE batch_id = $1 AND line >= $2 AND line < $3",
                batch_id,
                first,
                end,
            )
        return {row["line"] for row in rows}

    async def open_chunks(self, batch_id: str) -> int:
        async with self._connection() as db:
            count: int = await db.fetchval(
                "SELECT count(*) FROM babelgate_batch_chunks WHERE batch_id = $1 AND NOT done", batch_id
            )
        return count

    async def outcomes(self, batch_id: str, after: int, limit: int) -> list[Outcome]:
        async with self._connection() as db:
            rows = await db.fetch(
                f"SELECT {LINE_COLUMNS} FROM babelgate_batch_lines WHERE batch_id = $1 AND line > $2"
                f" ORDER BY line LIMIT {int(limit)}",
                batch_id,
                after,
            )
        return [outcome_of(row) for row in rows]
