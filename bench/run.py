"""`make bench`: measure the gateway's cost against a fake upstream, next to a direct call and next to the
fixed base commit (267719c; docs/decisions.md, "Speed against a fixed base"), all in the same run.

It measures each path of paths.PATHS (`--paths`): the OpenAI fast path and the translated ones (chat
completions to Anthropic, Gemini and Mistral, the Responses API and the Anthropic Messages frontend to
OpenAI), one gateway with all four providers configured, one fake upstream speaking every format.
It starts the fake upstream, the working tree's gateway and the base's (installed once into a venv of its
own, fixed_base.py) on loopback, pins them (each gateway on CPU 1, measured alone; the load generator,
i.e. this process or wrk, and the upstream on CPU 0), then alternates base, working tree and direct runs
at each concurrency, reading each gateway's CPU time from /proc around its runs. It prints tables and
the comparison (versus.py), writes bench/results/latest.json, and stops every process it started,
whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib.util
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Final, TypeVar

from compare import LITELLM_ENV
from fixed_base import DEFAULT_BASE, install
from jwt_issuer import Issuer
from loadgen import (
    CpuClock,
    RunStats,
    Target,
    preflight_chat,
    preflight_stream,
    run_python,
    run_wrk,
    wrk_available,
)
from paths import PATHS, BenchPath, Side, answer_problem, parse_paths
from phases import (
    ChatRun,
    Comparison,
    Scaling,
    cold_start_report,
    comparison_report,
    measure_cold_starts,
    measure_contender,
    measure_scaling,
    scaling_report,
    start_contender,
    wanted_contenders,
)
from processes import (
    GATEWAY_KEY,
    LOOPBACK,
    REDIS_ENV,
    RESULTS,
    UPSTREAM_KEY,
    BenchError,
    Children,
    Pinning,
    create_virtual_key,
    log_tail,
    start_gateway,
    start_upstream,
)
from procfs import core_busy_clock, cpu_clock, cpu_identity, guest_halt_poll_ns, memory_kib
from scaling import start_multi_worker
from tables import chat_table, fmt_ms, fmt_us, stream_table, summarize
from targets import check_targets
from versus import SAME_RUN, Verdict, verdicts
from versus import table as versus_table

ROOT: Final = Path(__file__).resolve().parent.parent

T = TypeVar("T")


# --- options ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    duration: float
    reps: int
    concurrency: tuple[int, ...]
    stream_concurrency: tuple[int, ...]
    chunks: int
    chunk_delay_ms: float
    engine: str  # "wrk" or "python", for plain chat runs; streams always use python
    output: Path
    paths: tuple[str, ...] = tuple(PATHS)  # which paths to measure (paths.PATHS), in this order
    scaling_workers: int = 2  # `serve --workers N` measured against one worker; 0: not measured
    cold_starts: int = 5  # fresh starts timed to the first chat completion; 0: none
    nginx: bool = False  # measure nginx as a plain reverse proxy too
    litellm: Path | None = None  # a virtual environment with `litellm[proxy]`, to measure it too
    base: str | None = DEFAULT_BASE  # the commit measured against, interleaved (fixed_base.py); None: not
    mcp_calls: int = 200  # MCP tool calls per round through /mcp and direct (mcp_paths.py); 0: not measured
    realtime_seconds: int = 60  # seconds of audio per round on /v1/realtime (realtime_paths.py); 0: not measured
    settle: float = 0.5  # seconds of the same load, unmeasured, right before each gateway's measured run
    batch_lines: int = 10_000  # lines of the larger batch through the batch engine (batch_lines.py); 0: not measured


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("concurrency levels must be positive integers")
    return levels


def _paths(text: str) -> tuple[str, ...]:
    try:
        return parse_paths(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv: Sequence[str] | None) -> tuple[Plan, bool]:
    parser = argparse.ArgumentParser(description="Benchmark babelgate against a fake upstream.")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measured run (default 3)")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.5,
        help="seconds of the same load, not measured, on a gateway right before each of its measured runs (0.5)",
    )
    parser.add_argument("--reps", type=int, default=5, help="rounds of (base, gateway, direct) per level (default 5)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 s runs, 1 repetition")
    # c=16 only by default: with the base beside the working tree, each level of every path takes three runs
    # per repetition, and the speed targets are at c=16; the whole run then takes about twenty minutes.
    parser.add_argument("--concurrency", type=_levels, default=(16,), help="chat levels (default 16; e.g. 1,16,64)")
    parser.add_argument("--stream-concurrency", type=_levels, default=(16,), help="stream levels (default 16)")
    parser.add_argument(
        "--base",
        default=DEFAULT_BASE,
        metavar="COMMIT",
        help=f"the commit to measure against in the same run (default {DEFAULT_BASE}, the fixed base; none: skip)",
    )
    parser.add_argument("--chunks", type=int, default=50, help="chunks per stream, finish chunk included (50)")
    parser.add_argument(
        "--chunk-delay",
        type=float,
        default=1.0,
        dest="chunk_delay_ms",
        help="ms between stream chunks at the upstream (default 1; 0 sends a stream in one write)",
    )
    parser.add_argument(
        "--loadgen",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="engine for plain chat runs (auto: wrk if on PATH)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    parser.add_argument(
        "--paths",
        type=_paths,
        default=tuple(PATHS),
        help=f"comma-separated paths to measure, or all (default all: {','.join(PATHS)})",
    )
    parser.add_argument(
        "--scaling-workers",
        type=int,
        default=2,
        help="also measure `serve --workers N` on the fast path against one worker (default 2; 0: no)",
    )
    parser.add_argument(
        "--cold-starts",
        type=int,
        default=None,
        help="fresh gateway starts timed to the first chat completion (default 5, --quick 2; 0: none)",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        default=None,
        help="count the governed path's rate limits in this Redis (e.g. redis://127.0.0.1:6379/0)",
    )
    parser.add_argument("--nginx", action="store_true", help="also measure nginx as a reverse proxy (fast path)")
    parser.add_argument(
        "--mcp-calls",
        type=int,
        default=200,
        help="MCP tool calls per round through the gateway's /mcp and directly (bench/mcp_paths.py); 0: none",
    )
    parser.add_argument(
        "--realtime-seconds",
        type=int,
        default=60,
        help="seconds of audio per round through /v1/realtime (bench/realtime_paths.py); 0: none",
    )
    parser.add_argument(
        "--batch-lines",
        type=int,
        default=10_000,
        help="lines of the larger batch through the batch engine, against a tenth (bench/batch_lines.py); 0: none",
    )
    litellm = os.environ.get(LITELLM_ENV)
    parser.add_argument(
        "--litellm",
        type=Path,
        default=Path(litellm) if litellm else None,
        metavar="VENV",
        help=f"also measure the LiteLLM proxy installed in this venv (fast path; or ${LITELLM_ENV})",
    )
    args = parser.parse_args(argv)
    if args.redis:
        os.environ[REDIS_ENV] = args.redis  # read where the gateway's config is written (processes.py)
    if args.chunks < 2:
        parser.error("--chunks must be at least 2")
    if args.loadgen == "wrk" and not wrk_available():
        parser.error("--loadgen wrk: wrk is not on PATH")
    engine = "wrk" if args.loadgen == "wrk" or (args.loadgen == "auto" and wrk_available()) else "python"
    duration, reps = (1.0, 1) if args.quick else (args.duration, args.reps)
    if duration <= 0 or reps < 1:
        parser.error("--duration must be positive and --reps at least 1")
    if args.scaling_workers == 1 or args.scaling_workers < 0:
        parser.error("--scaling-workers must be 0 (off) or at least 2")
    cold = args.cold_starts if args.cold_starts is not None else (2 if args.quick else 5)
    plan = Plan(
        duration,
        reps,
        args.concurrency,
        args.stream_concurrency,
        args.chunks,
        args.chunk_delay_ms,
        engine,
        args.output,
        args.paths,
        args.scaling_workers,
        cold,
        args.nginx,
        args.litellm,
        None if args.base.lower() in ("none", "") else args.base,
        0 if args.quick else args.mcp_calls,
        0 if args.quick else args.realtime_seconds,
        0.0 if args.quick else args.settle,
        0 if args.quick else args.batch_lines,
    )
    return plan, not args.no_pin


# --- processes --------------------------------------------------------------------------------------------


# --- meters ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Meters:
    """The gateway's CPU clock and, when it is pinned, the busy clock of its core."""

    gateway_cpu: CpuClock
    core_busy: Callable[[], float] | None

    def snapshot(self) -> tuple[float, float, float] | None:
        if self.core_busy is None:
            return None
        return time.monotonic(), self.core_busy(), self.gateway_cpu()

    def other_load(self, before: tuple[float, float, float] | None) -> float | None:
        """Fraction of the core's time used by other processes since `before`."""
        after = self.snapshot()
        if before is None or after is None or after[0] <= before[0]:
            return None
        busy, mine = after[1] - before[1], after[2] - before[2]
        return max(0.0, busy - mine) / (after[0] - before[0])


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        model = cpu_identity(cpuinfo.read())
    # The gateway serves from the working tree (an editable install): changes not yet committed are measured too.
    changed = _git("status", "--porcelain", "--untracked-files=all", "--", "src")
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "guest_halt_poll_ns": guest_halt_poll_ns(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_at_start": os.getloadavg(),
        "babelgate_version": metadata.version("babelgate"),
        "git_commit": _git("rev-parse", "--short", "HEAD") or None,
        "git_uncommitted_src": bool(changed) if changed is not None else None,
        "build": build_of_tree(),
    }


def build_of_tree() -> str:
    """Which build of the working tree the gateway runs: "compiled" when the request path imports as mypyc's
    extension modules (`bench/compiled.py --bench`, what `make bench` runs where a C compiler is), else "plain
    Python" (the editable install). The gateway inherits this process's PYTHONPATH, so it imports what this finds."""
    spec = importlib.util.find_spec("babelgate.pipeline")
    origin = spec.origin if spec is not None else None
    return "compiled" if origin is not None and not origin.endswith(".py") else "plain Python"


# --- measurement ------------------------------------------------------------------------------------------


def progress(run: RunStats, rep: int, reps: int) -> None:
    cpu = run.cpu_per_request_s
    text = (
        f"  {run.path:9} {run.kind:6} c={run.concurrency:<3} {rep + 1}/{reps} {run.target:7}: {run.rate:8.1f}/s  "
        f"p50 {fmt_ms(run.p50_s)} ms  p99 {fmt_ms(run.p99_s)} ms"
    )
    if cpu is not None:
        text += f"  gateway CPU {cpu * 1e6:7.1f} µs/{'request' if run.kind == 'chat' else 'stream'}"
    if run.errors:
        text += f"  ERRORS {run.errors}"
    print(text, file=sys.stderr, flush=True)


async def one_run(
    plan: Plan, target: Target, stream: bool, concurrency: int, cpu: CpuClock | None, pin: Pinning
) -> RunStats:
    if not stream and plan.engine == "wrk":
        return await run_wrk(
            target, concurrency=concurrency, duration=plan.duration, cpu=cpu, pin=pin.prefix(pin.load_cpu)
        )
    return await run_python(
        target, stream=stream, concurrency=concurrency, duration=plan.duration, chunks=plan.chunks, cpu=cpu
    )


Pair = tuple[Target, Target]  # (gateway, direct) of one path


async def check_answers(plan: Plan, pairs: dict[str, Pair], bases: dict[str, Target]) -> None:
    """Every path must answer correctly on every side before anything is measured."""
    problems: list[str] = []
    for name, (gateway, direct) in pairs.items():
        path = PATHS[name]
        for side, checked in ((path.gateway, gateway), (path.direct, direct), (path.gateway, bases.get(name))):
            if checked is None:
                continue
            problems += await preflight_chat(checked, functools.partial(answer_problem, side))
            if path.streams:
                problems += await preflight_stream(checked, plan.chunks)
    if problems:
        raise BenchError(
            "the answers are wrong, nothing measured:\n  "
            + "\n  ".join(problems)
            + f"\ngateway log:\n{log_tail(RESULTS / 'gateway.log')}"
            + (f"\nbase gateway log:\n{log_tail(RESULTS / 'gateway-base.log')}" if bases else "")
        )


async def warm_up(plan: Plan, name: str, gateway: Target) -> None:
    await run_python(
        gateway,
        stream=False,
        concurrency=16,
        duration=min(plan.duration, 1.0 if name == "fast" else 0.5),
        chunks=plan.chunks,
        cpu=None,
    )
    if PATHS[name].streams:
        await run_python(
            gateway, stream=True, concurrency=4, duration=min(plan.duration, 0.5), chunks=plan.chunks, cpu=None
        )


def settle_seconds(plan: Plan, side: str) -> float:
    """How long `settle` runs before a measured run of `side` ("base", "gateway" or "direct"): `plan.settle` before
    a gateway's, of either build; nothing before a direct run (no gateway's CPU is measured there)."""
    return 0.0 if side == "direct" else plan.settle


async def settle(plan: Plan, target: Target, stream: bool, concurrency: int, seconds: float) -> None:
    """The same load on the same gateway for `seconds`, not measured, right before its measured run.

    Without it the first run of a pair came to a core the other build or the direct run had just left, and cost
    more: measured against a build of its own commit (`--base HEAD`, five repetitions), the run that came second was
    the cheaper in four repetitions of five, by 4-11 %, and single runs reached 112 µs where the rest were 82-99."""
    await run_python(target, stream=stream, concurrency=concurrency, duration=seconds, chunks=plan.chunks, cpu=None)


async def measure(
    plan: Plan, pairs: dict[str, Pair], bases: dict[str, Target], meters: dict[str, Meters], pin: Pinning
) -> list[RunStats]:
    """Check every path answers correctly, warm the gateways up, then alternate base, gateway and direct runs.

    The order is level, repetition, group of paths (`measuring_groups`), (each path's base and gateway, in turn
    first, then the group's direct runs): the paths and the builds are interleaved, so that slow drift of a shared
    machine hits every path and both builds alike, and a path judged against another path of the working tree
    (versus.SAME_RUN) runs right beside it, in turn first, as a path's base and gateway do (`run_order`). Each
    gateway's measured run follows `settle`'s unmeasured one. `meters` has the working tree's gateway's ("gateway")
    and the base's ("base")."""
    await check_answers(plan, pairs, bases)
    for name, (gateway, _) in pairs.items():
        for warmed in (gateway, bases.get(name)):
            if warmed is not None:
                await warm_up(plan, name, warmed)
    runs: list[RunStats] = []
    for stream, levels in ((False, plan.concurrency), (True, plan.stream_concurrency)):
        names = [name for name in pairs if PATHS[name].streams or not stream]
        for concurrency in levels:
            for rep in range(plan.reps):
                for name, side in run_order(names, set(bases), rep):
                    gateway, direct = pairs[name]
                    target = bases[name] if side == "base" else direct if side == "direct" else gateway
                    meter = meters[target.name] if target.name in meters else meters["gateway"]
                    seconds = settle_seconds(plan, side)
                    if seconds > 0:
                        await settle(plan, target, stream, concurrency, seconds)
                    before = meter.snapshot()
                    cpu = meter.gateway_cpu if side != "direct" else None
                    run = await one_run(plan, target, stream, concurrency, cpu, pin)
                    run.gateway_core_other_load = meter.other_load(before)
                    if side == "base":
                        run.subject = "base"
                    progress(run, rep, plan.reps)
                    runs.append(run)
    return runs


def run_order(names: Sequence[str], based: set[str], rep: int) -> list[tuple[str, str]]:
    """The measured runs of repetition `rep`, as (path, side), side "base", "gateway" or "direct": group by group
    (`measuring_groups`), each path's base and gateway (`based`: the paths the base is measured on), then the
    group's direct runs. Which path of a group, and which build of a path, goes first alternates from one
    repetition to the next, so that none always runs on a fresher core."""
    order: list[tuple[str, str]] = []
    for group in measuring_groups(names):
        group = group[::-1] if rep % 2 else group
        for name in group:
            builds = [(name, "base"), (name, "gateway")] if name in based else [(name, "gateway")]
            order += builds[::-1] if rep % 2 else builds
        order += [(name, "direct") for name in group]
    return order


def measuring_groups(names: Sequence[str]) -> list[list[str]]:
    """`names` in groups measured together: each path judged against another path of the working tree
    (versus.SAME_RUN: governed against fast, JWT against governed, Bedrock against Anthropic, ...) runs right after
    the path it is judged against, in its group, so that their ratio compares runs seconds apart, not minutes (a
    shared host's speed drifts by more than those pairs' margins within one repetition). A group takes the place of
    the path the others in it are judged against in `names`."""

    def against(name: str) -> str | None:
        reference = SAME_RUN[name][0] if name in SAME_RUN else None
        return reference if reference in names else None

    def with_judged(name: str) -> list[str]:
        return [name] + [each for judged in names if against(judged) == name for each in with_judged(judged)]

    return [with_judged(name) for name in names if against(name) is None]


# --- summary and report -----------------------------------------------------------------------------------


def overview_table(plan: Plan, rows: Sequence[dict[str, Any]]) -> list[str]:
    """Gateway CPU per request and p50, every path side by side (non-streaming)."""
    levels = plan.concurrency
    head = (
        "path      | "
        + " ".join(f"CPU µs/req c={c:<3}" for c in levels)
        + " | "
        + " ".join(f"p50 ms c={c:<3}" for c in levels).rstrip()
    )
    lines = ["Gateway CPU per request and latency by path (non-streaming)", head, "-" * len(head)]
    for name in plan.paths:
        by_level = {row["concurrency"]: row["gateway"] for row in rows if row["path"] == name and row["kind"] == "chat"}
        cpu = " ".join(f"{fmt_us(by_level[c]['cpu_per_request_s'] if c in by_level else None):>16}" for c in levels)
        p50 = " ".join(f"{fmt_ms(by_level[c]['p50_s'] if c in by_level else None):>12}" for c in levels)
        lines.append(f"{name:9} | {cpu} | {p50}")
    return lines


def stream_overview_table(plan: Plan, rows: Sequence[dict[str, Any]]) -> list[str]:
    """Gateway CPU per stream, time to first token and added total time, every path side by side."""
    levels = plan.stream_concurrency
    head = (
        "path      | "
        + " ".join(f"CPU µs/stream c={c:<3}" for c in levels)
        + " | "
        + " ".join(f"TTFT ms c={c:<3}" for c in levels)
        + " | "
        + " ".join(f"added total ms c={c:<3}" for c in levels)
    ).rstrip()
    lines = ["Gateway CPU per stream and latency by path (streams)", head, "-" * len(head)]
    for name in plan.paths:
        by_level = {row["concurrency"]: row for row in rows if row["path"] == name and row["kind"] == "stream"}
        if not by_level:
            continue
        cpu = " ".join(
            f"{fmt_us(by_level[c]['gateway']['cpu_per_request_s'] if c in by_level else None):>19}" for c in levels
        )
        ttft = " ".join(
            f"{fmt_ms(by_level[c]['gateway']['ttft_p50_s'] if c in by_level else None):>12}" for c in levels
        )
        added = " ".join(f"{fmt_ms(by_level[c]['added_p50_s'] if c in by_level else None):>20}" for c in levels)
        lines.append(f"{name:9} | {cpu} | {ttft} | {added}")
    return lines


def report(
    plan: Plan,
    rows: Sequence[dict[str, Any]],
    runs: Sequence[RunStats],
    memory: dict[str, int],
    pin: Pinning,
    base: Measured | None = None,
) -> str:
    builds = f"base {base.label}, gateway" if base and not base.problem else "gateway"
    out = [
        f"babelgate bench — median of {plan.reps} interleaved round(s) of {builds} and direct runs, "
        f"{plan.duration:g} s each; "
        f"chat load by {plan.engine}, streams by python; {pin.note}",
        "",
    ]
    for name in plan.paths:
        path = PATHS[name]
        for label, source in (("", rows), (f" — base {base.label}" if base else "", base.rows if base else [])):
            chat = [row for row in source if row["kind"] == "chat" and row["path"] == name]
            streams = [row for row in source if row["kind"] == "stream" and row["path"] == name]
            if chat:
                heading = "Chat completions (non-streaming)" if name == "fast" else "non-streaming"
                out += [f"[{name}] {path.title} — {heading}{label}", *chat_table(chat), ""]
            if streams:
                out += [
                    f"[{name}] Streams ({plan.chunks} chunks, {plan.chunk_delay_ms:g} ms apart at the upstream; "
                    f"every event checked; client reads {path.gateway.stream_format}, direct "
                    f"{path.direct.stream_format}){label}",
                    *stream_table(streams, plan.chunks),
                    "",
                ]
    if len(plan.paths) > 1:
        out += [*overview_table(plan, rows), ""]
        if any(row["kind"] == "stream" for row in rows):
            out += [*stream_overview_table(plan, rows), ""]
    for label, measured in (
        ("Gateway", memory),
        (f"Base {base.label} gateway" if base else "", base.memory if base else {}),
    ):
        if measured:
            out.append(
                f"{label} memory: peak RSS (VmHWM) {measured.get('VmHWM', 0) / 1024:.1f} MiB, "
                f"RSS at the end {measured.get('VmRSS', 0) / 1024:.1f} MiB"
            )
    noise = [
        run.gateway_core_other_load
        for run in runs
        if run.target in ("gateway", "base") and run.gateway_core_other_load is not None
    ]
    if noise:
        out.append(
            f"Noise: other processes used CPU {pin.gateway_cpu} for {statistics.median(noise):.0%} (median) "
            f"and up to {max(noise):.0%} of the time during the gateway runs"
        )
    failures = [run for run in runs if run.errors]
    for run in failures[:5]:
        out.append(
            f"errors in {run.path} {run.kind} c={run.concurrency} {run.target}: {run.errors}; "
            + "; ".join(run.error_samples[:2])
        )
    return "\n".join(out)


def write_json(
    plan: Plan,
    pin: Pinning,
    info: dict[str, Any],
    runs: Sequence[RunStats],
    rows: Sequence[dict[str, Any]],
    memory: dict[str, int],
    checks: dict[str, Any],
    further: Further,
    wall: float,
    base: Measured | None,
    found: Sequence[Verdict],
) -> None:
    plan.output.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "started_at": info.pop("started_at"),
        "wall_s": wall,
        "machine": info,
        "plan": {
            "duration_s": plan.duration,
            "reps": plan.reps,
            "concurrency": plan.concurrency,
            "stream_concurrency": plan.stream_concurrency,
            "chunks": plan.chunks,
            "chunk_delay_ms": plan.chunk_delay_ms,
            "chat_engine": plan.engine,
            "stream_engine": "python",
            "paths": plan.paths,
            "scaling_workers": plan.scaling_workers,
            "cold_starts": plan.cold_starts,
            "nginx": plan.nginx,
            "litellm": str(plan.litellm) if plan.litellm else None,
            "base": plan.base,
        },
        "pinning": {"enabled": pin.enabled, "note": pin.note},
        # `summary` is the fast path's, as before; `paths` has one section per measured path.
        "summary": [row for row in rows if row["path"] == "fast"],
        "paths": {
            name: {
                "title": PATHS[name].title,
                "gateway_route": PATHS[name].gateway.route,
                "direct_route": PATHS[name].direct.route,
                "summary": [row for row in rows if row["path"] == name],
            }
            for name in plan.paths
        },
        "gateway_memory_kib": memory,
        "targets": checks,
        # The base's side (fixed_base.py): its rows have the same form as `paths.<name>.summary`'s.
        "base": base.as_dict() if base else None,
        "versus": {
            "verdicts": [verdict.as_dict() for verdict in found],
            "all_met": all(verdict.met for verdict in found if verdict.met is not None),
        },
        "runs": [run.as_dict() for run in runs],
        **further.as_dict(),
    }
    plan.output.write_text(json.dumps(document, indent=2) + "\n")


# --- the base ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Measured:
    """The base's side of the run: what was asked for, and what it measured or why it was not measured."""

    asked: str
    commit: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    memory: dict[str, int] = field(default_factory=dict)
    problem: str | None = None

    @property
    def label(self) -> str:
        if self.commit is None or self.commit.startswith(self.asked):
            return self.asked
        return f"{self.asked} ({self.commit[:7]})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "asked": self.asked,
            "commit": self.commit,
            "problem": self.problem,
            "paths": [name for name in PATHS if PATHS[name].base],
            "summary": self.rows,
            "gateway_memory_kib": self.memory,
        }


def start_base(
    plan: Plan, children: Children, pin: Pinning, upstream_port: int, store_dir: str
) -> tuple[Measured | None, subprocess.Popen[bytes] | None, int]:
    """The base's gateway, installed on first use, with the working tree's environment and no config file (it
    refuses today's; the paths it runs need none); one that cannot be had is reported, and the run goes on."""
    if plan.base is None:
        return None, None, 0
    base = Measured(plan.base)
    try:
        installed = install(ROOT, plan.base, RESULTS / "base-build.log")
        base.commit = installed.commit
        folder = Path(store_dir) / "base"  # its own SQLite file: the base's schema is older
        folder.mkdir()
        process, port = start_gateway(
            children,
            pin,
            upstream_port,
            str(folder),
            log_name="gateway-base.log",
            command=installed.command,
            config=False,
            # Not the working tree's PYTHONPATH: a run started with it pointing at a tree's src/ (a snapshot of
            # the tree, say) had the base's venv import that tree instead of the base, and measured no base.
            env={"PYTHONPATH": ""},
        )
    except (RuntimeError, OSError, subprocess.SubprocessError, tarfile.TarError, BenchError) as exc:
        base.problem = str(exc) or type(exc).__name__
        print(f"bench: the base {plan.base} is not measured: {exc}", file=sys.stderr, flush=True)
        return base, None, 0
    print(f"bench: measuring against the base {base.label} ({installed.folder})", file=sys.stderr, flush=True)
    return base, process, port


def compare_report(base: Measured | None, found: Sequence[Verdict], info: dict[str, Any]) -> list[str]:
    head = f"working tree {info['git_commit'] or ''}".rstrip() + f" ({info.get('build', 'plain Python')})"
    if info.get("git_uncommitted_src"):
        head += " with uncommitted changes in src/"
    out = [""]
    if base is None:
        out.append("Base: none asked for (--base none); only the working tree's own targets are judged")
    elif base.problem:
        out.append(f"Base {base.asked}: NOT MEASURED: {base.problem}")
    else:
        out.append(f"Base {base.label} ({base.commit}) against the {head}")
    return out + versus_table(found, base.label if base and not base.problem else None, "working tree")


# --- further phases: scaling, comparison proxies, cold start -------------------------------------------------


@dataclass(slots=True)
class Further:
    scaling: Scaling | None = None
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was asked for and not measured, and why
    cold_start_s: list[float] = field(default_factory=list)
    governed_peak_kib: int | None = None  # a fresh gateway's peak RSS after the governed path alone
    governed_errors: int = 0

    @property
    def errors(self) -> int:
        return (
            (self.scaling.errors if self.scaling else 0)
            + sum(c.errors for c in self.comparisons)
            + self.governed_errors
        )

    def report(self, plan: Plan, rows: Sequence[dict[str, Any]], pin: Pinning) -> list[str]:
        out = [""] + ([*scaling_report(self.scaling, pin.enabled), ""] if self.scaling else [])
        out += comparison_report(self.comparisons, list(rows), plan.concurrency, self.notes)
        if self.governed_peak_kib is not None:
            out.append(
                f"Memory with governance on: a fresh gateway that served the governed path alone (c="
                f"{max(plan.concurrency)}, {plan.reps} run(s) of {plan.duration:g} s): peak RSS (VmHWM) "
                f"{self.governed_peak_kib / 1024:.1f} MiB"
            )
        return out + cold_start_report(self.cold_start_s)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scaling": self.scaling.as_dict() if self.scaling else None,
            "comparisons": {c.name: c.as_dict() for c in self.comparisons},
            "notes": self.notes,
            "cold_start_s": self.cold_start_s,
            "cold_start_median_s": statistics.median(self.cold_start_s) if self.cold_start_s else None,
            "governed_peak_kib": self.governed_peak_kib,
        }


def further_phases(
    plan: Plan, children: Children, pin: Pinning, upstream_port: int, store_dir: str, fast: Pair, gateway_cpu: CpuClock
) -> Further:
    """The optional phases, one after the other, while the main gateway idles."""
    further = Further()

    def chat_run(target: Target, concurrency: int, cpu: CpuClock | None) -> Coroutine[Any, Any, RunStats]:
        return one_run(plan, target, False, concurrency, cpu, pin)

    levels = tuple(level for level in plan.concurrency if level > 1)  # one connection keeps to one worker
    if plan.scaling_workers and not levels:
        further.notes.append("scaling: needs a chat concurrency above 1")
    elif plan.scaling_workers:
        print(f"bench: scaling, `serve --workers {plan.scaling_workers}`", file=sys.stderr, flush=True)
        multi = start_multi_worker(children, pin, upstream_port, store_dir, plan.scaling_workers, fast[0])
        try:
            further.scaling = run_loop(
                lambda: measure_scaling(multi, fast[0], gateway_cpu, chat_run, levels, plan.reps)
            )
        finally:
            children.stop(multi.process)
    names, missing = wanted_contenders(plan.nginx, plan.litellm)
    further.notes += missing
    for name in names:
        print(f"bench: comparison, {name}", file=sys.stderr, flush=True)
        further.comparisons.append(compare_one(plan, name, children, pin, upstream_port, store_dir, fast, chat_run))
    if plan.cold_starts:
        print(f"bench: {plan.cold_starts} cold starts", file=sys.stderr, flush=True)
        further.cold_start_s = measure_cold_starts(children, pin, upstream_port, store_dir, plan.cold_starts)
    if "governed" in plan.paths:
        print("bench: memory, the governed path alone on a fresh gateway", file=sys.stderr, flush=True)
        governed_memory(plan, children, pin, upstream_port, store_dir, chat_run, further)
    return further


def governed_memory(
    plan: Plan,
    children: Children,
    pin: Pinning,
    upstream_port: int,
    store_dir: str,
    chat_run: ChatRun,
    further: Further,
) -> None:
    """Memory with governance on, one configuration per gateway as the target was set: a fresh gateway (the bench's
    config, a store of its own) that serves only the governed path, at the run's highest chat concurrency, for
    as many runs as each path had; its peak RSS goes into `further`."""
    folder = Path(store_dir) / "memory"
    folder.mkdir()
    process, port = start_gateway(children, pin, upstream_port, str(folder), log_name="gateway-memory.log")
    try:
        gateway = targets(PATHS["governed"], port, upstream_port, create_virtual_key(port))[0]
        for _ in range(plan.reps):
            stats = run_loop(lambda: chat_run(gateway, max(plan.concurrency), None))
            further.governed_errors += stats.errors
        further.governed_peak_kib = memory_kib(process.pid).get("VmHWM")
    finally:
        children.stop(process)


def compare_one(
    plan: Plan,
    name: str,
    children: Children,
    pin: Pinning,
    upstream_port: int,
    store_dir: str,
    fast: Pair,
    chat_run: ChatRun,
) -> Comparison:
    """One comparison proxy, started, measured and stopped; one that fails to start is reported, not fatal."""
    try:
        contender = start_contender(
            name, children, pin, upstream_port, Path(store_dir) / "contenders", fast[1], plan.litellm
        )
    except BenchError as exc:
        return Comparison(name, name, problems=[f"{name} did not start: {exc}"])
    try:
        return run_loop(lambda: measure_contender(contender, fast[1], chat_run, plan.concurrency, plan.reps))
    finally:
        children.stop(contender.process)


# --- main -------------------------------------------------------------------------------------------------


def run_loop(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on uvloop when installed (it is, with the gateway), so the client costs less."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(factory())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(factory())


def target(name: str, path: BenchPath, side: Side, port: int, key: str) -> Target:
    base = f"http://{LOOPBACK}:{port}"
    stream_url = base + side.stream_route if side.stream_route is not None else None
    return Target(
        name,
        base + side.route,
        key,
        path.name,
        side.body,
        side.expect,
        side.stream_body,
        stream_url,
        side.stream_format,
    )


def targets(path: BenchPath, gateway_port: int, upstream_port: int, virtual_key: str = "", token: str = "") -> Pair:
    key = virtual_key if path.name == "governed" else token if path.name == "jwt" else GATEWAY_KEY
    return (
        target("gateway", path, path.gateway, gateway_port, key),
        target("direct", path, path.direct, upstream_port, UPSTREAM_KEY),
    )


def bench(plan: Plan, pin_wanted: bool, children: Children, store_dir: str) -> int:
    started = time.monotonic()
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = {**machine(), "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    pin = Pinning.detect(pin_wanted)
    print(f"bench: {pin.note}; chat load by {plan.engine}", file=sys.stderr, flush=True)
    print(f"bench: {info['cpu_model']}, guest_halt_poll_ns {info['guest_halt_poll_ns']}", file=sys.stderr, flush=True)
    upstream_port = start_upstream(children, pin, plan.chunks, plan.chunk_delay_ms)
    # The `jwt` path's identity provider: its JWKS served from this process, its `auth.jwt` in the config.
    issuer = Issuer(LOOPBACK) if "jwt" in plan.paths else None
    gateway_process, gateway_port = start_gateway(
        children, pin, upstream_port, store_dir, extra=issuer.config() if issuer is not None else ""
    )
    base, base_process, base_port = start_base(plan, children, pin, upstream_port, store_dir)
    pin.pin_self()
    virtual_key = create_virtual_key(gateway_port) if "governed" in plan.paths else ""
    token = issuer.token() if issuer is not None else ""
    pairs = {name: targets(PATHS[name], gateway_port, upstream_port, virtual_key, token) for name in plan.paths}
    bases = {
        name: target("base", PATHS[name], PATHS[name].gateway, base_port, GATEWAY_KEY)
        for name in plan.paths
        if PATHS[name].base and base_process is not None
    }
    core = core_busy_clock(pin.gateway_cpu) if pin.enabled else None
    meters = {"gateway": Meters(cpu_clock(gateway_process.pid), core)}
    if base_process is not None:
        meters["base"] = Meters(cpu_clock(base_process.pid), core)
    runs = run_loop(lambda: measure(plan, pairs, bases, meters, pin))
    for process, log in ((gateway_process, "gateway.log"), (base_process, "gateway-base.log")):
        if process is not None and process.poll() is not None:
            raise BenchError(f"{log[:-4]} died during the run:\n{log_tail(RESULTS / log)}")
    memory = memory_kib(gateway_process.pid)
    rows = summarize([run for run in runs if run.target != "base"])
    if base is not None and base_process is not None:
        base.memory = memory_kib(base_process.pid)
        base.rows = [row for row in summarize([run for run in runs if run.target != "gateway"]) if row["path"] in bases]
        children.stop(base_process)  # the later phases are the working tree's: it would only idle on CPU 1
    fast = targets(PATHS["fast"], gateway_port, upstream_port)
    further = further_phases(plan, children, pin, upstream_port, store_dir, fast, meters["gateway"].gateway_cpu)
    found = verdicts(
        rows,
        base.rows if base else [],
        paths=plan.paths,
        base_paths=[name for name in plan.paths if PATHS[name].base],
        levels={"chat": plan.concurrency, "stream": plan.stream_concurrency},
        head_peak_kib=memory.get("VmHWM"),
        base_peak_kib=base.memory.get("VmHWM") if base else None,
        governed_peak_kib=further.governed_peak_kib,
    )
    checks = check_targets(
        rows,
        peak_rss_kib=memory.get("VmHWM"),
        cold_start_s=further.cold_start_s,
        scaling=further.scaling.levels if further.scaling else (),
    )
    print(report(plan, rows, runs, memory, pin, base))
    print("\n".join(further.report(plan, rows, pin)))
    print("\n".join(["", *(check.line() for check in checks)]))
    print("\n".join(compare_report(base, found, info)))
    if plan.mcp_calls > 0:
        print("\n".join(mcp_report(plan.mcp_calls)))
    if plan.realtime_seconds > 0:
        print("\n".join(realtime_report(plan.realtime_seconds)))
    if plan.batch_lines > 0:
        print("\n".join(batch_report(plan.batch_lines)))
    write_json(
        plan,
        pin,
        info,
        runs,
        rows,
        memory,
        {check.name: check.as_dict() for check in checks},
        further,
        time.monotonic() - started,
        base,
        found,
    )
    print(f"\nwrote {plan.output} ({time.monotonic() - started:.0f} s)")
    return 1 if any(run.errors for run in runs) or further.errors else 0


def mcp_report(calls: int) -> list[str]:
    """The MCP endpoint's own cost per tool call, measured by bench/mcp_paths.py in a process of
    its own (its fake MCP server and gateway), after the chat paths."""
    command = [sys.executable, str(Path(__file__).parent / "mcp_paths.py"), "--calls", str(calls), "--rounds", "3"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    lines = done.stdout.strip().splitlines() if done.returncode == 0 else [f"failed: {done.stderr.strip()[-400:]}"]
    return [
        "",
        "MCP endpoint: one tool call through /mcp against the same call made directly (bench/mcp_paths.py)",
        *lines,
    ]


def realtime_report(seconds: int) -> list[str]:
    """The Realtime door's CPU per second of audio it relays, measured by bench/realtime_paths.py in a process of
    its own (its fake upstream and gateway), after the chat paths."""
    command = [sys.executable, str(Path(__file__).parent / "realtime_paths.py"), "--seconds", str(seconds)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    lines = done.stdout.strip().splitlines() if done.returncode == 0 else [f"failed: {done.stderr.strip()[-400:]}"]
    return ["", "Realtime: a session's audio through /v1/realtime (bench/realtime_paths.py)", *lines]


def batch_report(lines: int) -> list[str]:
    """The batch engine's CPU per line and peak memory for a batch of a tenth of `lines` and of `lines`, measured by
    bench/batch_lines.py in a process of its own (its fake upstream and gateways), after the chat paths."""
    sizes = f"{max(1, lines // 10)},{lines}"
    command = [sys.executable, str(Path(__file__).parent / "batch_lines.py"), "--sizes", sizes]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    lines_out = done.stdout.strip().splitlines() if done.returncode == 0 else [f"failed: {done.stderr.strip()[-400:]}"]
    return ["", "Batches: lines run by the batch engine through the pipeline (bench/batch_lines.py)", *lines_out]


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally that stops the children


def main(argv: Sequence[str] | None = None) -> int:
    plan, pin_wanted = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    children = Children()
    store = tempfile.TemporaryDirectory(prefix="babelgate-bench-store-")  # the gateway's SQLite store
    try:
        return bench(plan, pin_wanted, children, store.name)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        children.stop_all()
        store.cleanup()  # after the gateway stopped: it holds the file


if __name__ == "__main__":
    sys.exit(main())
