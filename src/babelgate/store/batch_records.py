"""What the batch engine keeps in the store: uploaded files' records, batches, the chunks of a batch's lines that
instances claim with a lease, and each line's outcome; and `BatchStore`, the interface the memory, SQLite and
PostgreSQL stores implement (batch_memory.py, batch_sqlite.py, batch_postgres.py).

A batch's lines are cut into chunks of consecutive lines when it is created. An instance claims a chunk with a
lease (`holder`, `until`) that it renews while it runs the chunk's lines; a chunk whose lease ran out (its instance
crashed) is claimed again by any instance, which skips the lines whose outcome is recorded. An outcome is written
once (`record_lines` ignores a line already recorded), so a line that ran twice across a crash is counted once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

import orjson

# A line's outcome: an answer (`ok`, any status the route answered), or no answer at all.
Kind = Literal["ok", "canceled", "expired"]
# Statuses a batch may be in (OpenAI's names; the Anthropic door maps them to its `processing_status`). Its chunks
# are claimed while it is live or being finished (its last chunk, which holds no line, is the finishing's: a crashed
# finisher's lease runs out as a line chunk's does, and another instance finishes the batch).
LIVE: Final = ("validating", "in_progress", "cancelling", "finalizing", "cancel_finalizing")
LIVE_SQL: Final = "(" + ", ".join(f"'{status}'" for status in LIVE) + ")"
ENDED: Final = ("completed", "failed", "expired", "cancelled")


@dataclass(frozen=True, slots=True)
class FileRecord:
    """An uploaded file (or one the gateway wrote: a batch's output and errors), OpenAI's `FileObject` fields."""

    id: str
    owner: str | None  # the gateway key id that uploaded it
    team: str | None  # its key's team, for a team admin's view
    purpose: str
    filename: str
    bytes: int
    created_at: int
    expires_at: int | None = None
    lines: int = 0  # a `batch` file's lines (checked at upload)


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose records a caller sees: an owner's, a team's, or everyone's (`everyone`)."""

    owner: str | None = None
    team: str | None = None
    everyone: bool = False

    def sees(self, owner: str | None, team: str | None) -> bool:
        if self.everyone:
            return True
        if self.team is not None and team == self.team:
            return True
        return owner == self.owner


@dataclass(slots=True)
class BatchRecord:
    """A batch: the columns the engine reads and the store updates, and the rest of OpenAI's and Anthropic's
    objects in `body` (endpoint, input file, window, metadata, timestamps, output files)."""

    id: str
    owner: str | None
    team: str | None
    api: Literal["openai", "anthropic"]
    status: str
    created_at: int
    expires_at: int
    total: int
    input_file_id: str
    body: dict[str, Any] = field(default_factory=dict)
    # Outcomes recorded so far, by kind: answered with a 2xx, answered otherwise, canceled, expired.
    succeeded: int = 0
    errored: int = 0
    canceled: int = 0
    expired: int = 0

    @property
    def recorded(self) -> int:
        return self.succeeded + self.errored + self.canceled + self.expired


@dataclass(frozen=True, slots=True)
class Chunk:
    """Lines `[first, end)` of a batch, at bytes `[start, stop)` of its input file. A batch's last chunk holds no
    line (`first == end`): its holder finishes the batch once every other chunk is done."""

    batch_id: str
    number: int
    first: int
    end: int
    start: int
    stop: int

    @property
    def finishes(self) -> bool:
        return self.first == self.end


@dataclass(frozen=True, slots=True)
class Outcome:
    """One line's outcome: `status` and `body` of the route's answer (JSON bytes) for `ok`, else none."""

    line: int
    custom_id: str
    kind: Kind
    status: int = 0
    request_id: str = ""
    body: bytes = b""

    @property
    def succeeded(self) -> bool:
        return self.kind == "ok" and 200 <= self.status < 300


class BatchStore(Protocol):
    async def put_file(self, record: FileRecord) -> None: ...

    async def get_file(self, file_id: str) -> FileRecord | None:
        """The record, or None when absent or expired."""

    async def list_files(
        self, scope: Scope, *, purpose: str | None, after: str | None, limit: int, ascending: bool, now: int
    ) -> list[FileRecord]:
        """The scope's live files, by creation time (and id), after the file `after` in that order."""

    async def delete_file(self, file_id: str) -> bool: ...

    async def expired_files(self, now: int, limit: int) -> list[FileRecord]:
        """Files whose `expires_at <= now`, for the purge (which deletes contents, then records)."""

    async def create_batch(self, record: BatchRecord, chunks: list[Chunk]) -> None:
        """The batch and its chunks, in one transaction."""

    async def get_batch(self, batch_id: str) -> BatchRecord | None: ...

    async def list_batches(
        self, scope: Scope, api: str, *, after: str | None, limit: int, newest_first: bool = True
    ) -> list[BatchRecord]: ...

    async def set_status(self, batch_id: str, status: str, *, since: tuple[str, ...], body: dict[str, Any]) -> bool:
        """Moves the batch to `status` (its `body` merged with `body`) if its status is one of `since`: True when
        this call moved it (of several instances, one wins)."""

    async def remember(self, batch_id: str, body: dict[str, Any]) -> None:
        """Merges `body` into the batch's body whatever its status (the provider batches a chunk submitted)."""

    async def delete_batch(self, batch_id: str) -> bool:
        """The batch, its chunks and its lines' outcomes."""

    async def claim(self, holder: str, now: float, until: float) -> Chunk | None:
        """A chunk of a live batch nobody holds (never held, or its lease ran out before `now`), now held by
        `holder` until `until`; None when there is none."""

    async def renew(self, holder: str, chunks: list[tuple[str, int]], until: float) -> None: ...

    async def record_lines(self, batch_id: str, outcomes: list[Outcome], *, done: int | None = None) -> None:
        """The outcomes of lines not recorded yet (a recorded line keeps its first outcome), the batch's counts
        moved by the ones written; `done`: that chunk is finished, in the same transaction."""

    async def recorded_lines(self, batch_id: str, first: int, end: int) -> set[int]:
        """Which of lines `[first, end)` have an outcome."""

    async def open_chunks(self, batch_id: str) -> int:
        """The batch's chunks not finished yet."""

    async def outcomes(self, batch_id: str, after: int, limit: int) -> list[Outcome]:
        """Recorded outcomes of lines after line `after` (-1: from the first), in line order."""

    async def close(self) -> None: ...


def tally(outcomes: list[Outcome]) -> tuple[int, int, int, int]:
    """The outcomes counted as the batch's columns count them: succeeded, errored, canceled, expired."""
    succeeded = errored = canceled = expired = 0
    for outcome in outcomes:
        if outcome.kind == "canceled":
            canceled += 1
        elif outcome.kind == "expired":
            expired += 1
        elif outcome.succeeded:
            succeeded += 1
        else:
            errored += 1
    return succeeded, errored, canceled, expired


# The tables, as SQLite and PostgreSQL both spell them (a blob is BLOB in one and BYTEA in the other, `{blob}`).
TABLES: Final = (
    "CREATE TABLE IF NOT EXISTS babelgate_files (id TEXT PRIMARY KEY, owner TEXT, team TEXT, purpose TEXT NOT NULL,"
    " filename TEXT NOT NULL, bytes BIGINT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT,"
    " lines INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS babelgate_files_created ON babelgate_files (created_at, id)",
    "CREATE INDEX IF NOT EXISTS babelgate_files_expires ON babelgate_files (expires_at)",
    "CREATE TABLE IF NOT EXISTS babelgate_batches (id TEXT PRIMARY KEY, owner TEXT, team TEXT, api TEXT NOT NULL,"
    " status TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, total INTEGER NOT NULL,"
    " input_file_id TEXT NOT NULL, body {blob} NOT NULL, succeeded INTEGER NOT NULL DEFAULT 0,"
    " errored INTEGER NOT NULL DEFAULT 0, canceled INTEGER NOT NULL DEFAULT 0, expired INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS babelgate_batches_created ON babelgate_batches (api, created_at, id)",
    "CREATE TABLE IF NOT EXISTS babelgate_batch_chunks (batch_id TEXT NOT NULL, number INTEGER NOT NULL,"
    " first_line INTEGER NOT NULL, end_line INTEGER NOT NULL, start_byte BIGINT NOT NULL, stop_byte BIGINT NOT NULL,"
    " holder TEXT, until DOUBLE PRECISION NOT NULL DEFAULT 0, done BOOLEAN NOT NULL DEFAULT FALSE,"
    " PRIMARY KEY (batch_id, number))",
    "CREATE INDEX IF NOT EXISTS babelgate_batch_chunks_open ON babelgate_batch_chunks (done, until)",
    "CREATE TABLE IF NOT EXISTS babelgate_batch_lines (batch_id TEXT NOT NULL, line INTEGER NOT NULL,"
    " custom_id TEXT NOT NULL, kind TEXT NOT NULL, status INTEGER NOT NULL, request_id TEXT NOT NULL,"
    " body {blob} NOT NULL, PRIMARY KEY (batch_id, line))",
)
FILE_COLUMNS: Final = "id, owner, team, purpose, filename, bytes, created_at, expires_at, lines"
BATCH_COLUMNS: Final = (
    "id, owner, team, api, status, created_at, expires_at, total, input_file_id, body,"
    " succeeded, errored, canceled, expired"
)
CHUNK_COLUMNS: Final = "batch_id, number, first_line, end_line, start_byte, stop_byte"
LINE_COLUMNS: Final = "line, custom_id, kind, status, request_id, body"


def file_of(row: Any) -> FileRecord:
    return FileRecord(*row)


def batch_of(row: Any) -> BatchRecord:
    values = list(row)
    values[9] = orjson.loads(values[9])
    return BatchRecord(*values)


def batch_row(record: BatchRecord) -> tuple[Any, ...]:
    return (
        record.id,
        record.owner,
        record.team,
        record.api,
        record.status,
        record.created_at,
        record.expires_at,
        record.total,
        record.input_file_id,
        orjson.dumps(record.body),
    )


def outcome_of(row: Any) -> Outcome:
    line, custom_id, kind, status, request_id, body = row
    return Outcome(line, custom_id, kind, status, request_id, bytes(body))


def scope_condition(scope: Scope, mark: Any) -> tuple[str, list[Any]]:
    """The SQL condition of a scope (`mark(n)`: the store's n-th parameter), and its arguments."""
    if scope.everyone:
        return "TRUE", []
    if scope.team is not None:
        return f"(owner = {mark(1)} OR team = {mark(2)})", [scope.owner, scope.team]
    if scope.owner is None:
        return "owner IS NULL", []
    return f"owner = {mark(1)}", [scope.owner]
