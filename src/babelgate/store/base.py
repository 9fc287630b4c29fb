"""The stored-response record, the interface every store implements, and the one codec for its blob.

SQLite and PostgreSQL keep the same four columns (id, created_at, expires_at, body); `encode_body`
and `decode_record` are the only code that knows what `body` holds, so the two cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from babelgate.store.conversation_table import LogQuery, LogRow
from babelgate.store.ledger_table import Row, UsageQuery

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """One Responses-API response, kept so that a later request can name it as `previous_response_id`.

    Stores and caches hand out the very object they were given (the memory store and every cache
    hit), so a record's dicts and lists must be treated as read-only once it has been `put`.
    """

    id: str
    created_at: int  # unix seconds
    expires_at: int | None  # unix seconds; None = kept until deleted
    response: dict[str, Any]  # the Responses API resource as returned to the client
    input_items: list[dict[str, Any]]  # this request's input items, for GET /responses/{id}/input_items
    conversation: list[dict[str, Any]]  # everything before this response's output, as Responses input items
    owner: str | None = None  # the gateway key id that created it; only that key reads, continues or deletes it


class ResponseStore(Protocol):
    """Where stored responses live. A record is expired once `expires_at <= now`; expired records are
    invisible to `get` and `delete` at once and leave storage when `purge_expired` runs."""

    async def put(self, record: StoredResponse) -> None:
        """Insert the record, replacing any earlier one with the same id."""

    async def put_many(self, records: list[StoredResponse]) -> None:
        """`put` each record, in order (a later record of an id replaces an earlier one), at once where
        the storage allows: one transaction instead of one per record."""

    async def get(self, response_id: str) -> StoredResponse | None:
        """The record, or None when it is absent or expired."""

    async def delete(self, response_id: str) -> bool:
        """Remove the record; True when it existed and had not expired."""

    async def purge_expired(self) -> int:
        """Remove every expired record from storage; returns how many went."""

    async def close(self) -> None:
        """Release connections and threads; the store is not used afterwards."""

    async def secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        """The secret kept under `name`, created with `make()` if there is none yet. Insert-if-absent,
        then read back: gateways that share the store and start together all get the same value."""

    async def put_document(self, kind: str, document_id: str, body: bytes) -> None:
        """Keep `body` as the document `document_id` of `kind` (a virtual key…), replacing any
        earlier one, and move the kind's version on (every gateway that shares the store sees it)."""

    async def documents(self, kind: str) -> dict[str, bytes]:
        """Every document of `kind`, by id."""

    async def document_version(self, kind: str) -> int:
        """A number that grows with every `put_document` of `kind`: cheap to poll for changes."""

    async def append_usage(self, rows: list[Row]) -> None:
        """Add ledger rows (governance/ledger.py: values in COLUMNS order, `ts` first, in unix seconds, in the
        store's `ledger_form` when it has one: store/ledger_table.py `RowForm`), in one write."""

    async def usage(self, since: float, until: float) -> list[dict[str, Any]]:
        """The ledger rows with `since <= ts < until`, oldest first."""

    async def usage_summary(self, query: UsageQuery) -> list[dict[str, Any]]:
        """Totals, percentiles and time series of the ledger (store/ledger_table.py)."""

    async def usage_errors(self, since: float, until: float) -> list[dict[str, Any]]:
        """The newest (at most `ERROR_ROWS`) rows of failed requests (status >= 400) with
        `since <= ts < until`, newest first, with their `ERROR_COLUMNS` (store/ledger_table.py)."""

    async def delete_usage_before(self, ts: float) -> int:
        """Drop ledger rows older than `ts` (retention); answers how many went."""

    async def append_conversations(self, rows: list[LogRow]) -> None:
        """Add conversation log rows (store/conversation_table.py COLUMNS order), in one write."""

    async def conversations(self, query: LogQuery) -> list[LogRow]:
        """The log's rows that match, newest first, at most `query.limit + 1`."""

    async def conversation(self, request_id: str) -> LogRow | None:
        """The logged request's row, or None."""

    async def delete_conversations_before(self, ts: float) -> int:
        """Drop log rows older than `ts` (retention); answers how many went."""


def now_seconds(clock: Clock) -> int:
    """The clock in whole seconds, rounded down: for integer `expires_at`, `expires_at <= floor(now)`
    holds exactly when `expires_at <= now`, so SQL comparisons on integer columns agree with Python's."""
    return math.floor(clock())


def is_expired(expires_at: int | None, now: int) -> bool:
    return expires_at is not None and expires_at <= now


def encode_body(record: StoredResponse) -> bytes:
    return orjson.dumps(
        {
            "response": record.response,
            "input_items": record.input_items,
            "conversation": record.conversation,
            "owner": record.owner,
        }
    )


def decode_record(response_id: str, created_at: int, expires_at: int | None, body: bytes) -> StoredResponse:
    fields = orjson.loads(body)
    return StoredResponse(
        id=response_id,
        created_at=created_at,
        expires_at=expires_at,
        response=fields["response"],
        input_items=fields["input_items"],
        conversation=fields["conversation"],
        owner=fields.get("owner"),
    )
