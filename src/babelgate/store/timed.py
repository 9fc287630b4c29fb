"""A deadline on every store call a request waits for: a silent database answers a clear 503.

A database that stops answering without closing its connections (a hung server, a network
partition) made every request that reads the store wait for as long as it stayed silent (60 s was
seen): `GET /v1/responses/{id}`, continuations by `previous_response_id`, the admin API, a budget's
first read. Each call here ends within `timeout` seconds, with StoreUnavailable (503) when the store
has not answered by then; frontends render it in their own format.

The ledger's writes (`append_usage`, `delete_usage_before`) pass through unbounded: no request waits
for them, and their writer has its own retries (governance/ledger.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from babelgate.errors import StoreUnavailable
from babelgate.store.base import ResponseStore, StoredResponse
from babelgate.store.conversation_table import LogQuery, LogRow
from babelgate.store.ledger_table import Row, RowForm, UsageQuery, row_form

_T = TypeVar("_T")
DEFAULT_TIMEOUT = 5.0


async def within(seconds: float, call: Awaitable[_T]) -> _T:
    """`call`'s result, or StoreUnavailable once `seconds` have passed without one."""
    try:
        async with asyncio.timeout(seconds):
            return await call
    except TimeoutError:
        # Also a driver's own timeout (asyncpg's, on a pool acquire or a statement): one answer.
        raise StoreUnavailable(seconds=f"{seconds:g}") from None


class TimedStore:
    def __init__(self, inner: ResponseStore, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.inner = inner
        self.timeout = timeout
        # A write-behind cache's puts never wait on its store (cached.py): no deadline, and no timer per stored
        # response (an `asyncio.timeout` is ~190 bytecodes and a timer armed and cancelled, every Responses call).
        self._puts_wait = not getattr(inner, "writes_behind", False)

    def _within(self, call: Awaitable[_T]) -> Awaitable[_T]:
        return within(self.timeout, call)

    async def put(self, record: StoredResponse) -> None:
        if self._puts_wait:
            await self._within(self.inner.put(record))
        else:
            await self.inner.put(record)

    async def put_many(self, records: list[StoredResponse]) -> None:
        if self._puts_wait:
            await self._within(self.inner.put_many(records))
        else:
            await self.inner.put_many(records)

    async def get(self, response_id: str) -> StoredResponse | None:
        return await self._within(self.inner.get(response_id))

    async def delete(self, response_id: str) -> bool:
        return await self._within(self.inner.delete(response_id))

    async def purge_expired(self) -> int:
        return await self._within(self.inner.purge_expired())

    async def secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        return await self._within(self.inner.secret(name, make))

    async def put_document(self, kind: str, document_id: str, body: bytes) -> None:
        await self._within(self.inner.put_document(kind, document_id, body))

    async def documents(self, kind: str) -> dict[str, bytes]:
        return await self._within(self.inner.documents(kind))

    async def document_version(self, kind: str) -> int:
        return await self._within(self.inner.document_version(kind))

    async def usage(self, since: float, until: float) -> list[dict[str, Any]]:
        return await self._within(self.inner.usage(since, until))

    async def usage_summary(self, query: UsageQuery) -> list[dict[str, Any]]:
        return await self._within(self.inner.usage_summary(query))

    async def usage_errors(self, since: float, until: float) -> list[dict[str, Any]]:
        return await self._within(self.inner.usage_errors(since, until))

    @property
    def ledger_form(self) -> RowForm:
        return row_form(self.inner)

    async def append_usage(self, rows: list[Row]) -> None:
        await self.inner.append_usage(rows)

    async def delete_usage_before(self, ts: float) -> int:
        return await self.inner.delete_usage_before(ts)

    async def append_conversations(self, rows: list[LogRow]) -> None:
        await self.inner.append_conversations(rows)

    async def conversations(self, query: LogQuery) -> list[LogRow]:
        return await self._within(self.inner.conversations(query))

    async def conversation(self, request_id: str) -> LogRow | None:
        return await self._within(self.inner.conversation(request_id))

    async def delete_conversations_before(self, ts: float) -> int:
        return await self.inner.delete_conversations_before(ts)

    async def close(self) -> None:
        await self.inner.close()
