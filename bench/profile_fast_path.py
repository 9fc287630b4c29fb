"""Where a fast-path request's cost goes, by function and by part of the gateway: calls and allocations.

    .venv/bin/python bench/profile_fast_path.py calls [--caller static|governed] [--seconds 2] [--top 30]
    .venv/bin/python bench/profile_fast_path.py allocations [--caller static|governed] [--seconds 2] [--top 30]
    .venv/bin/python bench/profile_fast_path.py time [--path bedrock] [--seconds 2] [--top 30]
    .venv/bin/python bench/profile_fast_path.py opcodes [--caller static|governed] [--seconds 2] [--top 30]
    .venv/bin/python bench/profile_fast_path.py serve [--caller static|governed]

The gateway (the app served by uvicorn with `babelgate serve`'s protocol, in this process, its store in
a throw-away SQLite file) forwards `POST /v1/chat/completions` to the bench's fake upstream (a process
of its own) while wrk (c=16) loads it, with the static gateway key or a virtual key with rpm, tpm and
concurrency limits (`governed`). `calls` counts Python calls per request with cProfile; `allocations`
adds up the bytes the gateway's functions allocate and still hold at their next call or return (the
measure tests/integration/test_hot_path_budget.py sets ceilings on, here by function). Both print
the figures by part of the gateway (server, event loop, pipeline, router, governance, ...) and by
function, most first. `opcodes` counts the bytecode instructions each Python function executes per request
(`sys.settrace` with opcode events: the interpreter's work inside functions, which a count of calls does not
see; the gateway runs ~50 times slower under it, so few requests, but the count does not move).
`serve` only serves, printing the URL, key and pid, for a sampling profiler
(py-spy) and a load of your own. Run it with each commit's venv to hold two commits against each
other: the counts do not move with the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import tracemalloc
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import uvicorn

BENCH = Path(__file__).resolve().parent
BODY = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}'
BODY_STREAM = BODY[:-1] + ',"stream":true}'  # the fast path's streamed request
STATIC_KEY = "profile-static-key-0123"
MASTER_KEY = "profile-master-key-0123456789"
# Parts of the gateway by where their code lives (the first that matches); C functions have no file
# and go by their own name.
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("server layer (uvicorn, httptools, server_protocol)", ("/uvicorn/", "/httptools/", "server_protocol.py")),
    ("event loop (asyncio, uvloop)", ("/asyncio/", "/uvloop/", "/contextvars", "/selectors.py")),
    ("exchange and ASGI send", ("babelgate/exchange.py", "babelgate/app.py", "babelgate/runtime.py")),
    ("pipeline and frontends", ("babelgate/pipeline.py", "babelgate/frontends/")),
    ("router", ("babelgate/routing/",)),
    ("governance", ("babelgate/governance/",)),
    ("metrics and tracing", ("babelgate/observability/", "/prometheus_client/")),
    ("accounting and ledger", ("babelgate/accounting.py", "babelgate/store/", "/sqlite3/")),
    ("hooks", ("babelgate/hooks.py",)),
    ("upstream client and provider", ("babelgate/http/", "babelgate/providers/")),
    ("JSON and schema", ("/orjson", "/pydantic", "babelgate/schema/")),
    ("other babelgate", ("babelgate/",)),
    ("logging", ("/logging/",)),
)


def part_of(file: str, name: str) -> str:
    where = file if file != "~" else name
    for part, needles in PARTS:
        if any(needle in where for needle in needles):
            return part
    return "C functions (builtins)" if file == "~" else "other Python"


def _short(file: str, line: int, name: str) -> str:
    return f"{file.split('site-packages/')[-1].split('src/')[-1]}:{line}:{name}"


def _options() -> dict[str, Any]:
    try:
        from babelgate.server_protocol import UVICORN_OPTIONS  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # older commits: the protocol alone, as their `babelgate serve` passed it
        from babelgate.server_protocol import CoalescingHttpToolsProtocol

        return {"http": CoalescingHttpToolsProtocol, "server_header": False, "access_log": False}
    # As `babelgate serve` runs without an access log: no X-Forwarded-For parsing (2 calls a request).
    return {**UVICORN_OPTIONS, "proxy_headers": False}


async def _wrk(url: str, seconds: int, script: str) -> int:
    process = await asyncio.create_subprocess_exec(
        "wrk", "-t1", "-c16", f"-d{seconds}s", "-s", script, url, stdout=subprocess.PIPE
    )
    out, _ = await process.communicate()
    line = next(line for line in out.decode().splitlines() if "requests in" in line)
    return int(line.split()[0])


def _virtual_key(port: int, team: str) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    body = {"team": team, "rpm": 10**9, "tpm": 10**12, "max_concurrent": 1000, "budget_usd": 10**6}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/admin/keys",
        data=json.dumps({**body, "budget_period": "month"}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {MASTER_KEY}", "Content-Type": "application/json"},
    )
    with opener.open(request, timeout=10) as answer:
        return str(json.loads(answer.read())["key"])


class OpcodeCounter:
    """Bytecode instructions executed, by the code object that executed them."""

    def __init__(self) -> None:
        self.executed: Counter[CodeType] = Counter()

    def __call__(self, frame: FrameType, event: str, _: Any) -> Any:
        frame.f_trace_opcodes = True
        executed = self.executed

        def step(frame: FrameType, event: str, _: Any) -> Any:
            if event == "opcode":
                executed[frame.f_code] += 1
            return step

        return step


class AllocationCounter:
    """Bytes the traced size grew between two profile events, for the function that ran in between
    (at a call, the caller; otherwise the frame itself): the test's measure, by function."""

    def __init__(self) -> None:
        self.allocated: Counter[CodeType] = Counter()
        self._last = tracemalloc.get_traced_memory()[0]

    def __call__(self, frame: FrameType, event: str, _: Any) -> None:
        grown = tracemalloc.get_traced_memory()[0] - self._last
        if grown > 0:
            ran = frame.f_back if event == "call" else frame
            if ran is not None:
                self.allocated[ran.f_code] += grown
        self._last = tracemalloc.get_traced_memory()[0]


async def _run(
    mode: str,
    caller: str,
    seconds: int,
    upstream_port: int,
    scratch: Path,
    path: str | None = None,
    stream: bool = False,
) -> tuple[Any, int]:
    from babelgate import create_app

    body, route = BODY, "/v1/chat/completions"
    if path is None:
        os.environ.update(
            {
                "OPENAI_API_KEY": "sk-bench",
                "OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
                "OLLAMA_BASE_URL": "http://127.0.0.1:9",
                "BABELGATE_STORE_URL": f"sqlite:{scratch / 'profile.db'}",
                "BABELGATE_API_KEYS": STATIC_KEY,
                "BABELGATE_MASTER_KEY": MASTER_KEY,
            }
        )
        app = create_app()
        if stream:  # the fast path's stream (no config: the base can run it too)
            body = BODY_STREAM
    else:  # a path of bench/paths.py: `make bench`'s environment and config, every provider at the fake
        import processes
        from paths import PATHS

        os.environ.update(processes.gateway_env(upstream_port, str(scratch)))
        os.environ.update({"BABELGATE_API_KEYS": STATIC_KEY, "BABELGATE_MASTER_KEY": MASTER_KEY})
        try:
            from babelgate.config.load import load_config
            from babelgate.providers import PROVIDER_TYPES

            app = create_app(load_config(processes.gateway_config(), os.environ, available_types=PROVIDER_TYPES))
        except Exception as exc:  # an older build (the fixed base) refuses today's config: as bench/run.py runs it
            print(f"the bench's config refused ({type(exc).__name__}): the environment alone", file=sys.stderr)
            app = create_app()
        side = PATHS[path].gateway
        body = (side.stream_body if stream else side.body).decode()
        route = (side.stream_route or side.route) if stream else side.route
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    url = f"http://127.0.0.1:{port}{route}"
    config = uvicorn.Config(app, loop="none", lifespan="on", log_level="warning", **_options())
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:  # noqa: ASYNC110 (uvicorn's flag, no event to wait on)
        await asyncio.sleep(0.01)
    team = "profile" if path is None else "bench"  # a path of bench/paths.py: the bench's team, its limits and budget
    key = STATIC_KEY if caller == "static" else await asyncio.to_thread(_virtual_key, port, team)
    script = str(scratch / "post.lua")
    lua = (
        f"wrk.method='POST'; wrk.body=[==[{body}]==]; wrk.headers['Content-Type']='application/json'; "
        f"wrk.headers['Authorization']='Bearer {key}'; wrk.headers['x-api-key']='{key}'"
    )
    await asyncio.to_thread(Path(script).write_text, lua)
    result: Any = None
    requests = 0
    if mode == "serve":
        print(f"SERVING {url} key {key} pid {os.getpid()} (wrk script {script}); Ctrl-C or SIGTERM stops", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
        await stop.wait()
    else:
        await _wrk(url, 1, script)  # warm: connections, caches, the first requests' one-time work
        if mode in ("calls", "time"):
            result = cProfile.Profile()
            result.enable()
            requests = await _wrk(url, seconds, script)
            result.disable()
        elif mode == "opcodes":
            result = OpcodeCounter()
            sys.settrace(result)
            requests = await _wrk(url, seconds, script)
            sys.settrace(None)
        else:
            tracemalloc.start(1)
            result = AllocationCounter()
            sys.setprofile(result)
            requests = await _wrk(url, seconds, script)
            sys.setprofile(None)
            tracemalloc.stop()
    server.should_exit = True
    await task
    return result, requests


def _print(rows: list[tuple[float, str, str]], requests: int, unit: str, top: int) -> None:
    merged: defaultdict[tuple[str, str], float] = defaultdict(float)
    for value, name, part in rows:  # a C function called from several places of one part, once
        merged[name, part] += value
    rows = [(value, name, part) for (name, part), value in merged.items()]
    total = sum(value for value, _, _ in rows)
    print(f"{requests} requests; {total:.1f} {unit} per request")
    parts: defaultdict[str, float] = defaultdict(float)
    for value, _, part in rows:
        parts[part] += value
    print(f"\nby part of the gateway ({unit} per request, share):")
    for part, value in sorted(parts.items(), key=lambda item: -item[1]):
        print(f"{value:10.1f}  {100 * value / total:5.1f} %  {part}")
    print(f"\nby function ({unit} per request):")
    for value, name, part in sorted(rows, reverse=True)[:top]:
        print(f"{value:10.2f}  {name}  [{part}]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("calls", "time", "allocations", "opcodes", "serve"))
    parser.add_argument("--caller", choices=("static", "governed"), default="static")
    parser.add_argument("--path", help="a path of bench/paths.py (its gateway side, the bench's config) instead")
    parser.add_argument("--stream", action="store_true", help="the streamed request (of --path, or of the fast path)")
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    if shutil.which("wrk") is None and args.mode != "serve":
        sys.exit("wrk is needed (Debian: apt-get install wrk)")
    upstream = subprocess.Popen(
        [sys.executable, str(BENCH / "fake_upstream.py"), "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert upstream.stdout is not None
        port = int(upstream.stdout.readline().split()[-1])
        with tempfile.TemporaryDirectory() as scratch:
            import uvloop

            result, requests = uvloop.run(
                _run(args.mode, args.caller, args.seconds, port, Path(scratch), args.path, args.stream)
            )
    finally:
        upstream.terminate()
        upstream.wait(10)
    if args.mode in ("calls", "time"):
        # `time`: each function's own time under cProfile (µs per request; the profiler's overhead makes
        # the figures larger than real, but the shares between two paths of one run compare).
        table = pstats.Stats(result).stats  # type: ignore[attr-defined]
        field, scale, unit = (1, 1.0, "calls") if args.mode == "calls" else (2, 1e6, "µs")
        rows = []
        for (file, line, name), entry in table.items():
            if file != "~" or not entry[4]:
                rows.append((entry[field] * scale / requests, _short(file, line, name), part_of(file, name)))
                continue
            # A C function's cost goes to the parts of the Python functions that call it.
            for (caller_file, _, caller_name), caller_entry in entry[4].items():
                part = part_of(caller_file, caller_name)
                value = caller_entry[0 if field == 1 else 2] * scale / requests
                rows.append((value, f"{name} (from {part.split(' (')[0]})", part))
        _print(rows, requests, unit, args.top)
    elif args.mode == "opcodes":
        rows = [
            (
                executed / requests,
                _short(code.co_filename, code.co_firstlineno, code.co_name),
                part_of(code.co_filename, code.co_name),
            )
            for code, executed in result.executed.items()
        ]
        _print(rows, requests, "opcodes", args.top)
    elif args.mode == "allocations":
        rows = [
            (
                grown / requests / 1024,
                _short(code.co_filename, code.co_firstlineno, code.co_name),
                part_of(code.co_filename, code.co_name),
            )
            for code, grown in result.allocated.items()
        ]
        _print(rows, requests, "KiB", args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
