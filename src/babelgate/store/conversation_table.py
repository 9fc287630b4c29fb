"""The conversation log's table, shared by every store: its columns, the question `/admin/logs` asks of it
(`LogQuery`), its pages' cursor, and the answer for the memory store, which filters in Python what SQLite and
PostgreSQL filter in SQL.

A row keeps the exchange's summary (its fields but the messages, plus a preview) and its messages apart, as JSON
texts, so that a page of summaries never reads the messages; `search` is the exchange's texts as plain text, for
`q` (SQLite: LIKE, PostgreSQL: ILIKE)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import orjson

# In table order.
COLUMNS: Final = ("ts", "request_id", "key_id", "team", "user", "model", "summary", "content", "search")
# (ts, request_id, key_id, team, user, model, summary JSON, content JSON, search text). Loosely typed: a database
# row comes back as a tuple (or a record) of what the driver made, and the compiled stores check what they annotate.
LogRow = tuple[Any, ...]
# Filters `/admin/logs` takes, by the column they compare.
FILTERS: Final = {"key": "key_id", "team": "team", "user": "user", "model": "model"}


@dataclass(frozen=True, slots=True)
class LogQuery:
    since: float
    until: float
    filters: tuple[tuple[str, str], ...] = ()  # (column, value)
    q: str | None = None  # text the exchange contains, any case
    limit: int = 50
    after: tuple[float, str] | None = None  # the cursor: the last summary of the page before (ts, request_id)


def encode_cursor(ts: float, request_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([ts, request_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str] | None:
    """The cursor's place, or None when it is not one of ours."""
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        return None
    ok = isinstance(value, list) and len(value) == 2 and isinstance(value[0], (int, float))
    return (float(value[0]), value[1]) if ok and isinstance(value[1], str) else None


def summary_of(row: LogRow) -> dict[str, Any]:
    summary: dict[str, Any] = orjson.loads(row[6])
    return summary


def exchange_of(row: LogRow) -> dict[str, Any]:
    """The whole exchange (its fields in the Exchange's order: the messages before `truncated`)."""
    summary = summary_of(row)
    summary.pop("preview", None)
    truncated = summary.pop("truncated", False)
    return {**summary, **orjson.loads(row[7]), "truncated": truncated}


def page(rows: Iterable[LogRow], query: LogQuery) -> list[LogRow]:
    """The memory store's answer: the rows that match, newest first, at most `limit + 1` (one more says there is a
    next page)."""
    filters, q = query.filters, (query.q or "").lower()
    index = {column: COLUMNS.index(column) for column, _ in filters}
    found = [
        row
        for row in rows
        if query.since <= row[0] < query.until
        and all(row[index[column]] == value for column, value in filters)
        and (not q or q in row[8].lower())
        and (query.after is None or (row[0], row[1]) < query.after)
    ]
    found.sort(key=lambda row: (row[0], row[1]), reverse=True)
    return found[: query.limit + 1]


def where(query: LogQuery, mark: Any, *, like: str = "LIKE") -> tuple[str, list[Any]]:
    """The SQL condition and its arguments for a page (`mark(n)`: the n-th parameter's placeholder, from 1;
    `like`: the operator that compares text in any case, SQLite's LIKE or PostgreSQL's ILIKE)."""
    args: list[Any] = [query.since, query.until]
    clauses = [f"ts >= {mark(1)}", f"ts < {mark(2)}"]
    for column, value in query.filters:
        args.append(value)
        clauses.append(f'"{column}" = {mark(len(args))}')
    if query.q:
        args.append("%" + query.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        clauses.append(f"search {like} {mark(len(args))} ESCAPE '\\'")
    if query.after is not None:
        args += [query.after[0], query.after[0], query.after[1]]
        n = len(args)
        clauses.append(f"(ts < {mark(n - 2)} OR (ts = {mark(n - 1)} AND request_id < {mark(n)}))")
    return " AND ".join(clauses), args


SQL_COLUMNS: Final = ", ".join(f'"{column}"' for column in COLUMNS)
