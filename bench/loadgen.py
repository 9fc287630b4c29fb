"""Generate load against one target URL and measure it from the client side.

Three engines: `wrk` (with a Lua POST script) for plain chat completions when it is installed, else an
asyncio + aiohttp client; streams always use the raw asyncio client of stream_client.py, which checks
every event (streams.py). Both Python clients keep one keep-alive connection per concurrent worker. Each
run reports requests, errors, latency percentiles and, when given a CPU clock for the gateway, the
gateway's CPU seconds over the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import math
import shutil
import signal
import statistics
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp
import orjson

from stream_client import StreamClient, StreamRequest
from streams import stream_check

CpuClock = Callable[[], float]
REQUEST_TIMEOUT: Final = aiohttp.ClientTimeout(total=60)
MAX_ERROR_SAMPLES: Final = 5
ERROR_BACKOFF: Final = 0.01  # a failing target (refused connection) must not turn a worker into a busy loop

# A realistic small request: a system prompt, one user turn, a couple of parameters.
CHAT_REQUEST: Final[dict[str, Any]] = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a concise assistant for a team of backend engineers."},
        {"role": "user", "content": "Explain in three sentences what a load balancer does and why it helps."},
    ],
    "temperature": 0.2,
    "max_tokens": 256,
}


def request_body(stream: bool, *, model: str | None = None) -> bytes:
    body = {**CHAT_REQUEST, "model": model} if model is not None else CHAT_REQUEST
    return orjson.dumps({**body, "stream": True} if stream else body)


CHAT_OK: Final = (b'"chat.completion"', b'"finish_reason":"stop"')


@dataclass(frozen=True, slots=True)
class Target:
    name: str  # "gateway" or "direct"
    url: str  # the full URL to POST to
    api_key: str
    path: str = "fast"  # which bench path (run.py's --paths) this run belongs to
    body: bytes | None = None  # the non-streaming request; None: the fast path's CHAT_REQUEST
    expect: tuple[bytes, ...] = CHAT_OK  # byte markers of a good non-streaming answer
    stream_body: bytes | None = None  # the streaming request; None: the fast path's, with "stream": true
    stream_url: str | None = None  # where to POST it, when not `url` (Gemini streams on another route)
    stream_format: str = "chat"  # the stream's wire format (streams.STREAM_FORMATS)

    def chat_body(self) -> bytes:
        return self.body if self.body is not None else request_body(False)

    def streaming_body(self) -> bytes:
        return self.stream_body if self.stream_body is not None else request_body(True)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}


@dataclass(slots=True)
class RunStats:
    """One measurement: one target, one kind, one concurrency, one time window."""

    target: str
    kind: str  # "chat" or "stream"
    concurrency: int
    engine: str
    path: str = "fast"
    subject: str = "babelgate"  # the proxy measured: the gateway, or a comparison one (nginx, litellm)
    requests: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    p50_s: float | None = None
    p99_s: float | None = None
    ttft_p50_s: float | None = None  # streams: time to the first text token
    gateway_cpu_s: float | None = None  # gateway process CPU (user + system) over the window
    # Share of the gateway's core used by anything but the gateway meanwhile: the noise of a shared machine.
    gateway_core_other_load: float | None = None
    error_samples: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def cpu_per_request_s(self) -> float | None:
        if self.gateway_cpu_s is None or self.requests == 0:
            return None
        return self.gateway_cpu_s / self.requests

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "subject": self.subject,
            "target": self.target,
            "kind": self.kind,
            "concurrency": self.concurrency,
            "engine": self.engine,
            "requests": self.requests,
            "errors": self.errors,
            "elapsed_s": self.elapsed_s,
            "rate": self.rate,
            "p50_s": self.p50_s,
            "p99_s": self.p99_s,
            "ttft_p50_s": self.ttft_p50_s,
            "gateway_cpu_s": self.gateway_cpu_s,
            "cpu_per_request_s": self.cpu_per_request_s,
            "gateway_core_other_load": self.gateway_core_other_load,
            "error_samples": self.error_samples,
        }


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (no interpolation), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass(slots=True)
class _Tally:
    """What the workers of one run collect."""

    latencies: list[float] = field(default_factory=list)
    first_tokens: list[float] = field(default_factory=list)
    errors: int = 0
    samples: list[str] = field(default_factory=list)

    def fail(self, reason: str) -> None:
        self.errors += 1
        if len(self.samples) < MAX_ERROR_SAMPLES:
            self.samples.append(reason)


# --- one request ------------------------------------------------------------------------------------------


async def chat_once(session: aiohttp.ClientSession, target: Target, body: bytes) -> str | None:
    """Send one chat completion; None if it succeeded, else what went wrong."""
    async with session.post(target.url, data=body, headers=target.headers) as response:
        data = await response.read()
    if response.status != 200:
        return f"HTTP {response.status}: {data[:300]!r}"
    # A byte check, not a parse: the load generator's CPU is shared with the upstream.
    if not all(marker in data for marker in target.expect):
        return f"unexpected body: {data[:300]!r}"
    return None


# --- Python engine ----------------------------------------------------------------------------------------


def _sessions(concurrency: int) -> list[aiohttp.ClientSession]:
    # One session with a one-connection pool per worker: exactly `concurrency` keep-alive connections.
    return [
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), timeout=REQUEST_TIMEOUT, auto_decompress=False)
        for _ in range(concurrency)
    ]


async def _chat_worker(
    session: aiohttp.ClientSession, target: Target, body: bytes, deadline: float, tally: _Tally
) -> None:
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            problem = await chat_once(session, target, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            tally.latencies.append(time.perf_counter() - started)
        else:
            tally.fail(problem)
            await asyncio.sleep(ERROR_BACKOFF)


async def _stream_worker(
    client: StreamClient, target: Target, chunks: int, deadline: float, tally: _Tally, offset: float
) -> None:
    await asyncio.sleep(offset)
    while time.perf_counter() < deadline:
        result = await client.stream(stream_check(target.stream_format, chunks))
        if result.problem is None and result.first_token_s is not None and result.total_s is not None:
            tally.latencies.append(result.total_s)
            tally.first_tokens.append(result.first_token_s)
        else:
            tally.fail(result.problem or "no text token")
            await asyncio.sleep(ERROR_BACKOFF)


async def run_python(
    target: Target, *, stream: bool, concurrency: int, duration: float, chunks: int, cpu: CpuClock | None
) -> RunStats:
    """Closed-loop load: `concurrency` workers, each sending its next request when the last one ended."""
    if stream:
        return await run_streams(target, concurrency=concurrency, duration=duration, chunks=chunks, cpu=cpu)
    body = target.chat_body()
    sessions = _sessions(concurrency)
    tally = _Tally()
    stats = RunStats(target.name, "chat", concurrency, "python", target.path)
    try:
        # One untimed request per worker first, so connection set-up is outside the measured window.
        await asyncio.gather(*(_warm_one(s, target, body) for s in sessions))
        await _measured_window(
            stats, duration, cpu, lambda deadline: [_chat_worker(s, target, body, deadline, tally) for s in sessions]
        )
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    _tally_into(stats, tally)
    return stats


async def _measured_window(
    stats: RunStats, duration: float, cpu: CpuClock | None, workers: Callable[[float], list[Coroutine[Any, Any, None]]]
) -> None:
    """Runs the workers (each given the window's deadline) and records the window's wall time and,
    with a clock, the gateway's CPU time over it."""
    cpu_start = cpu() if cpu else None
    started = time.perf_counter()
    await asyncio.gather(*workers(started + duration))
    stats.elapsed_s = time.perf_counter() - started
    if cpu and cpu_start is not None:
        stats.gateway_cpu_s = cpu() - cpu_start


async def run_streams(
    target: Target, *, concurrency: int, duration: float, chunks: int, cpu: CpuClock | None
) -> RunStats:
    """Closed-loop streams with the raw client (stream_client.py), every event checked."""
    request = stream_request(target)
    clients = [StreamClient(request) for _ in range(concurrency)]
    tally = _Tally()
    stats = RunStats(target.name, "stream", concurrency, "python", target.path)
    try:
        # One untimed stream per worker first, so connection set-up is outside the measured window; its
        # failures show up again in the measured run.
        warm = await asyncio.gather(*(client.stream(stream_check(target.stream_format, chunks)) for client in clients))
        offsets = stream_offsets([result.total_s for result in warm], concurrency)
        await _measured_window(
            stats,
            duration,
            cpu,
            lambda deadline: [
                _stream_worker(client, target, chunks, deadline, tally, offset)
                for client, offset in zip(clients, offsets, strict=True)
            ],
        )
    finally:
        for client in clients:
            client.close()
    _tally_into(stats, tally)
    return stats


def stream_offsets(warm_totals: Sequence[float | None], concurrency: int) -> list[float]:
    """When each worker starts its first measured stream: spread evenly over one stream's duration, as
    the streams of steady traffic are. Started together, the workers would stay in step for the whole
    run (each stream takes the same number of the fake upstream's millisecond timer ticks), so every
    new request would arrive at the same moment as the others' and the time to first token would
    measure a burst of `concurrency` simultaneous requests, not `concurrency` concurrent streams."""
    totals = [total for total in warm_totals if total is not None]
    period = statistics.median(totals) if totals else 0.0
    return [index * period / concurrency for index in range(concurrency)]


def stream_request(target: Target) -> StreamRequest:
    return StreamRequest.post(target.stream_url or target.url, target.headers, target.streaming_body())


def _tally_into(stats: RunStats, tally: _Tally) -> None:
    stats.requests, stats.errors, stats.error_samples = len(tally.latencies), tally.errors, tally.samples
    stats.p50_s, stats.p99_s = percentile(tally.latencies, 50), percentile(tally.latencies, 99)
    stats.ttft_p50_s = percentile(tally.first_tokens, 50)


async def _warm_one(session: aiohttp.ClientSession, target: Target, body: bytes) -> None:
    """One request on the worker's connection; its failures show up again in the measured run."""
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        await chat_once(session, target, body)


# --- wrk engine -------------------------------------------------------------------------------------------

# wrk prints its own report; this `done` hook adds one JSON line that we parse instead.
_WRK_SCRIPT: Final = """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {api_key}"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {{"requests":%d,"duration_us":%d,"errors":%d,"status_errors":%d,"p50_us":%.1f,"p99_us":%.1f}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout + e.status, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


def die_with_parent() -> None:
    """In a child before exec: have the kernel send SIGTERM if the bench dies without cleaning up."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


async def run_wrk(
    target: Target, *, concurrency: int, duration: float, cpu: CpuClock | None, pin: Sequence[str]
) -> RunStats:
    """Plain chat completions with wrk: one thread, `concurrency` keep-alive connections, whole seconds."""
    stats = RunStats(target.name, "chat", concurrency, "wrk", target.path)
    seconds = max(1, round(duration))  # wrk takes whole seconds
    with tempfile.TemporaryDirectory(prefix="babelgate-bench-") as folder:
        script = Path(folder) / "post.lua"
        script.write_text(_WRK_SCRIPT.format(body=target.chat_body().decode(), api_key=target.api_key))
        argv = [
            *pin,
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            target.url,
        ]
        cpu_start = cpu() if cpu else None
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, preexec_fn=die_with_parent
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), timeout=seconds + 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        if cpu and cpu_start is not None:
            stats.gateway_cpu_s = cpu() - cpu_start
    report = _wrk_report(out.decode(errors="replace"))
    if process.returncode != 0 or report is None:
        stats.errors = 1
        stats.error_samples = [f"wrk exited {process.returncode}: {err.decode(errors='replace')[-500:]}"]
        return stats
    stats.requests = int(report["requests"]) - int(report["status_errors"])
    stats.errors = int(report["errors"])
    stats.elapsed_s = float(report["duration_us"]) / 1e6
    stats.p50_s, stats.p99_s = float(report["p50_us"]) / 1e6, float(report["p99_us"]) / 1e6
    if stats.errors:
        stats.error_samples = [f"wrk counted {stats.errors} errors ({report['status_errors']} non-2xx answers)"]
    return stats


def _wrk_report(output: str) -> dict[str, Any] | None:
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            parsed: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            return parsed
    return None


# --- correctness check before measuring ------------------------------------------------------------------


async def preflight_stream(target: Target, chunks: int) -> list[str]:
    """One stream, every event checked."""
    client = StreamClient(stream_request(target))
    try:
        result = await client.stream(stream_check(target.stream_format, chunks))
    finally:
        client.close()
    return [] if result.problem is None else [f"{target.path} {target.name} stream: {result.problem}"]


async def preflight_chat(target: Target, problem_of: Callable[[bytes], str | None]) -> list[str]:
    """One non-streaming request of a translated path; `problem_of` judges the whole answer."""
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
        try:
            async with session.post(target.url, data=target.chat_body(), headers=target.headers) as response:
                data = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return [f"{target.path} {target.name}: {type(exc).__name__}: {exc}"]
    if response.status != 200:
        return [f"{target.path} {target.name}: HTTP {response.status}: {data[:500]!r}"]
    problem = problem_of(data)
    if problem is None and not all(marker in data for marker in target.expect):
        problem = f"the answer lacks one of {target.expect}: {data[:500]!r}"
    return [] if problem is None else [f"{target.path} {target.name}: {problem}"]
