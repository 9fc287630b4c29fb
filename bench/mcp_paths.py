"""The MCP endpoint's own cost per tool call: a tool called on a fake MCP server (the test
suite's, written with the official SDK, streamable HTTP) directly and through the gateway's `/mcp`
(`babelgate serve`, a static key, one session), in interleaved rounds; the gateway's CPU per call (from
/proc) and the latency it adds per call (through minus direct, median of the rounds).

Run: `python bench/mcp_paths.py [--calls N] [--rounds R]` (a quick check: `--calls 20 --rounds 2`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.translated import cpu_seconds, serve  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from tests.fakes.mcp_servers import streamable_app, tool_server  # noqa: E402
from tests.fakes.servers import LoopThread, RunningApp  # noqa: E402

KEY = "bench-mcp-static-key-0123456789"


async def measure(direct_url: str, gateway_url: str, pid: int, calls: int, rounds: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {"direct": [], "gateway": [], "cpu": []}
    direct_http = httpx2.AsyncClient(timeout=30)
    gateway_http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    async with (
        direct_http,
        gateway_http,
        Client(streamable_http_client(direct_url, http_client=direct_http), mode="legacy") as direct,
        Client(streamable_http_client(gateway_url, http_client=gateway_http), mode="legacy") as through,
    ):
        for _ in range(10):  # warm both paths (connections, the gateway's listing cache)
            await direct.call_tool("echo", {"text": "warm"})
            await through.call_tool("docs__echo", {"text": "warm"})
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(calls):
                await direct.call_tool("echo", {"text": "bench"})
            found["direct"].append((time.perf_counter() - start) / calls)
            start_cpu, start = cpu_seconds(pid), time.perf_counter()
            for _ in range(calls):
                await through.call_tool("docs__echo", {"text": "bench"})
            found["gateway"].append((time.perf_counter() - start) / calls)
            found["cpu"].append((cpu_seconds(pid) - start_cpu) / calls)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500, help="per round and path")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    loop = LoopThread()
    docs = RunningApp(streamable_app(tool_server("docs")))
    loop.run(docs.start())
    workdir = tempfile.TemporaryDirectory()
    path = Path(workdir.name) / "bench.yaml"
    path.write_text(f"server:\n  api_keys: [env:BENCH_KEY]\nmcp_servers:\n  - name: docs\n    url: {docs.url}/mcp\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env |= {"BENCH_KEY": KEY, "OLLAMA_BASE_URL": "http://127.0.0.1:9", "BABELGATE_STORE_URL": "memory"}
    gateway, base = serve(path, env)
    try:
        found = asyncio.run(measure(docs.url + "/mcp", base + "/mcp", gateway.pid, args.calls, args.rounds))
    finally:
        gateway.terminate()
        gateway.wait(10)
        loop.run(docs.stop())
    direct, through, cpu = (statistics.median(found[name]) * 1e6 for name in ("direct", "gateway", "cpu"))
    print(f"tool calls: {args.calls} x {args.rounds} rounds per path, one session each, sequential")
    print(f"{'direct to the server':<28} {direct:>9.0f} us per call")
    print(f"{'through the gateway /mcp':<28} {through:>9.0f} us per call")
    print(f"{'added by the gateway':<28} {through - direct:>9.0f} us per call")
    print(f"{'gateway CPU':<28} {cpu:>9.0f} us per call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
