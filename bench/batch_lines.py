"""The batch engine's own cost per line: a batch of N chat lines through `babelgate serve` (a static key, an
SQLite store, a files directory) against the benchmark's fast fake upstream (bench/fake_upstream.py, a process of
its own), every line run in process through the pipeline (bench/translated.py's gateway process, pinned to one
CPU where there are two). For each size, a fresh gateway:
its CPU (from /proc) from the batch's creation to its completion, per line, and its peak resident memory
(VmHWM) before the batch and at its end; the goal is memory that does not grow with the batch and under 200 µs
of CPU a line.

Run: `python bench/batch_lines.py [--sizes 1000,10000] [--concurrency 32]`.
"""

from __future__ import annotations

import argparse
import io
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openai
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.translated import cpu_seconds  # noqa: E402
from bench.translated import serve as serve_gateway  # noqa: E402

KEY = "bench-batch-static-key-0123456789"
UPSTREAM_KEY = "bench-batch-upstream-key"
GOAL_US = 200.0


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def batch_file(lines: int) -> bytes:
    return b"".join(
        orjson.dumps(
            {
                "custom_id": f"line-{n}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Say {n}"}]},
            }
        )
        + b"\n"
        for n in range(lines)
    )


def start_upstream() -> tuple[subprocess.Popen[bytes], str]:
    """bench/fake_upstream.py on a free port: the process and its OpenAI base URL."""
    argv = [sys.executable, str(ROOT / "bench" / "fake_upstream.py"), "--host", "127.0.0.1", "--port", "0"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE)
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], 30)
    line = process.stdout.readline().decode() if readable else ""
    if not line.startswith("READY "):
        process.kill()
        raise SystemExit("the fake upstream did not start")
    return process, f"http://127.0.0.1:{line.split()[1]}/v1"


def measure(upstream: str, lines: int, concurrency: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="babelgate-batch-bench-") as tmp:
        config = Path(tmp) / "babelgate.yaml"
        config.write_text(
            f"server: {{api_keys: [env:BENCH_KEY]}}\nstore: {{url: 'sqlite:{tmp}/state.db'}}\n"
            # The lines the gateway runs itself are measured: OpenAI's own batch API (which the fake has not) is off.
            f"providers:\n  openai: {{type: openai, base_url: '{upstream}', api_key: env:UPSTREAM,"
            " options: {batches: false}}\n"
            f"files: {{dir: '{tmp}/files'}}\nbatches: {{concurrency: {concurrency}, max_lines: {max(lines, 1)}}}\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL", "_API_KEYS"))}
        env |= {"BENCH_KEY": KEY, "UPSTREAM": UPSTREAM_KEY, "OLLAMA_BASE_URL": "http://127.0.0.1:9"}
        env["XDG_STATE_HOME"] = tmp
        gateway, base = serve_gateway(config, env)
        try:
            with openai.OpenAI(base_url=base + "/v1", api_key=KEY, max_retries=0, timeout=120) as client:
                uploaded = client.files.create(file=("in.jsonl", io.BytesIO(batch_file(lines))), purpose="batch")
                idle_kib = peak_kib(gateway.pid)
                cpu_before = cpu_seconds(gateway.pid)
                started = time.perf_counter()
                created = client.batches.create(
                    input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
                )
                while True:
                    batch = client.batches.retrieve(created.id)
                    if batch.status in ("completed", "failed", "expired", "cancelled"):
                        break
                    time.sleep(0.2)
                took = time.perf_counter() - started
                cpu = cpu_seconds(gateway.pid) - cpu_before
                assert batch.status == "completed" and batch.request_counts.completed == lines, batch
            return {
                "lines": lines,
                "cpu_us_per_line": cpu / lines * 1e6,
                "seconds": took,
                "idle_mib": idle_kib / 1024,
                "peak_mib": peak_kib(gateway.pid) / 1024,
            }
        finally:
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000", help="lines per batch, comma-separated")
    parser.add_argument("--concurrency", type=int, default=32, help="batches.concurrency of the gateway")
    args = parser.parse_args()
    upstream, base = start_upstream()
    try:
        results = [measure(base, int(size), args.concurrency) for size in args.sizes.split(",")]
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)
    for row in results:
        mark = "ok" if row["cpu_us_per_line"] <= GOAL_US else f"over the {GOAL_US:.0f} µs goal"
        print(
            f"  {int(row['lines']):>6,} lines: {row['cpu_us_per_line']:6.0f} µs CPU a line ({mark}),"
            f" {row['seconds']:5.1f} s, peak RSS {row['peak_mib']:5.1f} MiB"
            f" ({row['peak_mib'] - row['idle_mib']:+.1f} over the idle gateway with the file uploaded)"
        )
    if len(results) > 1:
        growth = results[-1]["peak_mib"] - results[0]["peak_mib"]
        print(f"  peak RSS from {int(results[0]['lines']):,} to {int(results[-1]['lines']):,} lines: {growth:+.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
