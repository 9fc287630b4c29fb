"""The usage ledger's table, shared by every store: its columns, and how `/admin/usage` questions
are answered (`UsageQuery` → rows of totals). PostgreSQL answers them in SQL (postgres.py); the
memory and SQLite stores read the period's rows and sum them here, with the same definitions (the
percentiles are PostgreSQL's `percentile_disc`: the smallest value at or above the share)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

# In table order. Text columns may be NULL (no key, no team, no upstream reached).
COLUMNS: Final = (
    "ts",
    "request_id",
    "key_id",
    "team",
    "route",
    "model_requested",
    "provider",
    "model",
    "attempts",
    "status",
    "error_code",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost_usd",
    "latency_ms",
    "ttft_ms",
    "stream",
    "cache_hit",
    "error_message",
    # Appended: a ledger from before gains them when a gateway starts (each store's migration).
    "session",  # a hash of the session's affinity key (routing/affinity.py), when the model keeps sessions
    # An MCP tool call's row (mcp/): the upstream server, the tool, and the sizes of its arguments and
    # result in bytes; NULL on a model request's row.
    "server",
    "tool",
    "bytes_in",
    "bytes_out",
    "user",  # the key's user (a JWT caller's, or the one a virtual key names)
    "end_user",  # the end customer the request named (the body's `user`)
    # An MCP tool call's arguments and result as JSON (`{"arguments": …, "result": …}`, cut at
    # `ledger.content_max_bytes`), only when the operator turns `ledger.content` on; NULL otherwise.
    "content",
    # What each guardrail decided for the request, as JSON (`{name: action}`, guardrails/), when any ran.
    "guardrails",
    # A Realtime session's detail as JSON (`{road, seconds, turns, input_text_tokens, input_audio_tokens,
    # cached_tokens, output_text_tokens, output_audio_tokens}`); NULL on every other row.
    "realtime",
    # A rerank's searches, where its upstream bills by the search (Cohere's search units); NULL elsewhere.
    "search_units",
    # The batch (`batch_...`, frontends/batches/) a request ran for, when the gateway ran it as a batch's line.
    "batch_id",
)
# What `/admin/usage` may group and filter by → the column.
GROUPS: Final = {
    "key": "key_id",
    "team": "team",
    "model": "model",
    "provider": "provider",
    "status": "status",
    "route": "route",
    "model_requested": "model_requested",
    "session": "session",
    "server": "server",
    "tool": "tool",
    "user": "user",
    "end_user": "end_user",
    "batch": "batch_id",
}
# Groups the PostgreSQL hourly rollup does not keep (one row per session, user or end customer and hour would
# be nearly as many rows as requests; MCP servers and tools are on tool calls' rows only): a question that
# groups or filters by one is answered from the rows.
ROW_ONLY_GROUPS: Final = frozenset(("session", "server", "tool", "user", "end_user", "batch"))
SUMS: Final = ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens", "search_units")
SHARES: Final = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
# What `/admin/errors` reads of a failed request's row, and how many of the newest it reads at most.
ERROR_COLUMNS: Final = ("ts", "status", "error_code", "error_message", "model_requested")
ERROR_ROWS: Final = 100_000
MESSAGE_CHARS: Final = 500  # an error's message as the ledger keeps it (a longer upstream text is cut)


@dataclass(frozen=True, slots=True)
class UsageQuery:
    since: float
    until: float
    group_by: tuple[str, ...] = ()  # names of GROUPS
    interval: float | None = None  # seconds per time-series bucket; None: totals over the period
    filters: tuple[tuple[str, str | int], ...] = ()  # (name of GROUPS, value)


# A ledger row as the ledger hands it to a store: its values in COLUMNS order (NULL as None, flags as
# bools, or as the store's `RowForm` says). A tuple, not a dict: the writer builds one per request, and a
# 21-key dict cost as much again as the tuple (docs/performance.md); the stores that want names
# make them (`as_dict`).
Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class RowForm:
    """How a store would have the ledger's own rows say "no value" and the two flags (`stream`, `cache_hit`):
    the writer makes each row in that form at once, where the store would otherwise map every value of every
    row (SQLite's). A store takes rows in the plain form as well (a tool call's, a spool file's): the form is
    what is cheapest for it, never what it needs to be right."""

    absent: Any = None
    flags: tuple[Any, Any] = (False, True)  # False's, True's


PLAIN: Final = RowForm()


def in_form(row: Row, form: RowForm) -> Row:
    """A plain row (None for no value, bools for flags: a tool call's, a spool file's) in `form`."""
    if form == PLAIN:
        return row
    absent, flags = form.absent, form.flags
    return tuple(
        absent if value is None else flags[value] if value is True or value is False else value for value in row
    )


def row_form(store: object) -> RowForm:
    """The form of `store`'s ledger rows: its `ledger_form` (a wrapper passes its inner store's on), else plain."""
    form = getattr(store, "ledger_form", PLAIN)
    return form if isinstance(form, RowForm) else PLAIN


def row_of(mapping: Mapping[str, Any]) -> Row:
    """A row given by column names (a spool file's line, a test's row); a column it lacks is None."""
    return tuple(mapping.get(column) for column in COLUMNS)


def as_dict(row: Row) -> dict[str, Any]:
    return dict(zip(COLUMNS, row, strict=True))


def summarize(rows: Iterable[Mapping[str, Any]], query: UsageQuery) -> list[dict[str, Any]]:
    """The answer to `query` from the rows of its period (in memory)."""
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    filters = [(GROUPS[name], value) for name, value in query.filters]
    for row in rows:
        if not query.since <= row["ts"] < query.until or any(row.get(col) != value for col, value in filters):
            continue
        key = tuple(row.get(GROUPS[name]) for name in query.group_by)
        if query.interval:
            key += (math.floor(row["ts"] / query.interval) * query.interval,)
        groups.setdefault(key, []).append(row)
    return order([_totals(key, members, query) for key, members in groups.items()], query)


def _totals(key: tuple[Any, ...], rows: list[Mapping[str, Any]], query: UsageQuery) -> dict[str, Any]:
    out: dict[str, Any] = dict(zip(query.group_by, key, strict=False))
    if query.interval:
        out["time"] = key[-1]
    requests = len(rows)
    errors = sum(1 for row in rows if row["status"] >= 400)
    out.update(
        requests=requests,
        errors=errors,
        error_rate=round(errors / requests, 6) if requests else 0.0,
        **{name: sum(row.get(name) or 0 for row in rows) for name in SUMS},
        cost_usd=round(sum(row.get("cost_usd") or 0.0 for row in rows), 8),
        cache_hits=sum(1 for row in rows if row.get("cache_hit")),
        latency_ms=percentiles([row["latency_ms"] for row in rows]),
        ttft_ms=percentiles([row["ttft_ms"] for row in rows if row.get("ttft_ms") is not None]),
    )
    return out


def percentiles(samples: list[float]) -> dict[str, float | None]:
    ordered = sorted(samples)
    if not ordered:
        return {name: None for name, _ in SHARES}
    return {name: ordered[max(0, math.ceil(len(ordered) * share) - 1)] for name, share in SHARES}


# Latency histograms of the PostgreSQL rollup (store/postgres_ledger.py): bucket i holds values up to
# RATIO**i ms (bucket 0: up to 1 ms), so a percentile read from one is within ±10 % (the bucket's
# geometric middle), up to RATIO**(BUCKETS - 1) ms (about 11 hours).
BUCKETS: Final = 96
RATIO: Final = 1.2
_LOG_RATIO: Final = math.log(RATIO)


def bucket_of(ms: float) -> int:
    if ms <= 1.0:
        return 0
    return min(BUCKETS - 1, math.ceil(math.log(ms) / _LOG_RATIO - 1e-9))


def histogram_percentiles(counts: list[int]) -> dict[str, float | None]:
    total = sum(counts)
    if not total:
        return {name: None for name, _ in SHARES}
    out: dict[str, float | None] = {}
    for name, share in SHARES:
        rank, seen = max(1, math.ceil(total * share)), 0
        for index, count in enumerate(counts):
            seen += count
            if seen >= rank:
                out[name] = round(RATIO ** (index - 0.5), 3) if index else 1.0
                break
    return out


def order(data: list[dict[str, Any]], query: UsageQuery) -> list[dict[str, Any]]:
    """Time series in time order, each bucket's groups by requests; totals by requests (ties by name)."""

    def groups(item: dict[str, Any]) -> tuple[str, ...]:  # ties in a stable order, the same in every store
        return tuple(str(item.get(name)) for name in query.group_by)

    if query.interval:
        return sorted(data, key=lambda item: (item["time"], -item["requests"], groups(item)))
    return sorted(data, key=lambda item: (-item["requests"], groups(item)))


def top_errors(rows: Iterable[Mapping[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Failed requests by what failed (status, code, message), the most frequent first: how many,
    when last, and the model asked for then. `rows` are error rows, newest first (`ERROR_COLUMNS`)."""
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = (row["status"], row.get("error_code"), row.get("error_message"))
        entry = found.get(key)
        if entry is None:
            found[key] = {
                "status": key[0],
                "code": key[1],
                "message": key[2],
                "count": 1,
                "last_seen": row["ts"],
                "model": row.get("model_requested"),
            }
        else:
            entry["count"] += 1
    return sorted(found.values(), key=lambda entry: (-entry["count"], -entry["last_seen"]))[:limit]
