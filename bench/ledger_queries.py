"""How fast `/admin/usage` answers from a large ledger in PostgreSQL: fills a scratch table with
`--rows` rows spread over 30 days (50 keys, 5 teams, 6 models), then times the store's queries.

    .venv/bin/python bench/ledger_queries.py --dsn postgresql://postgres@127.0.0.1:5432/test --rows 1000000

The table (`bench_ledger_<pid>_ledger`) is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from typing import Any

import asyncpg

from babelgate.store.ledger_table import UsageQuery, row_of
from babelgate.store.postgres import PostgresResponseStore

DAY = 86400.0
MODELS = (
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-haiku-4-5"),
    ("gemini", "gemini-2.5-flash"),
    ("mistral", "mistral-large-latest"),
)


def _rows(start: int, count: int, now: float, total: int, keys: int, models: int) -> list[dict[str, Any]]:
    rng = random.Random(start)
    out = []
    for n in range(start, start + count):
        provider, model = MODELS[n % models]
        key = n % keys
        status = 200 if rng.random() > 0.02 else 502
        prompt, completion = rng.randint(10, 4000), rng.randint(1, 800)
        # In time order, as the ledger writes them: a batch holds the requests of a moment.
        ts = now - 30 * DAY + (n + rng.random()) * 30 * DAY / total
        row = {
            "ts": ts,
            "request_id": f"{n:024x}",
            "key_id": f"key{key:02d}",
            "team": f"team{key % 5}",
            "route": "chat.completions",
            "model_requested": model,
            "provider": provider,
            "model": model,
            "attempts": 1,
            "status": status,
            "error_code": None,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "cached_tokens": 0,
            "reasoning_tokens": 0,
            "cost_usd": (prompt * 2.5 + completion * 10) / 1e6,
            "latency_ms": rng.lognormvariate(6, 0.6),
            "ttft_ms": rng.lognormvariate(5, 0.5),
            "stream": bool(n % 2),
            "cache_hit": n % 50 == 0,
        }
        out.append(row)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--dsn", default=os.environ.get("BABELGATE_BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--keys", type=int, default=50, help="keys the traffic is spread over (default 50)")
    parser.add_argument("--models", type=int, default=len(MODELS), choices=range(1, len(MODELS) + 1))
    args = parser.parse_args()
    table = f"bench_ledger_{os.getpid()}"
    store = PostgresResponseStore(args.dsn, table=table)
    now = time.time()
    try:
        await store.usage(0, 1)  # creates the tables
        connection = await asyncpg.connect(args.dsn)
        started = time.perf_counter()
        batch = 2048  # the ledger writer's largest batch
        for first in range(0, args.rows, batch):
            rows = _rows(first, min(batch, args.rows - first), now, args.rows, args.keys, args.models)
            await store.append_usage([row_of(row) for row in rows])
        await connection.execute(f"ANALYZE {table}_ledger")
        await connection.execute(f"ANALYZE {table}_ledger_hourly")
        rollup_rows = await connection.fetchval(f"SELECT count(*) FROM {table}_ledger_hourly")
        print(
            f"filled {args.rows:,} rows in {time.perf_counter() - started:.1f} s, through the store "
            f"(batches of {batch}); the rollup holds {rollup_rows:,} rows"
        )
        queries = {
            "24 h totals by model": UsageQuery(now - DAY, now, ("model",)),
            "24 h totals by key, model": UsageQuery(now - DAY, now, ("key", "model")),
            "7 days by team, hourly": UsageQuery(now - 7 * DAY, now, ("team",), interval=3600),
            "30 days by model": UsageQuery(now - 30 * DAY, now, ("model",)),
            "30 days, one key, daily": UsageQuery(now - 30 * DAY, now, (), interval=DAY, filters=(("key", "key01"),)),
            "5 hours by model (rows, exact)": UsageQuery(now - 5 * 3600, now, ("model",)),
            "a month's spend of one team": UsageQuery(now - 30 * DAY, now, (), filters=(("team", "team3"),)),
        }
        for name, query in queries.items():
            times = []
            for _ in range(args.reps):
                started = time.perf_counter()
                data = await store.usage_summary(query)
                times.append((time.perf_counter() - started) * 1000)
            print(f"{name:32s} median {statistics.median(times):8.1f} ms  (min {min(times):.1f}; {len(data)} rows out)")
        await connection.execute(
            f"DROP TABLE IF EXISTS {table}_ledger, {table}_ledger_hourly, {table}, {table}_secrets, {table}_documents"
        )
        await connection.execute(f"DROP FUNCTION IF EXISTS {table}_hist_add")
        await connection.execute(f"DROP SEQUENCE IF EXISTS {table}_documents_seq")
        await connection.close()
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
