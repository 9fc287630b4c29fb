"""The phases after the main measurement, each optional: multi-worker scaling, comparison proxies (nginx,
LiteLLM) on the fast path, and cold starts. Each returns what it measured (or why it did not), its report
lines and its part of latest.json; run.py calls them in that order, with the main gateway idle."""

from __future__ import annotations

import functools
import statistics
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compare import Contender, find_nginx, litellm_binary, start_litellm, start_nginx
from loadgen import CpuClock, RunStats, Target, preflight_chat, run_python
from paths import PATHS, answer_problem
from processes import Children, Pinning
from scaling import MultiWorkerGateway, ScalingRun, cold_starts, summarize_scaling
from tables import chat_table, fmt_ms, fmt_rate, fmt_us, summarize

# (target, concurrency, CPU clock or None) → one measured non-streaming run, with the main run's engine.
ChatRun = Callable[[Target, int, CpuClock | None], Awaitable[RunStats]]
WARM_UP_S = 0.5
FEW_REQUESTS = 100  # per level, below which a comparison's figures are flagged


def _progress(label: str, run: RunStats) -> None:
    cpu = run.cpu_per_request_s
    text = f"  {label:22} c={run.concurrency:<3}: {run.rate:8.1f}/s  p50 {fmt_ms(run.p50_s)} ms"
    if cpu is not None:
        text += f"  CPU {cpu * 1e6:7.1f} µs/request"
    if run.errors:
        text += f"  ERRORS {run.errors}"
    print(text, file=sys.stderr, flush=True)


# --- scaling ----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Scaling:
    workers: int
    levels: list[dict[str, Any]] = field(default_factory=list)
    runs: list[tuple[RunStats, ScalingRun]] = field(default_factory=list)
    memory: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return sum(single.errors + multi.stats.errors for single, multi in self.runs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "levels": self.levels,
            "memory_kib": self.memory,
            "runs": [{"one_worker": single.as_dict(), "n_workers": multi.as_dict()} for single, multi in self.runs],
        }


async def measure_scaling(
    multi: MultiWorkerGateway, fast: Target, fast_cpu: CpuClock, chat_run: ChatRun, levels: tuple[int, ...], reps: int
) -> Scaling:
    """Interleaved pairs per level: the one-worker gateway (its CPU per request), then the N-worker one."""
    scaling = Scaling(len(multi.workers))
    await run_python(multi.target, stream=False, concurrency=16, duration=WARM_UP_S, chunks=2, cpu=None)
    for concurrency in levels:
        pairs = []
        for _ in range(reps):
            single = await chat_run(fast, concurrency, fast_cpu)
            _progress("scaling 1 worker", single)
            several = await multi.measure(lambda target, level: chat_run(target, level, None), concurrency)
            _progress(f"scaling {scaling.workers} workers", several.stats)
            pairs.append((single, several))
        scaling.runs += pairs
        scaling.levels.append(summarize_scaling(concurrency, pairs))
    scaling.memory = multi.memory()
    return scaling


def scaling_report(scaling: Scaling, pinned: bool) -> list[str]:
    n = scaling.workers
    where = (
        "a core per worker, the second shared with the load generator and upstream, so raw req/s cannot "
        "grow in proportion"
        if pinned
        else "unpinned"
    )
    out = [
        f"Scaling: fast path, 1 worker vs `serve --workers {n}` ({where}; capacity from each worker's CPU per "
        "request and share of requests, bench/README.md)",
        f"conc | 1 worker req/s  p50 ms  CPU µs/req | {n} workers req/s  p50 ms  CPU µs/req | "
        "per worker, busiest first: share, CPU µs/req | capacity vs 1 worker: balanced, at this balance",
    ]
    for level in scaling.levels:
        one, several = level["one_worker"], level["n_workers"]
        workers = ", ".join(
            f"{(worker['share'] or 0):.0%} {fmt_us(worker['cpu_per_request_s']).strip()}" for worker in level["workers"]
        )
        balanced, observed = level["capacity_balanced"], level["capacity_at_observed_balance"]
        capacity = f"{balanced:.2f}x, {observed:.2f}x" if balanced is not None and observed is not None else "-"
        out.append(
            f"{level['concurrency']:4} | {fmt_rate(one['rate']):>14} {fmt_ms(one['p50_s'])} "
            f"{fmt_us(one['cpu_per_request_s']):>11} | {fmt_rate(several['rate']):>{len(str(n)) + 14}} "
            f"{fmt_ms(several['p50_s'])} {fmt_us(several['cpu_per_request_s']):>11} | {workers} | {capacity}"
        )
    memory = ", ".join(f"{name} {kib.get('VmHWM', 0) / 1024:.1f} MiB" for name, kib in scaling.memory.items())
    out.append(f"Peak RSS (VmHWM) with {n} workers: {memory}")
    return out


# --- comparison proxies -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Comparison:
    name: str
    title: str
    runs: list[RunStats] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    memory: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(run.errors for run in self.runs) + len(self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "summary": self.rows,
            "memory_kib": self.memory,
            "problems": self.problems,
            "runs": [run.as_dict() for run in self.runs],
        }


def wanted_contenders(nginx: bool, litellm: Path | None) -> tuple[list[str], list[str]]:
    """(names to measure, notes on those asked for but missing)."""
    names, notes = [], []
    if nginx:
        if find_nginx() is None:
            notes.append("nginx: not installed (Debian: apt-get install nginx-light), skipped")
        else:
            names.append("nginx")
    if litellm is not None:
        if litellm_binary(litellm) is None:
            notes.append(
                f"litellm: no {litellm}/bin/litellm (install: python3 -m venv {litellm} && "
                f"{litellm}/bin/pip install 'litellm[proxy]'), skipped"
            )
        else:
            names.append("litellm")
    return names, notes


def start_contender(
    name: str, children: Children, pin: Pinning, upstream_port: int, folder: Path, fast: Target, litellm: Path | None
) -> Contender:
    if name == "nginx":
        return start_nginx(children, pin, upstream_port, folder / "nginx", fast)
    assert litellm is not None
    return start_litellm(children, pin, upstream_port, folder / "litellm", fast, litellm)


async def measure_contender(
    contender: Contender, direct: Target, chat_run: ChatRun, levels: tuple[int, ...], reps: int
) -> Comparison:
    """Check it answers like the gateway, warm it up, then interleaved (proxy, direct) pairs per level."""
    comparison = Comparison(contender.name, contender.title)
    comparison.problems = await preflight_chat(
        contender.target, functools.partial(answer_problem, PATHS["fast"].gateway)
    )
    if comparison.problems:
        return comparison
    await run_python(contender.target, stream=False, concurrency=16, duration=WARM_UP_S, chunks=2, cpu=None)
    for concurrency in levels:
        for _ in range(reps):
            for target, cpu in ((contender.target, contender.cpu), (direct, None)):
                run = await chat_run(target, concurrency, cpu)
                run.subject = contender.name
                _progress(f"{contender.name} {target.name}", run)
                comparison.runs.append(run)
    comparison.rows = summarize(comparison.runs)
    comparison.memory = contender.memory()
    return comparison


def comparison_report(
    comparisons: list[Comparison], gateway_rows: list[dict[str, Any]], levels: tuple[int, ...], notes: list[str]
) -> list[str]:
    out: list[str] = []
    for comparison in comparisons:
        out.append(f"[{comparison.name}] {comparison.title} — fast path, non-streaming")
        out += comparison.problems or chat_table(comparison.rows, comparison.name)
        out += _few_requests_warnings(comparison)
        out.append("")
    measured = [comparison for comparison in comparisons if comparison.rows]
    if measured:
        fast = [row for row in gateway_rows if row["path"] == "fast" and row["kind"] == "chat"]
        head = (
            "proxy     | "
            + " ".join(f"CPU µs/req c={c:<3}" for c in levels)
            + " | "
            + " ".join(f"p50 ms c={c:<3}" for c in levels)
            + " | peak RSS"
        ).rstrip()
        out += [
            "Fast path by proxy (CPU per request of the proxy's processes, on the same core)",
            head,
            "-" * len(head),
            _proxy_line("babelgate", fast, levels, None),
        ]
        out += [_proxy_line(c.name, c.rows, levels, c.memory.get("VmHWM")) for c in measured]
        out.append("")
    return out + [f"Skipped: {note}" for note in notes]


def _few_requests_warnings(comparison: Comparison) -> list[str]:
    """A slow proxy may finish only a few requests in a short window; its CPU for those still in flight at
    the end is then charged to them, so CPU per request (and req/s) at that level mean little."""
    return [
        f"warning: {comparison.name} finished only {row['gateway']['requests']} request(s) at c="
        f"{row['concurrency']}; figures at that level are not meaningful (use a longer --duration)"
        for row in comparison.rows
        if row["gateway"]["requests"] < FEW_REQUESTS
    ]


def _proxy_line(name: str, rows: list[dict[str, Any]], levels: tuple[int, ...], peak_kib: int | None) -> str:
    by_level = {row["concurrency"]: row["gateway"] for row in rows}
    cpu = " ".join(f"{fmt_us(by_level[c]['cpu_per_request_s'] if c in by_level else None):>16}" for c in levels)
    p50 = " ".join(f"{fmt_ms(by_level[c]['p50_s'] if c in by_level else None):>12}" for c in levels)
    memory = f"{peak_kib / 1024:.1f} MiB" if peak_kib else "(see above)"
    return f"{name:9} | {cpu} | {p50} | {memory}"


# --- cold start -------------------------------------------------------------------------------------------


def measure_cold_starts(
    children: Children, pin: Pinning, upstream_port: int, store_dir: str, count: int
) -> list[float]:
    times = cold_starts(children, pin, upstream_port, store_dir, count)
    for seconds in times:
        print(f"  cold start: {seconds * 1e3:.0f} ms", file=sys.stderr, flush=True)
    return times


def cold_start_report(times: list[float]) -> list[str]:
    if not times:
        return []
    return [
        f"Cold start (exec of `babelgate serve` to its first successful chat completion): median "
        f"{statistics.median(times) * 1e3:.0f} ms of {len(times)} starts "
        f"(min {min(times) * 1e3:.0f}, max {max(times) * 1e3:.0f} ms)"
    ]
