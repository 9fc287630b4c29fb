"""A first measure of the translated paths: gateway CPU per request for a short chat with two tools,
sent to Anthropic, Gemini and Mistral through `babelgate serve`, one request at a time, both on
`/v1/chat/completions`, on `/v1/responses` (stored, in an SQLite file, as by default), on the Anthropic
Messages frontend (`/v1/messages`; native relay when the model is Claude), on Ollama's `/api/chat`
and on legacy `/v1/completions`; the OpenAI fake is there too, for the frontends' view of an
OpenAI upstream (its chat route is the fast path).

The upstreams are the test suite's fakes (which also validate every request, so they are slow:
only the gateway's own CPU counts here). `make bench` measures the
same paths with its own fast fakes (bench/fake_upstream.py). Run: `.venv/bin/python bench/translated.py [--requests N]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.anthropic_upstream import FakeAnthropic  # noqa: E402
from tests.fakes.gemini_upstream import FakeGemini  # noqa: E402
from tests.fakes.mistral_upstream import FakeMistral  # noqa: E402
from tests.fakes.openai_upstream import FakeOpenAI  # noqa: E402
from tests.fakes.servers import LoopThread  # noqa: E402

MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-sonnet-4-6",
    "gemini": "gemini-2.5-flash",
    "mistral": "mistral-small-latest",
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": "d",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    for name in ("get_weather", "get_time")
]
FLAT_TOOLS = [{"type": "function", **tool["function"]} for tool in TOOLS]  # the Responses API's tool shape


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(config: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """`babelgate serve --config` from this tree on a free port (pinned to CPU 1 where there are two), once
    /health answers: the process and its base URL."""
    port = free_port()
    pin = ["taskset", "-c", "1"] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []
    command = [sys.executable, "-c", "import sys; from babelgate.cli import main; sys.exit(main())"]
    gateway = subprocess.Popen(
        [*pin, *command, "serve", "--config", str(config), "--port", str(port), "--log-level", "warning"],
        # The build this process imports (bench/compiled.py's, on its PYTHONPATH), else this tree's source.
        env={**env, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT / "src")},
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base + "/health", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    return gateway, base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    loop = LoopThread()
    fakes = {"openai": FakeOpenAI(), "anthropic": FakeAnthropic(), "gemini": FakeGemini(), "mistral": FakeMistral()}
    for fake in fakes.values():
        loop.run(fake.start())
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL", "_API_KEYS"))}
    env["OLLAMA_BASE_URL"] = "http://127.0.0.1:9"
    store = tempfile.TemporaryDirectory()
    env["BABELGATE_STORE_URL"] = f"sqlite:{store.name}/babelgate.db"
    for name, fake in fakes.items():
        env[f"{name.upper()}_API_KEY"], env[f"{name.upper()}_BASE_URL"] = "bench-key", fake.base_url
    port = free_port()
    pin = ["taskset", "-c", "1"] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []
    gateway = subprocess.Popen(
        [*pin, str(ROOT / ".venv/bin/babelgate"), "serve", "--port", str(port), "--log-level", "warning"], env=env
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(base + "/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=10) as client:
            for provider, model in MODELS.items():
                routes = {
                    "/v1/chat/completions": {
                        "model": model,
                        "tools": TOOLS,
                        "messages": [
                            {"role": "system", "content": "Be brief."},
                            {"role": "user", "content": "Weather in Paris?"},
                        ],
                    },
                    "/v1/responses": {
                        "model": model,
                        "tools": FLAT_TOOLS,
                        "instructions": "Be brief.",
                        "input": "Weather in Paris?",
                    },
                    "/v1/messages": {
                        "model": model,
                        "max_tokens": 256,
                        "system": "Be brief.",
                        "tools": [
                            {
                                "name": t["function"]["name"],
                                "description": "d",
                                "input_schema": t["function"]["parameters"],
                            }
                            for t in TOOLS
                        ],
                        "messages": [{"role": "user", "content": "Weather in Paris?"}],
                    },
                    "/api/chat": {
                        "model": model,
                        "stream": False,
                        "tools": TOOLS,
                        "messages": [
                            {"role": "system", "content": "Be brief."},
                            {"role": "user", "content": "Weather in Paris?"},
                        ],
                    },
                    "/v1/completions": {"model": model, "prompt": "Weather in Paris?", "max_tokens": 16},
                }
                for route, body in routes.items():
                    for _ in range(50):
                        client.post(route, json=body)
                    start_cpu, start = cpu_seconds(gateway.pid), time.perf_counter()
                    for _ in range(args.requests):
                        response = client.post(route, json=body)
                        response.raise_for_status()
                    cpu = (cpu_seconds(gateway.pid) - start_cpu) / args.requests
                    wall = (time.perf_counter() - start) / args.requests
                    print(
                        f"{provider:<10} {model:<22} {route:<21} gateway CPU {cpu * 1e6:6.0f} µs/request   "
                        f"wall {wall * 1e3:5.2f} ms/request (c=1)"
                    )
    finally:
        gateway.terminate()
        gateway.wait(10)
        for fake in fakes.values():
            loop.run(fake.stop())
        loop.stop()
        store.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
