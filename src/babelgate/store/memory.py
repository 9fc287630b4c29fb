"""Stored responses in a dict, for tests and for gateways that need no state across restarts.

Bounded by `max_entries` with least-recently-used eviction, so an ephemeral gateway that serves
many conversations does not grow without limit; it forgets the oldest instead.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from babelgate.store import conversation_table
from babelgate.store.base import Clock, StoredResponse, is_expired, now_seconds
from babelgate.store.conversation_table import LogQuery, LogRow
from babelgate.store.ledger_table import ERROR_COLUMNS, ERROR_ROWS, Row, UsageQuery, as_dict, summarize


class MemoryResponseStore:
    def __init__(self, *, max_entries: int = 10_000, clock: Clock = time.time) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._max_entries = max_entries
        self._clock = clock
        self._records: OrderedDict[str, StoredResponse] = OrderedDict()
        self._secrets: dict[str, bytes] = {}
        self._documents: dict[str, dict[str, bytes]] = {}
        self._versions: dict[str, int] = {}
        self._usage: list[dict[str, Any]] = []
        self._conversations: list[LogRow] = []

    async def put(self, record: StoredResponse) -> None:
        self._records[record.id] = record
        self._records.move_to_end(record.id)
        while len(self._records) > self._max_entries:
            self._records.popitem(last=False)

    async def put_many(self, records: list[StoredResponse]) -> None:
        for record in records:
            await self.put(record)

    async def get(self, response_id: str) -> StoredResponse | None:
        record = self._records.get(response_id)
        if record is None:
            return None
        if is_expired(record.expires_at, now_seconds(self._clock)):
            del self._records[response_id]
            return None
        self._records.move_to_end(response_id)
        return record

    async def delete(self, response_id: str) -> bool:
        record = self._records.pop(response_id, None)
        return record is not None and not is_expired(record.expires_at, now_seconds(self._clock))

    async def purge_expired(self) -> int:
        now = now_seconds(self._clock)
        expired = [key for key, record in self._records.items() if is_expired(record.expires_at, now)]
        for key in expired:
            del self._records[key]
        return len(expired)

    async def secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        if name not in self._secrets:
            self._secrets[name] = make()
        return self._secrets[name]

    async def put_document(self, kind: str, document_id: str, body: bytes) -> None:
        self._documents.setdefault(kind, {})[document_id] = body
        self._versions[kind] = self._versions.get(kind, 0) + 1

    async def documents(self, kind: str) -> dict[str, bytes]:
        return dict(self._documents.get(kind, {}))

    async def document_version(self, kind: str) -> int:
        return self._versions.get(kind, 0)

    async def append_usage(self, rows: list[Row]) -> None:
        self._usage.extend(map(as_dict, rows))

    async def usage(self, since: float, until: float) -> list[dict[str, Any]]:
        return sorted((row for row in self._usage if since <= row["ts"] < until), key=lambda row: row["ts"])

    async def usage_summary(self, query: UsageQuery) -> list[dict[str, Any]]:
        return summarize(self._usage, query)

    async def usage_errors(self, since: float, until: float) -> list[dict[str, Any]]:
        failed = [row for row in self._usage if since <= row["ts"] < until and row["status"] >= 400]
        newest = sorted(failed, key=lambda row: row["ts"], reverse=True)[:ERROR_ROWS]
        return [{column: row.get(column) for column in ERROR_COLUMNS} for row in newest]

    async def delete_usage_before(self, ts: float) -> int:
        kept = [row for row in self._usage if row["ts"] >= ts]
        dropped, self._usage = len(self._usage) - len(kept), kept
        return dropped

    async def append_conversations(self, rows: list[LogRow]) -> None:
        # Bounded like the responses: an ephemeral gateway forgets its oldest logged requests first.
        self._conversations = [*self._conversations, *rows][-self._max_entries :]

    async def conversations(self, query: LogQuery) -> list[LogRow]:
        return conversation_table.page(self._conversations, query)

    async def conversation(self, request_id: str) -> LogRow | None:
        return next((row for row in self._conversations if row[1] == request_id), None)

    async def delete_conversations_before(self, ts: float) -> int:
        kept = [row for row in self._conversations if row[0] >= ts]
        dropped, self._conversations = len(self._conversations) - len(kept), kept
        return dropped

    async def close(self) -> None:
        self._records.clear()
