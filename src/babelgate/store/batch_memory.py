"""The batch engine's records in dicts: for tests and gateways on the `memory` store (nothing outlives the
process, and no other instance shares the work)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from babelgate.store.batch_records import LIVE, BatchRecord, Chunk, FileRecord, Outcome, Scope


class _Held:
    __slots__ = ("chunk", "done", "holder", "until")

    def __init__(self, chunk: Chunk) -> None:
        self.chunk = chunk
        self.holder: str | None = None
        self.until = 0.0
        self.done = False


class MemoryBatchStore:
    def __init__(self) -> None:
        self._files: dict[str, FileRecord] = {}
        self._batches: dict[str, BatchRecord] = {}
        self._chunks: dict[str, list[_Held]] = {}
        self._lines: dict[str, dict[int, Outcome]] = {}

    async def put_file(self, record: FileRecord) -> None:
        self._files[record.id] = record

    async def get_file(self, file_id: str) -> FileRecord | None:
        return self._files.get(file_id)

    async def list_files(
        self, scope: Scope, *, purpose: str | None, after: str | None, limit: int, ascending: bool, now: int
    ) -> list[FileRecord]:
        chosen = [
            record
            for record in self._files.values()
            if scope.sees(record.owner, record.team)
            and (purpose is None or record.purpose == purpose)
            and (record.expires_at is None or record.expires_at > now)
        ]
        chosen.sort(key=lambda record: (record.created_at, record.id), reverse=not ascending)
        if after is not None:
            ids = [record.id for record in chosen]
            chosen = chosen[ids.index(after) + 1 :] if after in ids else []
        return chosen[:limit]

    async def delete_file(self, file_id: str) -> bool:
        return self._files.pop(file_id, None) is not None

    async def expired_files(self, now: int, limit: int) -> list[FileRecord]:
        return [r for r in self._files.values() if r.expires_at is not None and r.expires_at <= now][:limit]

    async def create_batch(self, record: BatchRecord, chunks: list[Chunk]) -> None:
        self._batches[record.id] = record
        self._chunks[record.id] = [_Held(chunk) for chunk in chunks]
        self._lines[record.id] = {}

    async def get_batch(self, batch_id: str) -> BatchRecord | None:
        record = self._batches.get(batch_id)
        return replace(record, body=dict(record.body)) if record is not None else None

    async def list_batches(
        self, scope: Scope, api: str, *, after: str | None, limit: int, newest_first: bool = True
    ) -> list[BatchRecord]:
        chosen = [b for b in self._batches.values() if b.api == api and scope.sees(b.owner, b.team)]
        chosen.sort(key=lambda b: (b.created_at, b.id), reverse=newest_first)
        if after is not None:
            ids = [b.id for b in chosen]
            chosen = chosen[ids.index(after) + 1 :] if after in ids else []
        return [replace(b, body=dict(b.body)) for b in chosen[:limit]]

    async def set_status(self, batch_id: str, status: str, *, since: tuple[str, ...], body: dict[str, Any]) -> bool:
        record = self._batches.get(batch_id)
        if record is None or record.status not in since:
            return False
        record.status = status
        record.body.update(body)
        return True

    async def remember(self, batch_id: str, body: dict[str, Any]) -> None:
        record = self._batches.get(batch_id)
        if record is not None:
            record.body.update(body)

    async def delete_batch(self, batch_id: str) -> bool:
        self._chunks.pop(batch_id, None)
        self._lines.pop(batch_id, None)
        return self._batches.pop(batch_id, None) is not None

    async def claim(self, holder: str, now: float, until: float) -> Chunk | None:
        for batch_id, chunks in self._chunks.items():
            if self._batches[batch_id].status not in LIVE:
                continue
            for held in chunks:
                if not held.done and (held.holder is None or held.until < now):
                    held.holder, held.until = holder, until
                    return held.chunk
        return None

    async def renew(self, holder: str, chunks: list[tuple[str, int]], until: float) -> None:
        for batch_id, number in chunks:
            held = self._chunks.get(batch_id, [])[number : number + 1]
            if held and held[0].holder == holder:
                held[0].until = until

    async def record_lines(self, batch_id: str, outcomes: list[Outcome], *, done: int | None = None) -> None:
        lines = self._lines.get(batch_id)
        record = self._batches.get(batch_id)
        if lines is None or record is None:
            return
        for outcome in outcomes:
            if outcome.line in lines:
                continue
            lines[outcome.line] = outcome
            if outcome.kind == "canceled":
                record.canceled += 1
            elif outcome.kind == "expired":
                record.expired += 1
            elif outcome.succeeded:
                record.succeeded += 1
            else:
                record.errored += 1
        if done is not None:
            self._chunks[batch_id][done].done = True

    async def recorded_lines(self, batch_id: str, first: int, end: int) -> set[int]:
        lines = self._lines.get(batch_id, {})
        return {line for line in range(first, end) if line in lines}

    async def open_chunks(self, batch_id: str) -> int:
        return sum(1 for held in self._chunks.get(batch_id, []) if not held.done)

    async def outcomes(self, batch_id: str, after: int, limit: int) -> list[Outcome]:
        lines = self._lines.get(batch_id, {})
        return [lines[line] for line in sorted(line for line in lines if line > after)[:limit]]

    async def close(self) -> None:
        pass
