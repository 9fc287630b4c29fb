"""The soak: mixed traffic through one gateway worker for a long while, with faults injected, to show
that nothing grows, nothing is lost and every failure is answered as one.

Traffic: every frontend (Chat Completions, Responses, Anthropic Messages, Ollama chat, legacy
completions), streamed and not, to the four providers' fakes (bench/fake_upstream.py), `--fault-rate`
of it to models that make the fake misbehave (an error status, a body that is not JSON, a reset
connection, a truncated stream, no answer at all). Every `--window` seconds it prints the requests
served, errors by cause, p50/p99 latency, and the gateway's RSS and open descriptors; at the end the
trend of both (least squares over the second half), and the usage ledger's rows against the requests
sent, read from the store after a SIGTERM (which flushes it).

A fault must come back as an error the client can see (a 4xx/5xx in the frontend's format, or a
stream's error event): an answer that looks complete after a fault is counted as `fault_hidden`.

Run: `python bench/soak.py --duration 600 --concurrency 32` (loopback only; writes bench/results/soak.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp

from paths import PATHS, SYSTEM, USER
from processes import GATEWAY_KEY, LOOPBACK, RESULTS, Children, Pinning, start_gateway, start_upstream
from procfs import memory_kib

FAULTS: Final = ("500", "garbage", "reset", "truncated", "stall")
PROVIDERS: Final = ("openai", "anthropic", "gemini", "mistral")
UPSTREAM_TIMEOUT: Final = "2"  # seconds: how long a stalled upstream is waited for


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of request in the mix."""

    name: str
    route: str
    body: dict[str, Any]
    stream: bool
    provider: str  # whose fake answers (for the fault's model name)
    end: bytes  # what a complete answer carries (a stream's last event, or a whole body's marker)


def _mix() -> list[Kind]:
    kinds = []
    for name in ("fast", "anthropic", "gemini", "mistral", "responses", "messages"):
        side = PATHS[name].gateway
        provider = name if name in PROVIDERS else "openai"
        plain = json.loads(side.body)
        streamed = json.loads(side.stream_body)
        done = {"responses": b"response.completed", "messages": b"message_stop"}.get(name, b"[DONE]")
        whole = {"responses": b'"status":"completed"', "messages": b'"stop_reason":"end_turn"'}.get(
            name, b'"finish_reason":"stop"'
        )
        kinds += [
            Kind(name, side.route, plain, False, provider, whole),
            Kind(name + "+stream", side.route, streamed, True, provider, done),
        ]
    chat = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
    kinds += [
        Kind(
            "ollama",
            "/api/chat",
            {"model": "gpt-4o-mini", "messages": chat, "stream": False},
            False,
            "openai",
            b'"done":true',
        ),
        Kind("ollama+stream", "/api/chat", {"model": "gpt-4o-mini", "messages": chat}, True, "openai", b'"done":true'),
        Kind(
            "completions",
            "/v1/completions",
            {"model": "anthropic/claude-sonnet-4-5", "prompt": USER, "max_tokens": 64},
            False,
            "anthropic",
            b'"finish_reason":"stop"',
        ),
    ]
    return kinds


@dataclass
class Window:
    started: float
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass
class Soak:
    gateway: str
    kinds: list[Kind]
    fault_rate: float
    window: Window
    sent: int = 0
    totals: Counter[str] = field(default_factory=Counter)

    def pick(self, rng: random.Random) -> tuple[Kind, dict[str, Any], str | None]:
        kind = rng.choice(self.kinds)
        if rng.random() >= self.fault_rate:
            return kind, kind.body, None
        fault = rng.choice(FAULTS if kind.stream else tuple(f for f in FAULTS if f != "truncated"))
        return kind, {**kind.body, "model": f"{kind.provider}/fault-{fault}"}, fault

    async def one(self, session: aiohttp.ClientSession, rng: random.Random) -> None:
        kind, body, fault = self.pick(rng)
        started = time.perf_counter()
        self.sent += 1
        try:
            async with session.post(self.gateway + kind.route, json=body) as answer:
                data = await answer.read()
                status = answer.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            outcome = f"client_{type(exc).__name__}" + (f"_after_fault_{fault}" if fault else "")
        else:
            outcome = _judge(kind, fault, status, data)
        elapsed = time.perf_counter() - started
        window = self.window
        window.outcomes[outcome] += 1
        self.totals[outcome] += 1
        if outcome == "ok":
            window.latencies.append(elapsed)


def _judge(kind: Kind, fault: str | None, status: int, data: bytes) -> str:
    if fault is None:
        if status == 200 and kind.end in data and b'"error"' not in data[-400:]:
            return "ok"
        return f"error_{status}"
    if status >= 400 and (b'"error"' in data):
        return f"fault_answered_{status}"
    # A stream that had begun ends with the frontend's error event (Responses: `error`, then `response.failed`).
    if status == 200 and kind.stream and (b"event: error" in data or b'"error"' in data[-600:]):
        return "fault_answered_in_stream"
    if status == 200 and kind.end in data:
        return "fault_hidden"  # a complete-looking answer after a fault: the one thing that must not happen
    return f"fault_other_{status}_{fault}_{kind.name}"


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope (units per minute) of (seconds, value) points."""
    if len(points) < 2:
        return 0.0
    xs = [x / 60 for x, _ in points]
    ys = [y for _, y in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def drive(soak: Soak, pid: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    timeout = aiohttp.ClientTimeout(total=30)
    headers = {"Authorization": f"Bearer {GATEWAY_KEY}"}
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    rows: list[dict[str, Any]] = []
    began = time.monotonic()
    deadline = began + args.duration
    async with aiohttp.ClientSession(timeout=timeout, headers=headers, connector=connector) as session:

        async def worker(seed: int) -> None:
            rng = random.Random(seed)
            while time.monotonic() < deadline:
                await soak.one(session, rng)

        async def reporter() -> None:
            print(f"{'t':>5} {'req/s':>7} {'ok':>7} {'p50 ms':>7} {'p99 ms':>7} {'RSS MiB':>8} {'fds':>5}  outcomes")
            while time.monotonic() < deadline:
                await asyncio.sleep(args.window)
                window, soak.window = soak.window, Window(time.monotonic())
                span = time.monotonic() - window.started
                requests = sum(window.outcomes.values())
                rss = memory_kib(pid)["VmRSS"] / 1024
                row = {
                    "t": round(time.monotonic() - began),
                    "requests": requests,
                    "rate": requests / span,
                    "ok": window.outcomes["ok"],
                    "p50_ms": _percentile(window.latencies, 0.5) * 1000,
                    "p99_ms": _percentile(window.latencies, 0.99) * 1000,
                    "rss_mib": rss,
                    "fds": _fds(pid),
                    "outcomes": dict(window.outcomes),
                }
                rows.append(row)
                others = {k: v for k, v in window.outcomes.items() if k != "ok"}
                print(
                    f"{row['t']:>5} {row['rate']:>7.1f} {row['ok']:>7} {row['p50_ms']:>7.1f} {row['p99_ms']:>7.1f} "
                    f"{rss:>8.1f} {row['fds']:>5}  {others}",
                    flush=True,
                )

        await asyncio.gather(reporter(), *(worker(seed) for seed in range(args.concurrency)))
    return rows


def ledger_rows(store: str) -> int:
    with sqlite3.connect(f"{store}/babelgate.db") as connection:
        return int(connection.execute("SELECT count(*) FROM babelgate_ledger").fetchone()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of traffic (default 600)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests at once")
    parser.add_argument("--fault-rate", type=float, default=0.05, help="share of requests given a fault")
    parser.add_argument("--window", type=float, default=30, help="seconds per report line")
    parser.add_argument("--chunks", type=int, default=20, help="events per stream")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    children = Children()
    pin = Pinning.detect(True)
    store = tempfile.mkdtemp(prefix="babelgate-soak-")
    try:
        upstream = start_upstream(children, pin, args.chunks, 0)
        process, port = start_gateway(
            children,
            pin,
            upstream,
            store,
            log_name="soak-gateway.log",
            env={"BABELGATE_UPSTREAM_TIMEOUT": UPSTREAM_TIMEOUT},
        )
        pin.pin_self()
        soak = Soak(f"http://{LOOPBACK}:{port}", _mix(), args.fault_rate, Window(time.monotonic()))
        print(
            f"soak: {args.duration:.0f} s, {args.concurrency} at once, {args.fault_rate:.0%} faults, "
            f"{len(soak.kinds)} kinds of request; gateway pid {process.pid}; {pin.note}"
        )
        rows = asyncio.run(drive(soak, process.pid, args))
        process.send_signal(signal.SIGTERM)  # flushes the ledger
        process.wait(30)
        ledger = ledger_rows(store)
    finally:
        children.stop_all()
    half = rows[len(rows) // 2 :]
    rss_slope = _slope([(row["t"], row["rss_mib"]) for row in half])
    fd_slope = _slope([(row["t"], row["fds"]) for row in half])
    served = sum(soak.totals.values())
    summary = {
        "duration_s": args.duration,
        "concurrency": args.concurrency,
        "fault_rate": args.fault_rate,
        "requests": served,
        "rate": served / args.duration,
        "outcomes": dict(soak.totals),
        "rss_mib_first": rows[0]["rss_mib"] if rows else None,
        "rss_mib_last": rows[-1]["rss_mib"] if rows else None,
        "rss_slope_mib_per_min": rss_slope,
        "fds_slope_per_min": fd_slope,
        "ledger_rows": ledger,
        "windows": rows,
    }
    (RESULTS / "soak.json").write_text(json.dumps(summary, indent=1))
    print(f"\nrequests {served} ({served / args.duration:.1f}/s); outcomes {dict(soak.totals)}")
    print(
        f"RSS {summary['rss_mib_first']:.1f} → {summary['rss_mib_last']:.1f} MiB; second-half trend "
        f"{rss_slope:+.3f} MiB/min; descriptors {fd_slope:+.3f}/min"
    )
    print(f"ledger rows {ledger} for {served} requests sent")
    problems = [f"{soak.totals['fault_hidden']} faults hidden"] if soak.totals["fault_hidden"] else []
    if ledger != served:
        problems.append(f"ledger rows {ledger} != requests {served}")
    if any(key.startswith("error_") or key.startswith("client_") for key in soak.totals):
        problems.append("errors on requests without a fault")
    print("PROBLEMS: " + "; ".join(problems) if problems else "no problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
