"""The batch engine's records in the SQLite file of the store (its own connection, on its own worker thread:
`sqlite3` blocks). Several gateway processes on one file share the work, as the file's lock orders their
claims (`BEGIN IMMEDIATE`)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

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
from babelgate.store.sqlite import open_connection

_T = TypeVar("_T")


def _mark(_: int) -> str:
    return "?"


class SQLiteBatchStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None

    async def _call(self, operation: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="babelgate-batches")
        return await asyncio.get_running_loop().run_in_executor(self._executor, lambda: operation(self._connect()))

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            connection = open_connection(self._path)
            for statement in TABLES:
                connection.execute(statement.format(blob="BLOB"))
            self._connection = connection
        return self._connection

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        executor.shutdown(wait=False)

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def put_file(self, record: FileRecord) -> None:
        values = (*(getattr(record, name) for name in FILE_COLUMNS.split(", ")),)
        await self._call(
            lambda db: db.execute(
                f"INSERT OR REPLACE INTO babelgate_files ({FILE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", values
            )
        )

    async def get_file(self, file_id: str) -> FileRecord | None:
        row = await self._call(
            lambda db: db.execute(f"SELECT {FILE_COLUMNS} FROM babelgate_files WHERE id = ?", (file_id,)).fetchone()
        )
        return file_of(row) if row is not None else None

    async def list_files(
        self, scope: Scope, *, purpose: str | None, after: str | None, limit: int, ascending: bool, now: int
    ) -> list[FileRecord]:
        condition, args = scope_condition(scope, _mark)
        where = [condition, "(expires_at IS NULL OR expires_at > ?)"]
        args.append(now)
        if purpose is not None:
            where.append("purpose = ?")
            args.append(purpose)
        if after is not None:
            sign = ">" if ascending else "<"
            where.append(f"(created_at, id) {sign} (SELECT created_at, id FROM babelgate_files WHERE id = ?)")
            args.append(after)
        order = "ASC" if ascending else "DESC"
        statement = (
            f"SELECT {FILE_COLUMNS} FROM babelgate_files WHERE {' AND '.join(where)}"
            f" ORDER BY created_at {order}, id {order} LIMIT {int(limit)}"
        )
        rows = await self._call(lambda db: db.execute(statement, args).fetchall())
        return [file_of(row) for row in rows]

    async def delete_file(self, file_id: str) -> bool:
        return await self._call(
            lambda db: db.execute("DELETE FROM babelgate_files WHERE id = ?", (file_id,)).rowcount > 0
        )

    async def expired_files(self, now: int, limit: int) -> list[FileRecord]:
        statement = f"SELECT {FILE_COLUMNS} FROM babelgate_files WHERE expires_at <= ? LIMIT {int(limit)}"
        rows = await self._call(lambda db: db.execute(statement, (now,)).fetchall())
        return [file_of(row) for row in rows]

    async def create_batch(self, record: BatchRecord, chunks: list[Chunk]) -> None:
        row = batch_row(record)
        chunk_rows = [(c.batch_id, c.number, c.first, c.end, c.start, c.stop) for c in chunks]

        def create(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT INTO babelgate_batches (id, owner, team, api, status, created_at, expires_at, total,"
                    " input_file_id, body) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    row,
                )
                db.executemany(f"INSERT INTO babelgate_batch_chunks ({CHUNK_COLUMNS}) VALUES (?,?,?,?,?,?)", chunk_rows)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        await self._call(create)

    async def get_batch(self, batch_id: str) -> BatchRecord | None:
        row = await self._call(
            lambda db: db.execute(f"SELECT {BATCH_COLUMNS} FROM babelgate_batches WHERE id = ?", (batch_id,)).fetchone()
        )
        return batch_of(row) if row is not None else None

    async def list_batches(
        self, scope: Scope, api: str, *, after: str | None, limit: int, newest_first: bool = True
    ) -> list[BatchRecord]:
        condition, args = scope_condition(scope, _mark)
        where = [condition, "api = ?"]
        args.append(api)
        if after is not None:
            sign = "<" if newest_first else ">"
            where.append(f"(created_at, id) {sign} (SELECT created_at, id FROM babelgate_batches WHERE id = ?)")
            args.append(after)
        order = "DESC" if newest_first else "ASC"
        statement = (
            f"SELECT {BATCH_COLUMNS} FROM babelgate_batches WHERE {' AND '.join(where)}"
            f" ORDER BY created_at {order}, id {order} LIMIT {int(limit)}"
        )
        rows = await self._call(lambda db: db.execute(statement, args).fetchall())
        return [batch_of(row) for row in rows]

    async def remember(self, batch_id: str, body: dict[str, Any]) -> None:
        await self._move(batch_id, None, None, body)

    async def set_status(self, batch_id: str, status: str, *, since: tuple[str, ...], body: dict[str, Any]) -> bool:
        return await self._move(batch_id, status, since, body)

    async def _move(
        self, batch_id: str, status: str | None, since: tuple[str, ...] | None, body: dict[str, Any]
    ) -> bool:
        def move(db: sqlite3.Connection) -> bool:
            db.execute("BEGIN IMMEDIATE")  # read, merge and write the body under the writer's lock
            try:
                row = db.execute("SELECT status, body FROM babelgate_batches WHERE id = ?", (batch_id,)).fetchone()
                if row is None or (since is not None and row[0] not in since):
                    db.execute("ROLLBACK")
                    return False
                merged = orjson.dumps({**orjson.loads(row[1]), **body})
                db.execute(
                    "UPDATE babelgate_batches SET status = ?, body = ? WHERE id = ?",
                    (status or row[0], merged, batch_id),
                )
                db.execute("COMMIT")
                return True
            except BaseException:
                db.execute("ROLLBACK")
                raise

        return await self._call(move)

    async def delete_batch(self, batch_id: str) -> bool:
        def delete(db: sqlite3.Connection) -> bool:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM babelgate_batch_lines WHERE batch_id = ?", (batch_id,))
                db.execute("DELETE FROM babelgate_batch_chunks WHERE batch_id = ?", (batch_id,))
                gone = db.execute("DELETE FROM babelgate_batches WHERE id = ?", (batch_id,)).rowcount > 0
                db.execute("COMMIT")
                return gone
            except BaseException:
                db.execute("ROLLBACK")
                raise

        return await self._call(delete)

    async def claim(self, holder: str, now: float, until: float) -> Chunk | None:
        def claim(db: sqlite3.Connection) -> Chunk | None:
            db.execute("BEGIN IMMEDIATE")  # one claimer at a time across the processes on the file
            try:
                row = db.execute(
                    f"SELECT {', '.join('c.' + name for name in CHUNK_COLUMNS.split(', '))}"
                    " FROM babelgate_batch_chunks c JOIN babelgate_batches b ON b.id = c.batch_id"
                    f" WHERE NOT c.done AND b.status IN {LIVE_SQL} AND (c.holder IS NULL OR c.until < ?)"
                    " ORDER BY b.created_at, c.batch_id, c.number LIMIT 1",
                    (now,),
                ).fetchone()
                if row is not None:
                    db.execute(
                        "UPDATE babelgate_batch_chunks SET holder = ?, until = ? WHERE batch_id = ? AND number = ?",
                        (holder, until, row[0], row[1]),
                    )
                db.execute("COMMIT")
                return Chunk(*row) if row is not None else None
            except BaseException:
                db.execute("ROLLBACK")
                raise

        return await self._call(claim)

    async def renew(self, holder: str, chunks: list[tuple[str, int]], until: float) -> None:
        rows = [(until, batch_id, number, holder) for batch_id, number in chunks]
        await self._call(
            lambda db: db.executemany(
                "UPDATE babelgate_batch_chunks SET until = ? WHERE batch_id = ? AND number = ? AND holder = ?", rows
            )
        )

    async def record_lines(self, batch_id: str, outcomes: list[Outcome], *, done: int | None = None) -> None:
        def record(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                written = []
                for outcome in outcomes:
                    cursor = db.execute(
                        f"INSERT OR IGNORE INTO babelgate_batch_lines (batch_id, {LINE_COLUMNS})"
                        " VALUES (?,?,?,?,?,?,?)",
                        (
                            batch_id,
                            outcome.line,
                            outcome.custom_id,
                            outcome.kind,
                            outcome.status,
                            outcome.request_id,
                            outcome.body,
                        ),
                    )
                    if cursor.rowcount > 0:
                        written.append(outcome)
                if written:
                    db.execute(
                        "UPDATE babelgate_batches SET succeeded = succeeded + ?, errored = errored + ?,"
                        " canceled = canceled + ?, expired = expired + ? WHERE id = ?",
                        (*tally(written), batch_id),
                    )
                if done is not None:
                    db.execute(
                        "UPDATE babelgate_batch_chunks SET done = TRUE WHERE batch_id = ? AND number = ?",
                        (batch_id, done),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        await self._call(record)

    async def recorded_lines(self, batch_id: str, first: int, end: int) -> set[int]:
        rows = await self._call(
            lambda db: db.execute(
                "SELECT line FROM babelgate_batch_lines WHERE batch_id = ? AND line >= ? AND line < ?",
                (batch_id, first, end),
            ).fetchall()
        )
        return {row[0] for row in rows}

    async def open_chunks(self, batch_id: str) -> int:
        row = await self._call(
            lambda db: db.execute(
                "SELECT count(*) FROM babelgate_batch_chunks WHERE batch_id = ? AND NOT done", (batch_id,)
            ).fetchone()
        )
        return int(row[0])

    async def outcomes(self, batch_id: str, after: int, limit: int) -> list[Outcome]:
        rows = await self._call(
            lambda db: db.execute(
                f"SELECT {LINE_COLUMNS} FROM babelgate_batch_lines WHERE batch_id = ? AND line > ?"
                f" ORDER BY line LIMIT {int(limit)}",
                (batch_id, after),
            ).fetchall()
        )
        return [outcome_of(row) for row in rows]
