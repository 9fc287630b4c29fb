"""Many long streams through one gateway worker: concurrency, not request rate, is what fills a gateway
that serves LLM streams (they last seconds to minutes).

It opens `--streams` streams through one worker (the fast path, to the fake upstream dripping one
chunk per `--chunk-delay-ms`), holds them all open, and meanwhile measures:
- the gateway's memory per open stream: (RSS with all open - RSS before) / streams;
- the time to first token of new streams arriving meanwhile, through the gateway and directly to the
  fake upstream, one at a time, so the difference is what the gateway adds while it holds the rest;
- every stream checked event by event to its end (bench/streams.py); any problem is an error.

Run: `python bench/many_streams.py --streams 5000 --chunks 40 --chunk-delay-ms 1000`
(writes bench/results/many_streams.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import tempfile
import time
from typing import Any

from loadgen import request_body
from processes import GATEWAY_KEY, LOOPBACK, RESULTS, Children, Pinning, start_gateway, start_upstream
from procfs import memory_kib, process_cpu_seconds
from stream_client import StreamClient, StreamRequest, StreamResult
from streams import stream_check


def _headers(gateway: bool) -> dict[str, str]:
    return (
        {"Authorization": f"Bearer {GATEWAY_KEY}", "Content-Type": "application/json"}
        if gateway
        else {"Content-Type": "application/json"}
    )


async def _probe(request: StreamRequest, chunks: int) -> tuple[StreamResult, float]:
    """A new stream on a new connection, its connect timed too: the gateway's time to first token
    includes its own connect to the upstream, so the direct call's includes one as well."""
    client = StreamClient(request)
    try:
        began = time.perf_counter()
        connection = await client.connect()
        connected = time.perf_counter() - began
        return await connection.stream(request.raw, stream_check("chat", chunks)), connected
    finally:
        client.close()


async def _probes(gateway: str, upstream: str, count: int, rate: float, chunks: int) -> dict[str, Any]:
    """New streams, one through the gateway and one direct every 1/rate s; their times to first token."""
    body = request_body(True)
    sides = {
        "gateway": StreamRequest.post(gateway + "/v1/chat/completions", _headers(True), body),
        "direct": StreamRequest.post(upstream + "/v1/chat/completions", _headers(False), body),
    }
    tasks: list[tuple[str, asyncio.Task[tuple[StreamResult, float]]]] = []
    for _ in range(count):
        tasks += [(side, asyncio.create_task(_probe(request, chunks))) for side, request in sides.items()]
        await asyncio.sleep(1 / rate)
    times: dict[str, Any] = {"gateway": [], "direct": [], "paired": [], "problems": []}
    pair: dict[str, float] = {}
    for side, task in tasks:
        result, connected = await task
        if result.problem is not None or result.first_token_s is None:
            times["problems"].append(result.problem or "no first token")
        else:
            times[side].append(connected + result.first_token_s)
            pair[side] = connected + result.first_token_s
        if side == "direct":
            if len(pair) == 2:  # the two sides of one moment: what the machine did to both cancels out
                times["paired"].append(pair["gateway"] - pair["direct"])
            pair = {}
    return times


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


async def run(
    args: argparse.Namespace, gateway_pid: int, upstream_pid: int, gateway: str, upstream: str
) -> dict[str, Any]:
    through = StreamRequest.post(gateway + "/v1/chat/completions", _headers(True), request_body(True))

    async def one(request: StreamRequest) -> StreamResult:
        client = StreamClient(request)
        try:
            return await client.stream(stream_check("chat", args.chunks))
        finally:
            client.close()

    # Warm-up: a few streams, so the baseline includes what the first requests allocate once.
    await asyncio.gather(*(one(through) for _ in range(20)))
    await asyncio.sleep(1)
    baseline = memory_kib(gateway_pid)["VmRSS"]
    started = time.monotonic()
    held: list[asyncio.Task[StreamResult]] = []
    next_at = started
    for _ in range(args.streams):
        # Opened one at a time at random moments, as independent clients arrive (a Poisson process of
        # --ramp a second). Streams opened together would send their chunks together for as long as
        # they last: a burst every --chunk-delay-ms that no population of independent clients makes
        # (this bench used to open them 50 at a time).
        held.append(asyncio.create_task(one(through)))
        next_at += random.expovariate(args.ramp)
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    opened = time.monotonic() - started
    await asyncio.sleep(2)  # every stream has its first chunk and waits for the next
    loaded = memory_kib(gateway_pid)["VmRSS"]
    per_stream = (loaded - baseline) * 1024 / args.streams
    print(
        f"{args.streams} streams open after {opened:.1f} s; RSS {baseline / 1024:.1f} → {loaded / 1024:.1f} MiB: "
        f"{per_stream / 1024:.1f} KiB per open stream",
        flush=True,
    )
    # New streams while the others are held: one through the gateway and one direct, every 1/--probe-rate s.
    # How busy each side is while the probes run: the gateway's core, and the other one (this client,
    # reading every chunk of every stream, and the fake upstream writing them).
    cpu_before = {pid: process_cpu_seconds(pid) for pid in (gateway_pid, upstream_pid, os.getpid())}
    probing = time.monotonic()
    # The probes run in a process of their own: this one is busy reading every chunk of every held
    # stream, and would delay the probes' first tokens (both sides alike, but the gateway's has more hops).
    prober = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--probe-only",
        gateway,
        upstream,
        "--probes",
        str(args.probes),
        "--probe-rate",
        str(args.probe_rate),
        "--chunks",
        str(args.chunks),
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await prober.communicate()
    times = json.loads(output)
    still_open = sum(not task.done() for task in held)
    span = time.monotonic() - probing
    busy = {pid: (process_cpu_seconds(pid) - before) / span for pid, before in cpu_before.items()}
    results = await asyncio.gather(*held)
    problems = [result.problem for result in results if result.problem is not None]
    probes_gateway: list[float] = times["gateway"]
    probes_direct: list[float] = times["direct"]
    problems += times["problems"]
    print(
        "slowest probes (ms): gateway",
        [round(v * 1000, 1) for v in sorted(probes_gateway)[-5:]],
        "direct",
        [round(v * 1000, 1) for v in sorted(probes_direct)[-5:]],
    )
    gateway_p99 = _percentile(probes_gateway, 0.99)
    direct_p99 = _percentile(probes_direct, 0.99)
    summary = {
        "streams": args.streams,
        "chunks": args.chunks,
        "chunk_delay_ms": args.chunk_delay_ms,
        "seconds_to_open": opened,
        "rss_before_mib": baseline / 1024,
        "rss_open_mib": loaded / 1024,
        "kib_per_open_stream": per_stream / 1024,
        "probes": len(probes_gateway),
        "held_open_through_the_probes": still_open == args.streams,
        "ttft_gateway_p50_ms": _percentile(probes_gateway, 0.5) * 1000,
        "ttft_gateway_p99_ms": gateway_p99 * 1000,
        "ttft_direct_p50_ms": _percentile(probes_direct, 0.5) * 1000,
        "ttft_direct_p99_ms": direct_p99 * 1000,
        "added_ttft_p50_ms": (_percentile(probes_gateway, 0.5) - _percentile(probes_direct, 0.5)) * 1000,
        "added_ttft_p99_ms": (gateway_p99 - direct_p99) * 1000,
        # Each probe through the gateway minus the direct one started with it: noise both met cancels out.
        "added_ttft_paired_p50_ms": _percentile(times["paired"], 0.5) * 1000,
        "added_ttft_paired_p99_ms": _percentile(times["paired"], 0.99) * 1000,
        "gateway_cpu_share": busy[gateway_pid],
        "load_side_cpu_share": busy[upstream_pid] + busy[os.getpid()],
        "errors": len(problems),
        "first_errors": problems[:5],
    }
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--streams", type=int, default=5000)
    parser.add_argument("--chunks", type=int, default=40, help="events per stream (one per --chunk-delay-ms)")
    parser.add_argument("--chunk-delay-ms", type=float, default=1000)
    parser.add_argument("--ramp", type=float, default=500, help="new streams per second while opening")
    parser.add_argument("--probes", type=int, default=200, help="new streams timed while the others are open")
    parser.add_argument("--probe-rate", type=float, default=10, help="probes per second")
    parser.add_argument("--probe-only", nargs=2, metavar=("GATEWAY", "UPSTREAM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe_only:
        times = asyncio.run(_probes(*args.probe_only, args.probes, args.probe_rate, args.chunks))
        print(json.dumps(times))
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * args.streams + 1000
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, needed), hard))  # inherited by the children
    RESULTS.mkdir(exist_ok=True)
    children = Children()
    pin = Pinning.detect(True)
    try:
        upstream_port = start_upstream(children, pin, args.chunks, args.chunk_delay_ms)
        process, port = start_gateway(
            children,
            pin,
            upstream_port,
            tempfile.mkdtemp(prefix="babelgate-streams-"),
            log_name="many-streams-gateway.log",
        )
        pin.pin_self()
        upstream_pid = next(child.pid for child in children.processes if child is not process)
        summary = asyncio.run(
            run(args, process.pid, upstream_pid, f"http://{LOOPBACK}:{port}", f"http://{LOOPBACK}:{upstream_port}")
        )
    finally:
        children.stop_all()
    (RESULTS / "many_streams.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "first_errors"}, indent=1))
    if summary["first_errors"]:
        print("first errors:", summary["first_errors"])
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
