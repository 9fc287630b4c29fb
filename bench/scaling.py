"""Cold start and multi-worker scaling of the gateway.

Cold start: from the exec of `babelgate serve` to the first successful chat completion through it (the
client retries every few milliseconds while the port is closed), for a few fresh starts.

Scaling: `babelgate serve --workers N` is uvicorn's supervisor with N worker processes sharing one
listening socket, each worker pinned to a core of its own as a deployment runs them: the first on the
gateway's core, the second on the other one, which it shares with the load generator and the fake
upstream. On two cores the raw throughput of N workers cannot show N times one worker's, since the
load generator and the upstream need CPU too. What can be measured is each worker's CPU time and the
share of the requests it served: every fast-path request makes a worker write the same bytes (the
upstream request and the answer), so a worker's share of the bytes written (`wchar` in /proc/PID/io)
is its share of the requests. From these, each worker's CPU per request, and the capacity of N workers
with a core each relative to one worker:

- balanced: the sum over the workers of 1 / (CPU per request), over 1 / (one worker's CPU per request);
- at the observed balance: the load at which the busiest worker saturates its core,
  min over workers of 1 / (CPU per request * share), over the same.
"""

from __future__ import annotations

import http.client
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from loadgen import CHAT_OK, RunStats, Target, request_body
from processes import (
    GATEWAY_KEY,
    LOOPBACK,
    RESULTS,
    STARTUP_TIMEOUT,
    BenchError,
    Children,
    Pinning,
    free_port,
    gateway_argv,
    gateway_env,
    log_tail,
    start_gateway,
)
from procfs import Counters, memory_kib, process_cpu_seconds, uvicorn_workers

RETRY_PAUSE: Final = 0.002  # between attempts while the gateway is not yet listening


# --- cold start -------------------------------------------------------------------------------------------


def first_chat(process: subprocess.Popen[bytes], port: int, started: float) -> float:
    """Seconds from `started` until a chat completion through the gateway at `port` succeeds."""
    body = request_body(False)
    headers = {"Authorization": f"Bearer {GATEWAY_KEY}", "Content-Type": "application/json"}
    deadline = started + STARTUP_TIMEOUT
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise BenchError(
                f"a cold-started gateway exited with code {process.returncode}:\n{log_tail(RESULTS / 'coldstart.log')}"
            )
        connection = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
        try:
            connection.request("POST", "/v1/chat/completions", body, headers)
            response = connection.getresponse()
            data = response.read()
        except OSError:  # not listening yet
            time.sleep(RETRY_PAUSE)
            continue
        finally:
            connection.close()
        if response.status == 200 and all(marker in data for marker in CHAT_OK):
            return time.perf_counter() - started
        # A listening gateway that answers wrongly will not get better by waiting.
        raise BenchError(f"a cold-started gateway answered HTTP {response.status}: {data[:300]!r}")
    raise BenchError(
        f"a cold-started gateway did not answer within {STARTUP_TIMEOUT:.0f} s:\n{log_tail(RESULTS / 'coldstart.log')}"
    )


def cold_starts(children: Children, pin: Pinning, upstream_port: int, store_dir: str, count: int) -> list[float]:
    """`count` fresh gateways, one after the other, each stopped once it served its first request."""
    times = []
    for _ in range(count):
        port = free_port()
        with (RESULTS / "coldstart.log").open("wb") as log:
            started = time.perf_counter()
            process = children.start(
                gateway_argv(pin, port), env=gateway_env(upstream_port, store_dir), stdout=log, stderr=subprocess.STDOUT
            )
        try:
            times.append(first_chat(process, port, started))
        finally:
            children.stop(process)
    return times


# --- workers ----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class WorkerShare:
    """One worker process over one run."""

    pid: int
    cpu_s: float
    written: int
    share: float = 0.0  # of the run's requests, from the bytes written
    requests: float = 0.0

    @property
    def cpu_per_request_s(self) -> float | None:
        return self.cpu_s / self.requests if self.requests else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "cpu_s": self.cpu_s,
            "bytes_written": self.written,
            "share": self.share,
            "requests": self.requests,
            "cpu_per_request_s": self.cpu_per_request_s,
        }


@dataclass(slots=True)
class ScalingRun:
    """One run against the N-worker gateway: the client's view and each worker's."""

    stats: RunStats
    workers: list[WorkerShare] = field(default_factory=list)
    supervisor_cpu_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.stats.as_dict(),
            "workers": [worker.as_dict() for worker in self.workers],
            "supervisor_cpu_s": self.supervisor_cpu_s,
        }


RunOnce = Callable[[Target, int], Awaitable[RunStats]]  # (target, concurrency) → a measured chat run


@dataclass(frozen=True, slots=True)
class MultiWorkerGateway:
    process: subprocess.Popen[bytes]  # the supervisor
    workers: list[int]
    target: Target

    @property
    def supervisor(self) -> int:
        return self.process.pid

    async def measure(self, run_once: RunOnce, concurrency: int) -> ScalingRun:
        before = {pid: Counters.read(pid) for pid in self.workers}
        supervisor_before = process_cpu_seconds(self.supervisor)
        stats = await run_once(self.target, concurrency)
        after = {pid: Counters.read(pid) for pid in self.workers}
        shares = [
            WorkerShare(pid, after[pid].cpu_s - before[pid].cpu_s, after[pid].written - before[pid].written)
            for pid in self.workers
        ]
        written = sum(worker.written for worker in shares)
        for worker in shares:
            worker.share = worker.written / written if written else 0.0
            worker.requests = worker.share * stats.requests
        # The run's gateway CPU is every worker's: CPU per request over all of them, as for one worker.
        stats.gateway_cpu_s = sum(worker.cpu_s for worker in shares)
        return ScalingRun(stats, shares, process_cpu_seconds(self.supervisor) - supervisor_before)

    def memory(self) -> dict[str, dict[str, int]]:
        return {f"worker {pid}": memory_kib(pid) for pid in self.workers} | {"supervisor": memory_kib(self.supervisor)}


def start_multi_worker(
    children: Children, pin: Pinning, upstream_port: int, store_dir: str, workers: int, fast: Target
) -> MultiWorkerGateway:
    """`babelgate serve --workers N`, started on the gateway's core; then each worker goes to a core of
    its own (Pinning.spread). Two workers on one core would pay each other's context switches and cold
    caches: measured here, 110-125 µs per request each against 68-80 µs for one worker alone, which
    no deployment with a core per worker pays."""
    process, port = start_gateway(
        children, pin, upstream_port, store_dir, workers=workers, log_name="gateway-workers.log"
    )
    pids = uvicorn_workers(process.pid, workers)
    if len(pids) != workers:
        raise BenchError(
            f"`serve --workers {workers}` runs {len(pids)} worker processes:\n"
            f"{log_tail(RESULTS / 'gateway-workers.log')}"
        )
    pin.spread(pids)
    target = Target(
        "gateway", f"http://{LOOPBACK}:{port}/v1/chat/completions", GATEWAY_KEY, "fast", fast.body, fast.expect
    )
    return MultiWorkerGateway(process, pids, target)


def capacity(single_cpu_per_request: float | None, workers: list[WorkerShare]) -> tuple[float, float] | None:
    """(balanced, at the observed balance) capacity of these workers, each on its own core, relative to one
    worker whose CPU per request is `single_cpu_per_request`."""
    costs = [(worker.cpu_per_request_s, worker.share) for worker in workers]
    if not single_cpu_per_request or any(cost is None or cost <= 0 or share <= 0 for cost, share in costs):
        return None
    single = 1 / single_cpu_per_request
    balanced = sum(1 / cost for cost, _ in costs if cost)
    at_balance = min(1 / (cost * share) for cost, share in costs if cost)
    return balanced / single, at_balance / single


def _median(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def _client_view(runs: list[RunStats]) -> dict[str, Any]:
    return {
        "rate": _median([run.rate for run in runs]),
        "p50_s": _median([run.p50_s for run in runs]),
        "p99_s": _median([run.p99_s for run in runs]),
        "cpu_per_request_s": _median([run.cpu_per_request_s for run in runs]),
        "requests": sum(run.requests for run in runs),
        "errors": sum(run.errors for run in runs),
    }


def summarize_scaling(concurrency: int, pairs: list[tuple[RunStats, ScalingRun]]) -> dict[str, Any]:
    """Medians over the interleaved (one worker, N workers) pairs of one concurrency level. Workers are
    ranked by share within each run (busiest first), so `workers[0]` is the busiest one's median."""
    ranked = [sorted(multi.workers, key=lambda worker: -worker.share) for _, multi in pairs]
    positions = min((len(workers) for workers in ranked), default=0)
    capacities = [capacity(single.cpu_per_request_s, multi.workers) for single, multi in pairs]
    return {
        "concurrency": concurrency,
        "one_worker": _client_view([single for single, _ in pairs]),
        "n_workers": _client_view([multi.stats for _, multi in pairs]),
        "workers": [
            {
                "share": _median([workers[position].share for workers in ranked]),
                "cpu_per_request_s": _median([workers[position].cpu_per_request_s for workers in ranked]),
            }
            for position in range(positions)
        ],
        "capacity_balanced": _median([pair[0] if pair else None for pair in capacities]),
        "capacity_at_observed_balance": _median([pair[1] if pair else None for pair in capacities]),
    }
