"""The usage ledger in PostgreSQL: the rows, an hourly rollup, and `/admin/usage` answered in SQL.

Every batch the ledger writes goes in one transaction: the rows (COPY), and the batch's totals
added to the hourly rollup, one row per hour and group (key, team, route, models, provider,
status) holding the sums and two latency histograms (store/ledger_table.py: 96 buckets, ±10 %).

A question over less than 6 whole hours is answered from the rows, exactly (`percentile_disc`).
A longer one takes its whole hours from the rollup, which is as many rows as hours times groups
whatever the traffic, and only its partial first and last hours from the rows: sums and counts
stay exact, percentiles come from the histograms. Unless the rollup is nearly as large as the rows
(fewer than DENSE requests per rollup row: sparse traffic spread over many keys and models), where
merging its histograms costs more than sorting the rows: then the rows answer, exactly.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from typing import Any, Final

from babelgate.store.ledger_table import (
    BUCKETS,
    COLUMNS,
    GROUPS,
    ROW_ONLY_GROUPS,
    SHARES,
    SUMS,
    Row,
    UsageQuery,
    as_dict,
    bucket_of,
    histogram_percentiles,
    order,
)

HOUR: Final = 3600.0
ROLLUP_FROM: Final = 6 * HOUR  # whole hours in a question before the rollup may answer it
DENSE: Final = 32  # requests per rollup row from which the rollup is the cheaper source
# The rollup's group columns: NULL is '' there (a primary key cannot hold NULL).
_TEXT_GROUPS: Final = ("key_id", "team", "route", "model_requested", "provider", "model")
_TOTALS: Final = ("requests", "errors", *SUMS, "cost_usd", "cache_hits")


def schema(table: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {table}_ledger (ts DOUBLE PRECISION NOT NULL, request_id TEXT,"
        " key_id TEXT, team TEXT, route TEXT, model_requested TEXT, provider TEXT, model TEXT,"
        " attempts INTEGER, status INTEGER, error_code TEXT, prompt_tokens INTEGER,"
        " completion_tokens INTEGER, cached_tokens INTEGER, reasoning_tokens INTEGER,"
        " cost_usd DOUBLE PRECISION, latency_ms DOUBLE PRECISION, ttft_ms DOUBLE PRECISION,"
        " stream BOOLEAN, cache_hit BOOLEAN, error_message TEXT, session TEXT, server TEXT, tool TEXT,"
        ' bytes_in BIGINT, bytes_out BIGINT, "user" TEXT, end_user TEXT, content TEXT,'
        " guardrails TEXT, realtime TEXT, search_units INTEGER, batch_id TEXT)",
        # Added since the table was first made: an older one gains them when a gateway starts.
        f"ALTER TABLE {table}_ledger ADD COLUMN IF NOT EXISTS error_message TEXT",
        f"ALTER TABLE {table}_ledger ADD COLUMN IF NOT EXISTS session TEXT",
        f"ALTER TABLE {table}_ledger ADD COLUMN IF NOT EXISTS server TEXT",
        f"ALTER TABLE {table}_ledger ADD COLUMN IF NOT EXISTS tool TEXT",
        f"ALTER TABLE {table}_ledger ADD COLUMN IF NOT EXISTS bytes_in BIGINT",
        f"ALTER TABLE {table}_ledger ADD COLUMN IF NOT EXISTS bytes_out BIGINT",
        f'ALTER TABLE {table}_ledger ADD COLUMN IF NOT EXISTS "user" TEXT',
        f"ALTER TABLE {table}_ledger ADD COLUMN IF NOT EXISTS end_user TEXT",
        f"ALTER TABLE {table}_ledger ADD COLUMN IF NOT EXISTS content TEXT",
        f"ALTER TABLE {table}_ledger ADD COLUMN IF NOT EXISTS guardrails TEXT",
        f"ALTER TABLE {table}_ledger ADD COLUMN IF NOT EXISTS realtime TEXT",
        f"ALTER TABLE {table}_ledger ADD COLUMN IF NOT EXISTS search_units INTEGER",
        f"ALTER TABLE {table}_ledger ADD COLUMN IF NOT EXISTS batch_id TEXT",
        *(
            f"CREATE INDEX IF NOT EXISTS {table}_ledger_{name} ON {table}_ledger ({columns})"
            for name, columns in (("ts", "ts"), ("key", "key_id, ts"), ("team", "team, ts"))
        ),
        f"CREATE TABLE IF NOT EXISTS {table}_ledger_hourly (hour DOUBLE PRECISION NOT NULL,"
        f" {', '.join(f'{c} TEXT NOT NULL' for c in _TEXT_GROUPS)}, status INTEGER NOT NULL,"
        f" {', '.join(f'{c} BIGINT NOT NULL' for c in _TOTALS if c != 'cost_usd')},"
        " cost_usd DOUBLE PRECISION NOT NULL, latency_hist BIGINT[] NOT NULL, ttft_hist BIGINT[] NOT NULL,"
        f" PRIMARY KEY (hour, {', '.join(_TEXT_GROUPS)}, status))",
        # Added since the rollup was first made (its rows before then count none).
        f"ALTER TABLE {table}_ledger_hourly ADD COLUMN IF NOT EXISTS search_units BIGINT NOT NULL DEFAULT 0",
        # Element-wise sum of two histograms, for the rollup's upsert.
        f"CREATE OR REPLACE FUNCTION {table}_hist_add(a BIGINT[], b BIGINT[]) RETURNS BIGINT[]"
        " LANGUAGE sql IMMUTABLE AS $$ SELECT array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i)"
        " FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i) $$",
    ]


class _Totals:
    __slots__ = ("latency", "sums", "ttft")

    def __init__(self) -> None:
        self.sums: list[float] = [0] * len(_TOTALS)
        self.latency = [0] * BUCKETS
        self.ttft = [0] * BUCKETS

    def add_row(self, row: dict[str, Any]) -> None:
        sums = self.sums
        sums[0] += 1
        sums[1] += 1 if (row.get("status") or 0) >= 400 else 0
        for n, name in enumerate(SUMS, 2):
            sums[n] += row.get(name) or 0
        sums[-2] += row.get("cost_usd") or 0.0
        sums[-1] += 1 if row.get("cache_hit") else 0
        if row.get("latency_ms") is not None:
            self.latency[bucket_of(row["latency_ms"])] += 1
        if row.get("ttft_ms") is not None:
            self.ttft[bucket_of(row["ttft_ms"])] += 1


def _rollup_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (math.floor(row["ts"] / HOUR) * HOUR, *(row.get(c) or "" for c in _TEXT_GROUPS), row.get("status") or 0)


async def append(pool: Any, table: str, rows: list[Row]) -> None:
    rollup: dict[tuple[Any, ...], _Totals] = {}
    for row in map(as_dict, rows):
        key = _rollup_key(row)
        totals = rollup.get(key)
        if totals is None:
            totals = rollup[key] = _Totals()
        totals.add_row(row)
    columns = ("hour", *_TEXT_GROUPS, "status", *_TOTALS, "latency_hist", "ttft_hist")
    updates = ", ".join(
        [
            *(f"{c} = h.{c} + EXCLUDED.{c}" for c in _TOTALS),
            *(f"{c} = {table}_hist_add(h.{c}, EXCLUDED.{c})" for c in ("latency_hist", "ttft_hist")),
        ]
    )
    upsert = (
        f"INSERT INTO {table}_ledger_hourly AS h ({', '.join(columns)})"
        f" VALUES ({', '.join(f'${n}' for n in range(1, len(columns) + 1))})"
        f" ON CONFLICT (hour, {', '.join(_TEXT_GROUPS)}, status) DO UPDATE SET {updates}"
    )
    # In key order: two writers upserting the same hours lock rows in the same order (no deadlock).
    records = [(*key, *totals.sums, totals.latency, totals.ttft) for key, totals in sorted(rollup.items())]
    async with _transaction(pool) as connection:
        # COPY: one round trip and no per-row statement, whatever the batch's size.
        await connection.copy_records_to_table(f"{table}_ledger", records=rows, columns=COLUMNS)
        await connection.executemany(upsert, records)


@contextlib.asynccontextmanager
async def _transaction(pool: Any) -> AsyncIterator[Any]:
    """A connection in a transaction that a failure or a cancellation ends at once. The ledger cuts
    a write short when the database goes silent (governance/ledger.py); asyncpg's own transaction
    would then send ROLLBACK and wait for it as long as the database stays silent. Closing the
    connection instead ends the transaction uncommitted on the server's side too."""
    async with pool.acquire() as connection:
        transaction = connection.transaction()
        try:
            await transaction.start()
            yield connection
            await transaction.commit()
        except BaseException:
            connection.terminate()
            raise


async def delete_before(pool: Any, table: str, ts: float) -> int:
    async with _transaction(pool) as connection:
        status = await connection.execute(f"DELETE FROM {table}_ledger WHERE ts < $1", ts)
        # An hour goes from the rollup once all of it is older than `ts`.
        await connection.execute(f"DELETE FROM {table}_ledger_hourly WHERE hour + {HOUR} <= $1", ts)
    return int(status.split()[-1])


async def summary(pool: Any, table: str, query: UsageQuery) -> list[dict[str, Any]]:
    first_hour = math.ceil(query.since / HOUR) * HOUR
    last_hour = math.floor(query.until / HOUR) * HOUR
    whole_hours = query.interval is None or query.interval % HOUR == 0
    fine = any(name in ROW_ONLY_GROUPS for name in (*query.group_by, *(name for name, _ in query.filters)))
    if (
        fine
        or last_hour - first_hour < ROLLUP_FROM
        or not whole_hours
        or not await _dense(pool, table, query, first_hour, last_hour)
    ):
        return await _exact(pool, table, query)
    groups: dict[tuple[Any, ...], _Totals] = {}
    await _from_rollup(pool, table, query, first_hour, last_hour, groups)
    for since, until in ((query.since, first_hour), (last_hour, query.until)):
        if until > since:
            await _from_rows(pool, table, query, since, until, groups)
    data = []
    for key, totals in groups.items():
        row: dict[str, Any] = dict(zip(query.group_by, key, strict=False))
        if query.interval:
            row["time"] = key[-1]
        row.update(zip(_TOTALS, totals.sums, strict=True))
        row["cost_usd"] = round(float(row["cost_usd"]), 8)
        row["error_rate"] = round(row["errors"] / row["requests"], 6) if row["requests"] else 0.0
        row["latency_ms"] = histogram_percentiles(totals.latency)
        row["ttft_ms"] = histogram_percentiles(totals.ttft)
        data.append(row)
    return order(data, query)


async def _dense(pool: Any, table: str, query: UsageQuery, since: float, until: float) -> bool:
    """Whether the rollup summarises enough requests per row to be the cheaper source: merging a
    row's histograms costs about what sorting DENSE requests' latencies does."""
    args: list[Any] = [since, until]
    where = ["hour >= $1", "hour < $2", *_where(query, args, rollup=True)]
    rows, requests = await pool.fetchrow(
        f"SELECT count(*), coalesce(sum(requests), 0)::bigint FROM {table}_ledger_hourly WHERE {' AND '.join(where)}",
        *args,
    )
    return bool(rows) and requests >= DENSE * rows


def _column(name: str) -> str:
    """A group's column as SQL names it (`user` is a keyword: quoted)."""
    return f'"{GROUPS[name]}"'


def _where(query: UsageQuery, args: list[Any], rollup: bool) -> list[str]:
    where = []
    for name, value in query.filters:
        args.append(value if not (rollup and value is None) else "")
        where.append(f"{_column(name)} = ${len(args)}")
    return where


async def _from_rollup(
    pool: Any, table: str, query: UsageQuery, since: float, until: float, groups: dict[tuple[Any, ...], _Totals]
) -> None:
    args: list[Any] = [since, until]
    where = ["hour >= $1", "hour < $2", *_where(query, args, rollup=True)]
    keys = [_column(name) for name in query.group_by]
    if query.interval:
        args.append(query.interval)
        keys.append(f"floor(hour / ${len(args)}) * ${len(args)}")
    selected = "".join(f"{key} AS g{n}, " for n, key in enumerate(keys))
    grouping = f" GROUP BY {', '.join(f'g{n}' for n in range(len(keys)))}" if keys else ""
    sums = ", ".join(f"sum({c})::{'double precision' if c == 'cost_usd' else 'bigint'}" for c in _TOTALS)
    source = f"FROM {table}_ledger_hourly WHERE {' AND '.join(where)}"
    width = len(keys)
    for record in await pool.fetch(f"SELECT {selected}{sums} {source}{grouping}", *args):
        if record[width] is None:
            continue  # no rows at all
        totals = _group(groups, record, width)
        for n in range(len(_TOTALS)):
            totals.sums[n] += record[width + n] or 0
    for histogram in ("latency", "ttft"):
        sql = (
            f"SELECT {selected}u.i, sum(u.v) FROM {table}_ledger_hourly,"
            f" unnest({histogram}_hist) WITH ORDINALITY AS u(v, i) WHERE {' AND '.join(where)} AND u.v > 0"
            f" GROUP BY {''.join(f'g{n}, ' for n in range(width))}u.i"
        )
        for record in await pool.fetch(sql, *args):
            getattr(_group(groups, record, width), histogram)[record[width] - 1] += int(record[width + 1])


def _group(groups: dict[tuple[Any, ...], _Totals], record: Any, width: int) -> _Totals:
    key = tuple(_none(record[n]) for n in range(width))
    totals = groups.get(key)
    if totals is None:
        totals = groups[key] = _Totals()
    return totals


def _none(value: Any) -> Any:
    return None if value == "" else value


async def _from_rows(
    pool: Any, table: str, query: UsageQuery, since: float, until: float, groups: dict[tuple[Any, ...], _Totals]
) -> None:
    """A partial hour at an end of the period: its rows, added up here."""
    args: list[Any] = [since, until]
    where = ["ts >= $1", "ts < $2", *_where(query, args, rollup=False)]
    needed = (
        "ts",
        "status",
        *SUMS,
        "cost_usd",
        "cache_hit",
        "latency_ms",
        "ttft_ms",
        *(GROUPS[name] for name in query.group_by),
    )
    columns = ", ".join(f'"{column}"' for column in dict.fromkeys(needed))
    for record in await pool.fetch(f"SELECT {columns} FROM {table}_ledger WHERE {' AND '.join(where)}", *args):
        row = dict(record)
        key = tuple(row.get(GROUPS[name]) for name in query.group_by)
        if query.interval:
            key += (math.floor(row["ts"] / query.interval) * query.interval,)
        totals = groups.get(key)
        if totals is None:
            totals = groups[key] = _Totals()
        totals.add_row(row)


async def _exact(pool: Any, table: str, query: UsageQuery) -> list[dict[str, Any]]:
    """One SQL query on the rows: sums and counts, and exact percentiles (`percentile_disc`)."""
    args: list[Any] = [query.since, query.until]
    where = ["ts >= $1", "ts < $2", *_where(query, args, rollup=False)]
    keys = [f'{_column(name)} AS "{name}"' for name in query.group_by]
    if query.interval:
        args.append(query.interval)
        keys.append(f"floor(ts / ${len(args)}) * ${len(args)} AS time")
    sums = ", ".join(f"coalesce(sum({name}), 0)::bigint AS {name}" for name in SUMS)
    shares = ", ".join(str(share) for _, share in SHARES)
    sql = (
        f"SELECT {''.join(key + ', ' for key in keys)}count(*) AS requests,"
        f" count(*) FILTER (WHERE status >= 400) AS errors, {sums},"
        " coalesce(sum(cost_usd), 0) AS cost_usd, count(*) FILTER (WHERE cache_hit) AS cache_hits,"
        f" percentile_disc(ARRAY[{shares}]) WITHIN GROUP (ORDER BY latency_ms) AS latency,"
        f" percentile_disc(ARRAY[{shares}]) WITHIN GROUP (ORDER BY ttft_ms) AS ttft"
        f" FROM {table}_ledger WHERE {' AND '.join(where)}"
        + (f" GROUP BY {', '.join(str(n + 1) for n in range(len(keys)))}" if keys else "")
    )
    data = []
    for record in await pool.fetch(sql, *args):
        row = dict(record)
        if not row["requests"]:
            continue  # no group: the totals of an empty period
        latency, ttft = row.pop("latency"), row.pop("ttft")
        row["error_rate"] = round(row["errors"] / row["requests"], 6)
        row["cost_usd"] = round(float(row["cost_usd"]), 8)
        row["latency_ms"] = {name: (latency[n] if latency else None) for n, (name, _) in enumerate(SHARES)}
        row["ttft_ms"] = {name: (ttft[n] if ttft else None) for n, (name, _) in enumerate(SHARES)}
        if query.interval:
            row["time"] = float(row["time"])
        data.append(row)
    return order(data, query)
