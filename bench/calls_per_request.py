"""Python function calls per fast-path request, counted by cProfile in the gateway's own process.

    .venv/bin/python bench/calls_per_request.py [--seconds 2] [--top 40]

The gateway (the app served by uvicorn with `babelgate serve`'s protocol, in this process) forwards
`POST /v1/chat/completions` to the bench's fake upstream while wrk (c=16) loads it; the profile covers
only the measured seconds. It prints the calls per request and the functions that make them, most
first: a count that does not move with the machine's load, to hold two commits against each other
(run it with each one's venv) where CPU figures drown in noise.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import uvicorn

BENCH = Path(__file__).resolve().parent
BODY = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}'


async def _wrk(url: str, seconds: int, script: str) -> int:
    process = await asyncio.create_subprocess_exec(
        "wrk", "-t1", "-c16", f"-d{seconds}s", "-s", script, url, stdout=subprocess.PIPE
    )
    out, _ = await process.communicate()
    line = next(line for line in out.decode().splitlines() if "requests in" in line)
    return int(line.split()[0])


async def _measure(seconds: int, upstream_port: int, script: str) -> tuple[cProfile.Profile, int]:
    from babelgate import create_app
    from babelgate.server_protocol import UVICORN_OPTIONS

    os.environ.update(
        {
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
            "OLLAMA_BASE_URL": "http://127.0.0.1:9",
            "BABELGATE_STORE_URL": "memory",
        }
    )
    app = create_app()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1/chat/completions"
    server = uvicorn.Server(uvicorn.Config(app, loop="none", lifespan="on", log_level="warning", **UVICORN_OPTIONS))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:  # noqa: ASYNC110 (uvicorn's flag, no event to wait on)
        await asyncio.sleep(0.01)
    await _wrk(url, 1, script)  # warm: connections, caches, the first requests' one-time work
    profile = cProfile.Profile()
    profile.enable()
    requests = await _wrk(url, seconds, script)
    profile.disable()
    server.should_exit = True
    await task
    return profile, requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (Debian: apt-get install wrk)")
    upstream = subprocess.Popen(
        [sys.executable, str(BENCH / "fake_upstream.py"), "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert upstream.stdout is not None
        port = int(upstream.stdout.readline().split()[-1])
        with tempfile.TemporaryDirectory() as scratch:
            script = str(Path(scratch) / "post.lua")
            Path(script).write_text(
                f"wrk.method='POST'; wrk.body='{BODY}'; wrk.headers['Content-Type']='application/json'"
            )
            import uvloop

            profile, requests = uvloop.run(_measure(args.seconds, port, script))
    finally:
        upstream.terminate()
    stats = pstats.Stats(profile)
    table = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[1] for entry in table.values())
    print(f"{requests} requests; {total / requests:.0f} Python calls per request")
    rows = sorted(
        (
            (entry[1] / requests, f"{file.split('site-packages/')[-1].split('src/')[-1]}:{line}:{name}")
            for (file, line, name), entry in table.items()
        ),
        reverse=True,
    )
    for calls, name in rows[: args.top]:
        print(f"{calls:8.2f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
