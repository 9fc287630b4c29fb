"""Summaries of measured runs (medians over the interleaved repetitions) and the tables that print them."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from loadgen import RunStats
from paths import PATHS


def median(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def fmt_ms(seconds: float | None) -> str:
    return f"{seconds * 1e3:7.2f}" if seconds is not None else "      -"


def side_figures(runs: Sequence[RunStats]) -> dict[str, Any]:
    return {
        "rate": median([r.rate for r in runs]),
        "p50_s": median([r.p50_s for r in runs]),
        "p99_s": median([r.p99_s for r in runs]),
        "ttft_p50_s": median([r.ttft_p50_s for r in runs]),
        "cpu_per_request_s": median([r.cpu_per_request_s for r in runs]),
        # Each run's, in the order measured (one a repetition): the speed verdicts pair runs of one repetition.
        "cpu_each_s": [r.cpu_per_request_s for r in runs],
        "requests": sum(r.requests for r in runs),
        "errors": sum(r.errors for r in runs),
    }


def added(pairs: Sequence[tuple[RunStats, RunStats]], attribute: str) -> float | None:
    """Median over the interleaved pairs of (gateway - direct), which cancels drift better than medians apart."""
    differences = []
    for gateway, direct in pairs:
        mine, theirs = getattr(gateway, attribute), getattr(direct, attribute)
        if mine is not None and theirs is not None:
            differences.append(mine - theirs)
    return median(differences)


def summarize(runs: Sequence[RunStats]) -> list[dict[str, Any]]:
    """One row per (path, kind, concurrency) of one proxy's runs. The measured side is every run that is not
    "direct" (the gateway's, or a comparison proxy's, whose runs are summarized apart)."""
    rows = []
    keys = list(dict.fromkeys((run.path, run.kind, run.concurrency) for run in runs))
    keys.sort(key=lambda key: list(PATHS).index(key[0]))  # stable: by path, then in the order measured
    for path, kind, concurrency in keys:
        group = [run for run in runs if (run.path, run.kind, run.concurrency) == (path, kind, concurrency)]
        measured = [run for run in group if run.target != "direct"]
        direct = [run for run in group if run.target == "direct"]
        pairs = list(zip(measured, direct, strict=False))
        rows.append(
            {
                "path": path,
                "kind": kind,
                "concurrency": concurrency,
                "gateway": side_figures(measured),
                "direct": side_figures(direct),
                "added_p50_s": added(pairs, "p50_s"),
                "added_ttft_p50_s": added(pairs, "ttft_p50_s"),
            }
        )
    return rows


def fmt_us(seconds: float | None) -> str:
    return f"{seconds * 1e6:8.1f}" if seconds is not None else "       -"


def fmt_rate(value: float | None) -> str:
    return f"{value:8.1f}" if value is not None else "       -"


def chat_table(rows: Sequence[dict[str, Any]], proxy: str = "gateway") -> list[str]:
    """`proxy` names the measured side in the head (the gateway, or a comparison proxy)."""
    lines = [
        f"conc | {proxy + ' req/s':>13}  p50 ms  p99 ms  CPU µs/req | direct req/s  p50 ms  p99 ms "
        "| added p50 ms | errors",
        "-----+--------------------------------------------+------------------------------+--------------+-------",
    ]
    for row in rows:
        gw, di = row["gateway"], row["direct"]
        lines.append(
            f"{row['concurrency']:4} | {fmt_rate(gw['rate']):>13} {fmt_ms(gw['p50_s'])} {fmt_ms(gw['p99_s'])} "
            f"{fmt_us(gw['cpu_per_request_s']):>11} | {fmt_rate(di['rate']):>12} {fmt_ms(di['p50_s'])} "
            f"{fmt_ms(di['p99_s'])} | {fmt_ms(row['added_p50_s']):>12} | {gw['errors'] + di['errors']:6}"
        )
    return lines


def stream_table(rows: Sequence[dict[str, Any]], chunks: int) -> list[str]:
    lines = [
        "conc | gateway str/s  TTFT p50  total p50  CPU µs/stream  µs/chunk | direct str/s  TTFT p50  total p50 "
        "| added TTFT  added total | bad",
        "-----+-----------------------------------------------------------+-----------------------------------"
        "+-------------------------+----",
    ]
    for row in rows:
        gw, di = row["gateway"], row["direct"]
        cpu = gw["cpu_per_request_s"]
        lines.append(
            f"{row['concurrency']:4} | {fmt_rate(gw['rate']):>13} {fmt_ms(gw['ttft_p50_s']):>9} "
            f"{fmt_ms(gw['p50_s']):>10} {fmt_us(cpu):>14} {fmt_us(cpu / chunks if cpu is not None else None):>9} | "
            f"{fmt_rate(di['rate']):>12} "
            f"{fmt_ms(di['ttft_p50_s']):>9} {fmt_ms(di['p50_s']):>10} | {fmt_ms(row['added_ttft_p50_s']):>10} "
            f"{fmt_ms(row['added_p50_s']):>12} | {gw['errors'] + di['errors']:3}"
        )
    return lines
