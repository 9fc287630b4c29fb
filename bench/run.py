"""`make bench`: measure the gateway's cost against a fake upstream, and report it next to a direct call.

It measures each path of paths.PATHS (`--paths`): the OpenAI fast path and the translated ones (chat
completions to Anthropic, Gemini and Mistral, the Responses API and the Anthropic Messages frontend to
OpenAI), one gateway with all four providers configured, one fake upstream speaking every format.
It starts the fake upstream and the gateway on loopback, pins them (gateway alone on CPU 1; the load
generator, i.e. this process or wrk, and the upstream on CPU 0), then alternates gateway and direct
runs at each concurrency, reading the gateway's CPU time from /proc around every gateway run. It
prints tables, writes bench/results/latest.json, and stops every process it started, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import platform
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any, Final, TypeVar

from loadgen import (
    CpuClock,
    RunStats,
    Target,
    die_with_parent,
    preflight,
    preflight_chat,
    run_python,
    run_wrk,
    wrk_available,
)
from paths import PATHS, BenchPath, answer_problem, parse_paths

BENCH_DIR: Final = Path(__file__).resolve().parent
ROOT: Final = BENCH_DIR.parent
RESULTS: Final = BENCH_DIR / "results"
GATEWAY_KEY: Final = "bench-key"
UPSTREAM_KEY: Final = "sk-bench"
LOOPBACK: Final = "127.0.0.1"
STARTUP_TIMEOUT: Final = 30.0
STOP_GRACE: Final = 5.0
# The bar from the performance issue (OpenAI fast path, one worker).
BAR_CPU_US_AT_16: Final = 300.0
BAR_ADDED_P50_MS_AT_1: Final = 1.0
# Environment variables that would add providers or change the gateway's config behind our back.
FOREIGN_ENV_PREFIXES: Final = ("OPENAI_", "ANTHROPIC_", "GEMINI_", "MISTRAL_", "OLLAMA_", "BABELGATE_")

T = TypeVar("T")


class BenchError(Exception):
    """The benchmark cannot go on; the message says why (and quotes the gateway's log when it is at fault)."""


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
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per measured run (default 4)")
    parser.add_argument("--reps", type=int, default=3, help="gateway/direct pairs per level (default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 s runs, 1 repetition")
    parser.add_argument("--concurrency", type=_levels, default=(1, 16, 64), help="chat levels (default 1,16,64)")
    parser.add_argument("--stream-concurrency", type=_levels, default=(1, 16), help="stream levels (default 1,16)")
    parser.add_argument("--chunks", type=int, default=50, help="chunks per stream, finish chunk included (50)")
    parser.add_argument("--chunk-delay", type=float, default=1.0, dest="chunk_delay_ms",
                        help="ms between stream chunks at the upstream (default 1; 0 sends a stream in one write)")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto",
                        help="engine for plain chat runs (auto: wrk if on PATH)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--paths", type=_paths, default=tuple(PATHS),
                        help=f"comma-separated paths to measure, or all (default all: {','.join(PATHS)})")
    args = parser.parse_args(argv)
    if args.chunks < 2:
        parser.error("--chunks must be at least 2")
    if args.loadgen == "wrk" and not wrk_available():
        parser.error("--loadgen wrk: wrk is not on PATH")
    engine = "wrk" if args.loadgen == "wrk" or (args.loadgen == "auto" and wrk_available()) else "python"
    duration, reps = (1.0, 1) if args.quick else (args.duration, args.reps)
    if duration <= 0 or reps < 1:
        parser.error("--duration must be positive and --reps at least 1")
    plan = Plan(duration, reps, args.concurrency, args.stream_concurrency, args.chunks, args.chunk_delay_ms, engine,
                args.output, args.paths)
    return plan, not args.no_pin


# --- processes --------------------------------------------------------------------------------------------


class Children:
    """The processes this script started; `stop_all` ends them (and only them), gently, then surely."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, argv: Sequence[str], *, env: dict[str, str] | None = None, stdout: int | IO[bytes],
              stderr: int | IO[bytes]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                   start_new_session=True, preexec_fn=die_with_parent)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True, slots=True)
class Pinning:
    """CPU placement: the gateway alone on one core, everything else on the other."""

    enabled: bool
    note: str
    gateway_cpu: int = 1
    load_cpu: int = 0

    @classmethod
    def detect(cls, wanted: bool) -> Pinning:
        if not wanted:
            return cls(False, "disabled by --no-pin")
        if shutil.which("taskset") is None:
            return cls(False, "taskset not found; processes not pinned")
        if not {0, 1} <= os.sched_getaffinity(0):
            return cls(False, "CPUs 0 and 1 are not both available; processes not pinned")
        return cls(True, "gateway on CPU 1; load generator and upstream on CPU 0")

    def prefix(self, cpu: int) -> list[str]:
        return ["taskset", "-c", str(cpu)] if self.enabled else []

    def pin_self(self) -> None:
        """This process is the Python load generator (and wrk's parent), so it goes with the upstream."""
        if self.enabled:
            os.sched_setaffinity(0, {self.load_cpu})


def free_port() -> int:
    # Bind-then-close has a small race, acceptable on loopback for a bench: the gateway fails loudly if lost.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:]) or "(empty log)"


def start_upstream(children: Children, pin: Pinning, plan: Plan) -> int:
    """Start the fake upstream and return the port it printed."""
    log = RESULTS / "upstream.log"
    argv = [*pin.prefix(pin.load_cpu), sys.executable, str(BENCH_DIR / "fake_upstream.py"), "--host", LOOPBACK,
            "--port", "0", "--chunks", str(plan.chunks), "--chunk-delay-ms", str(plan.chunk_delay_ms)]
    with log.open("wb") as stderr:
        process = children.start(argv, stdout=subprocess.PIPE, stderr=stderr)
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], STARTUP_TIMEOUT)
    line = process.stdout.readline().decode() if readable else ""
    if not line.startswith("READY "):
        raise BenchError(f"the fake upstream did not start:\n{log_tail(log)}")
    return int(line.split()[1])


def gateway_env(upstream_port: int, store_dir: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(FOREIGN_ENV_PREFIXES)}
    upstream = f"http://{LOOPBACK}:{upstream_port}"
    env.update({
        "OPENAI_API_KEY": UPSTREAM_KEY,
        "OPENAI_BASE_URL": f"{upstream}/v1",
        # All four providers at the one fake upstream, each with its SDK's base URL convention.
        "ANTHROPIC_API_KEY": UPSTREAM_KEY,
        "ANTHROPIC_BASE_URL": upstream,
        "GEMINI_API_KEY": UPSTREAM_KEY,
        "GEMINI_BASE_URL": upstream,
        "MISTRAL_API_KEY": UPSTREAM_KEY,
        "MISTRAL_BASE_URL": f"{upstream}/mistral",  # a prefix: Mistral's chat route is OpenAI's
        # Port 9 (discard) is closed: the always-on Ollama provider fails fast instead of finding a real one.
        "OLLAMA_BASE_URL": f"http://{LOOPBACK}:9",
        "BABELGATE_API_KEYS": GATEWAY_KEY,
        # The Responses API stores every response (as by default, in SQLite), here in a throw-away file.
        "BABELGATE_STORE_URL": f"sqlite:{store_dir}/babelgate.db",
    })
    return env


def gateway_command() -> list[str]:
    script = Path(sys.executable).parent / "babelgate"
    return [str(script)] if script.exists() else [sys.executable, "-m", "babelgate.cli"]


def start_gateway(children: Children, pin: Pinning, upstream_port: int,
                  store_dir: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = [*pin.prefix(pin.gateway_cpu), *gateway_command(), "serve", "--host", LOOPBACK, "--port", str(port),
            "--log-level", "warning"]
    with (RESULTS / "gateway.log").open("wb") as log:
        process = children.start(argv, env=gateway_env(upstream_port, store_dir), stdout=log,
                                 stderr=subprocess.STDOUT)
    wait_healthy(process, port)
    return process, port


def wait_healthy(process: subprocess.Popen[bytes], port: int) -> None:
    """Poll GET /health until the gateway answers at all, or fail with its log."""
    # An empty ProxyHandler: an http_proxy in the environment must not capture loopback requests.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"the gateway exited with code {process.returncode}:\n"
                             f"{log_tail(RESULTS / 'gateway.log')}")
        try:
            with opener.open(f"http://{LOOPBACK}:{port}/health", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.1)
    raise BenchError(f"the gateway did not answer within {STARTUP_TIMEOUT:.0f} s:\n"
                     f"{log_tail(RESULTS / 'gateway.log')}")


# --- /proc ------------------------------------------------------------------------------------------------


def cpu_clock(pid: int) -> CpuClock:
    """CPU seconds (user + system, all threads) the process has used so far, from /proc/PID/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    path = f"/proc/{pid}/stat"

    def read() -> float:
        with open(path, "rb") as stat:
            data = stat.read()
        # Fields after the parenthesised name (which may hold spaces); utime and stime are fields 14 and 15.
        fields = data[data.rindex(b")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    return read


def core_busy_clock(cpu: int) -> Callable[[], float]:
    """Busy seconds of one CPU so far (everything but idle and iowait), from /proc/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    prefix = f"cpu{cpu} ".encode()

    def read() -> float:
        with open("/proc/stat", "rb") as stat:
            line = next(line for line in stat if line.startswith(prefix))
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in line.split()[1:9])
        return (user + nice + system + irq + softirq + steal) / ticks

    return read


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


def memory_kib(pid: int) -> dict[str, int]:
    """VmHWM (peak resident set) and VmRSS from /proc/PID/status, in KiB."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                found[name] = int(value.split()[0])
    return found


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model)
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=False).stdout.strip() or None
    except OSError:
        commit = None
    return {
        "nproc": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
        "kernel": platform.release(), "loadavg_at_start": os.getloadavg(),
        "babelgate_version": metadata.version("babelgate"), "git_commit": commit,
    }


# --- measurement ------------------------------------------------------------------------------------------


def progress(run: RunStats, rep: int, reps: int) -> None:
    cpu = run.cpu_per_request_s
    text = (f"  {run.path:9} {run.kind:6} c={run.concurrency:<3} {rep + 1}/{reps} {run.target:7}: {run.rate:8.1f}/s  "
            f"p50 {_ms(run.p50_s)} ms  p99 {_ms(run.p99_s)} ms")
    if cpu is not None:
        text += f"  gateway CPU {cpu * 1e6:7.1f} µs/{'request' if run.kind == 'chat' else 'stream'}"
    if run.errors:
        text += f"  ERRORS {run.errors}"
    print(text, file=sys.stderr, flush=True)


async def one_run(plan: Plan, target: Target, stream: bool, concurrency: int, cpu: CpuClock | None,
                  pin: Pinning) -> RunStats:
    if not stream and plan.engine == "wrk":
        return await run_wrk(target, concurrency=concurrency, duration=plan.duration, cpu=cpu,
                             pin=pin.prefix(pin.load_cpu))
    return await run_python(target, stream=stream, concurrency=concurrency, duration=plan.duration,
                            chunks=plan.chunks, cpu=cpu)


Pair = tuple[Target, Target]  # (gateway, direct) of one path


async def check_answers(plan: Plan, pairs: dict[str, Pair]) -> None:
    """Every path must answer correctly on both sides before anything is measured."""
    problems: list[str] = []
    for name, (gateway, direct) in pairs.items():
        path = PATHS[name]
        if path.streams:  # the fast path: content equal to the upstream's, and a checked stream
            problems += [*await preflight(gateway, plan.chunks), *await preflight(direct, plan.chunks)]
        else:
            problems += await preflight_chat(gateway, functools.partial(answer_problem, path.gateway))
            problems += await preflight_chat(direct, functools.partial(answer_problem, path.direct))
    if problems:
        raise BenchError("the answers are wrong, nothing measured:\n  " + "\n  ".join(problems)
                         + f"\ngateway log:\n{log_tail(RESULTS / 'gateway.log')}")


async def measure(plan: Plan, pairs: dict[str, Pair], meters: Meters, pin: Pinning) -> list[RunStats]:
    """Check every path answers correctly, warm the gateway up, then alternate gateway and direct runs.

    The order is level, repetition, path, (gateway, direct): the paths are interleaved too, so that slow
    drift of a shared machine hits every path alike."""
    await check_answers(plan, pairs)
    for name, (gateway, _) in pairs.items():
        await run_python(gateway, stream=False, concurrency=16, duration=min(plan.duration, 1.0 if name == "fast"
                                                                             else 0.5), chunks=plan.chunks, cpu=None)
        if PATHS[name].streams:
            await run_python(gateway, stream=True, concurrency=4, duration=min(plan.duration, 0.5),
                             chunks=plan.chunks, cpu=None)
    runs: list[RunStats] = []
    for stream, levels in ((False, plan.concurrency), (True, plan.stream_concurrency)):
        names = [name for name in pairs if PATHS[name].streams or not stream]
        for concurrency in levels:
            for rep in range(plan.reps):
                for name in names:
                    gateway, direct = pairs[name]
                    # Interleaved pairs, so that slow drift of a shared machine hits both sides alike.
                    for target in (gateway, direct):
                        before = meters.snapshot()
                        cpu = meters.gateway_cpu if target is gateway else None
                        run = await one_run(plan, target, stream, concurrency, cpu, pin)
                        run.gateway_core_other_load = meters.other_load(before)
                        progress(run, rep, plan.reps)
                        runs.append(run)
    return runs


# --- summary and report -----------------------------------------------------------------------------------


def _median(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def _ms(seconds: float | None) -> str:
    return f"{seconds * 1e3:7.2f}" if seconds is not None else "      -"


def _side(runs: Sequence[RunStats]) -> dict[str, Any]:
    return {
        "rate": _median([r.rate for r in runs]),
        "p50_s": _median([r.p50_s for r in runs]),
        "p99_s": _median([r.p99_s for r in runs]),
        "ttfc_p50_s": _median([r.ttfc_p50_s for r in runs]),
        "cpu_per_request_s": _median([r.cpu_per_request_s for r in runs]),
        "requests": sum(r.requests for r in runs),
        "errors": sum(r.errors for r in runs),
    }


def _added(pairs: Sequence[tuple[RunStats, RunStats]], attribute: str) -> float | None:
    """Median over the interleaved pairs of (gateway - direct), which cancels drift better than medians apart."""
    differences = []
    for gateway, direct in pairs:
        mine, theirs = getattr(gateway, attribute), getattr(direct, attribute)
        if mine is not None and theirs is not None:
            differences.append(mine - theirs)
    return _median(differences)


def summarize(runs: Sequence[RunStats]) -> list[dict[str, Any]]:
    rows = []
    keys = list(dict.fromkeys((run.path, run.kind, run.concurrency) for run in runs))
    keys.sort(key=lambda key: list(PATHS).index(key[0]))  # stable: by path, then in the order measured
    for path, kind, concurrency in keys:
        group = [run for run in runs if (run.path, run.kind, run.concurrency) == (path, kind, concurrency)]
        gateway = [run for run in group if run.target == "gateway"]
        direct = [run for run in group if run.target == "direct"]
        pairs = list(zip(gateway, direct, strict=False))
        rows.append({
            "path": path, "kind": kind, "concurrency": concurrency, "gateway": _side(gateway), "direct": _side(direct),
            "added_p50_s": _added(pairs, "p50_s"), "added_ttfc_p50_s": _added(pairs, "ttfc_p50_s"),
        })
    return rows


def _us(seconds: float | None) -> str:
    return f"{seconds * 1e6:8.1f}" if seconds is not None else "       -"


def _rate(value: float | None) -> str:
    return f"{value:8.1f}" if value is not None else "       -"


def chat_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = ["conc | gateway req/s  p50 ms  p99 ms  CPU µs/req | direct req/s  p50 ms  p99 ms | added p50 ms | errors",
             "-----+--------------------------------------------+------------------------------+--------------+-------"]
    for row in rows:
        gw, di = row["gateway"], row["direct"]
        lines.append(
            f"{row['concurrency']:4} | {_rate(gw['rate']):>13} {_ms(gw['p50_s'])} {_ms(gw['p99_s'])} "
            f"{_us(gw['cpu_per_request_s']):>11} | {_rate(di['rate']):>12} {_ms(di['p50_s'])} {_ms(di['p99_s'])} | "
            f"{_ms(row['added_p50_s']):>12} | {gw['errors'] + di['errors']:6}")
    return lines


def stream_table(rows: Sequence[dict[str, Any]], chunks: int) -> list[str]:
    lines = ["conc | gateway str/s  TTFC p50  total p50  CPU µs/stream  µs/chunk | direct str/s  TTFC p50  total p50 "
             "| added TTFC  added total | bad",
             "-----+-----------------------------------------------------------+-----------------------------------"
             "+-------------------------+----"]
    for row in rows:
        gw, di = row["gateway"], row["direct"]
        cpu = gw["cpu_per_request_s"]
        lines.append(
            f"{row['concurrency']:4} | {_rate(gw['rate']):>13} {_ms(gw['ttfc_p50_s']):>9} {_ms(gw['p50_s']):>10} "
            f"{_us(cpu):>14} {_us(cpu / chunks if cpu is not None else None):>9} | {_rate(di['rate']):>12} "
            f"{_ms(di['ttfc_p50_s']):>9} {_ms(di['p50_s']):>10} | {_ms(row['added_ttfc_p50_s']):>10} "
            f"{_ms(row['added_p50_s']):>12} | {gw['errors'] + di['errors']:3}")
    return lines


def overview_table(plan: Plan, rows: Sequence[dict[str, Any]]) -> list[str]:
    """Gateway CPU per request and p50, every path side by side (non-streaming)."""
    levels = plan.concurrency
    head = "path      | " + " ".join(f"CPU µs/req c={c:<3}" for c in levels) + " | " + " ".join(
        f"p50 ms c={c:<3}" for c in levels).rstrip()
    lines = ["Gateway CPU per request and latency by path (non-streaming)", head, "-" * len(head)]
    for name in plan.paths:
        by_level = {row["concurrency"]: row["gateway"] for row in rows
                    if row["path"] == name and row["kind"] == "chat"}
        cpu = " ".join(f"{_us(by_level[c]['cpu_per_request_s'] if c in by_level else None):>16}" for c in levels)
        p50 = " ".join(f"{_ms(by_level[c]['p50_s'] if c in by_level else None):>12}" for c in levels)
        lines.append(f"{name:9} | {cpu} | {p50}")
    return lines


def verdict(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The issue's bar, where the runs cover it: CPU per request at c=16, added p50 at c=1."""
    by_level = {row["concurrency"]: row for row in rows if row["kind"] == "chat" and row["path"] == "fast"}
    result: dict[str, Any] = {}
    if 16 in by_level and by_level[16]["gateway"]["cpu_per_request_s"] is not None:
        value = by_level[16]["gateway"]["cpu_per_request_s"] * 1e6
        result["cpu_us_per_request_c16"] = {"value": value, "limit": BAR_CPU_US_AT_16,
                                            "met": value <= BAR_CPU_US_AT_16}
    if 1 in by_level and by_level[1]["added_p50_s"] is not None:
        value = by_level[1]["added_p50_s"] * 1e3
        result["added_p50_ms_c1"] = {"value": value, "limit": BAR_ADDED_P50_MS_AT_1,
                                     "met": value <= BAR_ADDED_P50_MS_AT_1}
    return result


def report(plan: Plan, rows: Sequence[dict[str, Any]], runs: Sequence[RunStats], memory: dict[str, int],
           bar: dict[str, Any], pin: Pinning) -> str:
    out = [f"babelgate bench — median of {plan.reps} interleaved gateway/direct pair(s), {plan.duration:g} s each; "
           f"chat load by {plan.engine}, streams by python; {pin.note}", ""]
    for name in plan.paths:
        path = PATHS[name]
        chat = [row for row in rows if row["kind"] == "chat" and row["path"] == name]
        streams = [row for row in rows if row["kind"] == "stream" and row["path"] == name]
        if chat:
            heading = "Chat completions (non-streaming)" if name == "fast" else "non-streaming"
            out += [f"[{name}] {path.title} — {heading}", *chat_table(chat), ""]
        if streams:
            out += [f"[{name}] Streams ({plan.chunks} chunks, {plan.chunk_delay_ms:g} ms apart at the upstream; "
                    "every chunk checked)", *stream_table(streams, plan.chunks), ""]
    if len(plan.paths) > 1:
        out += [*overview_table(plan, rows), ""]
    if memory:
        out.append(f"Gateway memory: peak RSS (VmHWM) {memory.get('VmHWM', 0) / 1024:.1f} MiB, "
                   f"RSS at the end {memory.get('VmRSS', 0) / 1024:.1f} MiB")
    names = {"cpu_us_per_request_c16": ("gateway CPU per request at c=16", "µs"),
             "added_p50_ms_c1": ("added p50 latency at c=1", "ms")}
    for key, check in bar.items():
        label, unit = names[key]
        out.append(f"Bar: {label}: {check['value']:.3g} {unit} (limit {check['limit']:g} {unit}) → "
                   f"{'MET' if check['met'] else 'NOT MET'}")
    noise = [run.gateway_core_other_load for run in runs
             if run.target == "gateway" and run.gateway_core_other_load is not None]
    if noise:
        out.append(f"Noise: other processes used CPU {pin.gateway_cpu} for {statistics.median(noise):.0%} (median) "
                   f"and up to {max(noise):.0%} of the time during the gateway runs")
    failures = [run for run in runs if run.errors]
    for run in failures[:5]:
        out.append(f"errors in {run.path} {run.kind} c={run.concurrency} {run.target}: {run.errors}; "
                   + "; ".join(run.error_samples[:2]))
    return "\n".join(out)


def write_json(plan: Plan, pin: Pinning, info: dict[str, Any], runs: Sequence[RunStats],
               rows: Sequence[dict[str, Any]], memory: dict[str, int], bar: dict[str, Any], wall: float) -> None:
    plan.output.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "started_at": info.pop("started_at"), "wall_s": wall, "machine": info,
        "plan": {"duration_s": plan.duration, "reps": plan.reps, "concurrency": plan.concurrency,
                 "stream_concurrency": plan.stream_concurrency, "chunks": plan.chunks,
                 "chunk_delay_ms": plan.chunk_delay_ms, "chat_engine": plan.engine, "stream_engine": "python",
                 "paths": plan.paths},
        "pinning": {"enabled": pin.enabled, "note": pin.note},
        # `summary` is the fast path's, as before; `paths` has one section per measured path.
        "summary": [row for row in rows if row["path"] == "fast"],
        "paths": {name: {"title": PATHS[name].title, "gateway_route": PATHS[name].gateway.route,
                         "direct_route": PATHS[name].direct.route,
                         "summary": [row for row in rows if row["path"] == name]} for name in plan.paths},
        "gateway_memory_kib": memory, "bar": bar,
        "runs": [run.as_dict() for run in runs],
    }
    plan.output.write_text(json.dumps(document, indent=2) + "\n")


# --- main -------------------------------------------------------------------------------------------------


def run_loop(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on uvloop when installed (it is, with the gateway), so the client costs less."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(factory())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(factory())


def targets(path: BenchPath, gateway_port: int, upstream_port: int) -> Pair:
    gateway = Target("gateway", f"http://{LOOPBACK}:{gateway_port}{path.gateway.route}", GATEWAY_KEY, path.name,
                     path.gateway.body, path.gateway.expect)
    direct = Target("direct", f"http://{LOOPBACK}:{upstream_port}{path.direct.route}", UPSTREAM_KEY, path.name,
                    path.direct.body, path.direct.expect)
    return gateway, direct


def bench(plan: Plan, pin_wanted: bool, children: Children, store_dir: str) -> int:
    started = time.monotonic()
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = {**machine(), "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    pin = Pinning.detect(pin_wanted)
    print(f"bench: {pin.note}; chat load by {plan.engine}", file=sys.stderr, flush=True)
    upstream_port = start_upstream(children, pin, plan)
    gateway_process, gateway_port = start_gateway(children, pin, upstream_port, store_dir)
    pin.pin_self()
    pairs = {name: targets(PATHS[name], gateway_port, upstream_port) for name in plan.paths}
    meters = Meters(cpu_clock(gateway_process.pid), core_busy_clock(pin.gateway_cpu) if pin.enabled else None)
    runs = run_loop(lambda: measure(plan, pairs, meters, pin))
    if gateway_process.poll() is not None:
        raise BenchError(f"the gateway died during the run:\n{log_tail(RESULTS / 'gateway.log')}")
    memory = memory_kib(gateway_process.pid)
    rows = summarize(runs)
    bar = verdict(rows)
    print(report(plan, rows, runs, memory, bar, pin))
    write_json(plan, pin, info, runs, rows, memory, bar, time.monotonic() - started)
    print(f"\nwrote {plan.output} ({time.monotonic() - started:.0f} s)")
    return 1 if any(run.errors for run in runs) else 0


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
