"""Gateway CPU per request on the Bedrock paths beside the Anthropic one, in the same run: a short chat
with two tools sent to Claude on Anthropic (`/v1/messages` translated), to Claude on Bedrock
(InvokeModel, SigV4-signed) and to Amazon Nova (Converse, signed), on `/v1/chat/completions` and on
the Anthropic Messages frontend (native relay for Claude), one request at a time through
`babelgate serve`.

The upstreams are the test suite's fakes (which validate every request and, for Bedrock, recompute
every signature: they are slow, so only the gateway's own CPU counts, read from /proc). Until `make
bench` has fast fakes speaking Bedrock's formats, this is the measure of the clouds' target: "within 10 %
of the Anthropic path, signing included". Run: `python bench/bedrock_paths.py [--requests N]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.translated import TOOLS, cpu_seconds, free_port  # noqa: E402
from tests.fakes.anthropic_upstream import FakeAnthropic  # noqa: E402
from tests.fakes.bedrock_upstream import AwsKey, FakeBedrock  # noqa: E402
from tests.fakes.servers import LoopThread  # noqa: E402

KEY_ID, SECRET = "AKIABENCHBEDROCK0001", "bench/secret/key/for/bedrock/0123456789"
MODELS = {
    "anthropic": "claude-sonnet-4-5",
    "claude-on-bedrock": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "nova-on-bedrock": "us.amazon.nova-pro-v1:0",
}
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}]


def config(anthropic: FakeAnthropic, bedrock: FakeBedrock) -> str:
    return f"""
providers:
  direct:
    type: anthropic
    base_url: {anthropic.base_url}
    api_key: env:BENCH_ANTHROPIC_KEY
  aws:
    type: bedrock
    region: us-east-1
    base_url: {bedrock.base_url}
    aws_access_key_id: env:BENCH_AWS_KEY_ID
    aws_secret_access_key: env:BENCH_AWS_SECRET
models:
  anthropic:
    provider: direct
    model: {MODELS["anthropic"]}
  claude-on-bedrock:
    provider: aws
    model: {MODELS["claude-on-bedrock"]}
  nova-on-bedrock:
    provider: aws
    model: {MODELS["nova-on-bedrock"]}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="per path")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    loop = LoopThread()
    anthropic, bedrock = FakeAnthropic(), FakeBedrock()
    for fake in (anthropic, bedrock):
        loop.run(fake.start())
    bedrock.iam[KEY_ID] = AwsKey(SECRET)
    bedrock.verify_signatures = False  # the gateway signs as ever; only the fake skips recomputing it
    workdir = tempfile.TemporaryDirectory()
    path = Path(workdir.name) / "bench.yaml"
    path.write_text(config(anthropic, bedrock))
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.endswith(("_API_KEY", "_BASE_URL"))
    }
    env |= {
        "BENCH_ANTHROPIC_KEY": "bench-key",
        "BENCH_AWS_KEY_ID": KEY_ID,
        "BENCH_AWS_SECRET": SECRET,
        "OLLAMA_BASE_URL": "http://127.0.0.1:9",
        "BABELGATE_STORE_URL": "memory",
        "PYTHONPATH": str(ROOT / "src"),
    }
    port = free_port()
    pin = ["taskset", "-c", "1"] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []
    serve = [sys.executable, "-c", "import sys; from babelgate.cli import main; sys.exit(main())"]
    gateway = subprocess.Popen(
        [*pin, *serve, "serve", "--config", str(path), "--port", str(port), "--log-level", "warning"], env=env
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(base + "/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        paths = []
        for name in MODELS:
            paths.append((name, "/v1/chat/completions", {"model": name, "tools": TOOLS, "messages": MESSAGES}))
            anthropic_tools = [
                {"name": t["function"]["name"], "description": "d", "input_schema": t["function"]["parameters"]}
                for t in TOOLS
            ]
            messages = [{"role": "user", "content": "Weather in Paris?"}]
            body = {
                "model": name,
                "max_tokens": 256,
                "system": "Be brief.",
                "tools": anthropic_tools,
                "messages": messages,
            }
            paths.append((name, "/v1/messages", body))
        # Interleaved rounds: a machine shared with other work slows every path alike.
        cpu = dict.fromkeys(range(len(paths)), 0.0)
        wall = dict.fromkeys(range(len(paths)), 0.0)
        per_round = max(1, args.requests // args.rounds)
        with httpx.Client(base_url=base, timeout=10) as client:
            for _, route, body in paths:
                for _ in range(30):
                    client.post(route, json=body).raise_for_status()
            for _ in range(args.rounds):
                for index, (_, route, body) in enumerate(paths):
                    start_cpu, start = cpu_seconds(gateway.pid), time.perf_counter()
                    for _ in range(per_round):
                        client.post(route, json=body).raise_for_status()
                    cpu[index] += cpu_seconds(gateway.pid) - start_cpu
                    wall[index] += time.perf_counter() - start
        total = per_round * args.rounds
        for index, (name, route, _) in enumerate(paths):
            print(
                f"{name:<18} {route:<21} gateway CPU {cpu[index] / total * 1e6:6.0f} µs/request   "
                f"wall {wall[index] / total * 1e3:5.2f} ms/request (c=1)"
            )
    finally:
        gateway.terminate()
        gateway.wait(10)
        for fake in (anthropic, bedrock):
            loop.run(fake.stop())
        loop.stop()
        workdir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
