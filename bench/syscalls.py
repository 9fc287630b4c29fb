"""System calls and user/system CPU time per fast-path request, this tree's gateway against the fixed base:
what `bench/instructions.py` does not see (it counts user-space instructions only), and minor page faults.

    .venv/bin/python bench/syscalls.py [--base 267719c] [--caller static|governed] [--seconds 10]

Each gateway (`babelgate serve` with the bench's environment, its SQLite store and the fake upstream, as
`make bench` starts it) serves wrk (c=16) twice after a warm-up: once plain, its user and system CPU time
read from /proc (every thread's), and once under `strace -f -c`, which counts every thread's system calls
by name. strace slows the gateway, so only its counts are kept from that run, never its times; the CPU
split comes from the plain run, whose figures move with the machine's load as `make bench`'s do.

Needs strace and wrk (Debian: apt-get install strace wrk).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench import processes  # noqa: E402
from bench.fixed_base import DEFAULT_BASE, install  # noqa: E402
from bench.instructions import _wait_healthy, _wrk, post_script  # noqa: E402
from bench.procfs import process_cpu_split, process_events  # noqa: E402

WARM_SECONDS: Final = 3
NOT_CALLS: Final = ("user µs", "system µs", "page faults")


def cpu_split(pid: int) -> tuple[float, float, int]:
    """(user, system) CPU seconds of every thread of the process so far, and its minor page faults."""
    user, system = process_cpu_split(pid)
    return user, system, process_events(pid)[0]


def run(command: list[str], caller: str, seconds: int, upstream: int, scratch: Path, base: bool) -> dict[str, float]:
    """One gateway: its CPU split per request over one wrk run, then its system calls per request over another
    with strace attached (to every thread) after the warm-up, so that its start-up's calls are not counted."""
    port = processes.free_port()
    config = ["--config", str(processes.gateway_config())] if caller == "governed" else []
    argv = [*command, "serve", "--host", processes.LOOPBACK, "--port", str(port), "--log-level", "warning", *config]
    env = processes.gateway_env(upstream, tempfile.mkdtemp(dir=scratch))
    if base:  # the base imports itself, not the working tree's PYTHONPATH
        env["PYTHONPATH"] = ""
    counts = scratch / f"strace.{len(list(scratch.iterdir()))}"
    with (scratch / "gateway.log").open("ab") as log:
        gateway = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        try:
            _wait_healthy(port, gateway)
            key = processes.GATEWAY_KEY if caller == "static" else processes.create_virtual_key(port)
            model = "gpt-4o-mini" if caller == "static" else "governed"
            body = f'{{"model":"{model}","messages":[{{"role":"user","content":"Hi"}}]}}'
            script = post_script(scratch, body, key)
            url = f"http://{processes.LOOPBACK}:{port}/v1/chat/completions"
            _wrk(url, script, WARM_SECONDS)
            before = cpu_split(gateway.pid)
            requests = _wrk(url, script, seconds)
            after = cpu_split(gateway.pid)
            tracer = subprocess.Popen(
                ["strace", "-f", "-c", "-o", str(counts), "-p", str(gateway.pid)], stderr=subprocess.DEVNULL
            )
            time.sleep(1.0)  # attached to every thread before the load starts
            traced = _wrk(url, script, seconds)
            tracer.send_signal(signal.SIGINT)  # detaches and writes its summary
            tracer.wait(60)
        finally:
            gateway.terminate()
            gateway.wait(60)
    return {
        "user µs": (after[0] - before[0]) / requests * 1e6,
        "system µs": (after[1] - before[1]) / requests * 1e6,
        "page faults": (after[2] - before[2]) / requests,
        **_per_request(counts, traced),
    }


def _per_request(counts: Path, requests: int) -> dict[str, float]:
    """System calls per request by name, from strace's summary of the traced run. The gateway's clock work (the
    collector's passes, which read /proc/self/statm, and the pollers) is per second, not per request: under
    strace a second holds several times fewer requests, so those calls count several times more per request
    than in a real run."""
    figures: dict[str, float] = {}
    for line in counts.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit() and not line.lstrip().startswith("100.00"):
            name = parts[-1]
            calls = int(parts[3])
            figures[name] = calls / requests
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=DEFAULT_BASE, help="the commit to compare with; 'none': this tree only")
    parser.add_argument("--caller", choices=("static", "governed"), default="static")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    for tool in ("strace", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (Debian: apt-get install strace wrk)")
    subjects = [("this tree", processes.gateway_command(), args.caller, False)]
    if args.base != "none":
        base = install(BENCH.parent, args.base, BENCH / "results" / "base-build.log")
        subjects.append((f"base {base.commit[:7]}", base.command, "static", True))
    children = processes.Children()
    try:
        upstream = processes.start_upstream(children, processes.Pinning.detect(False), 50, 1.0)
        with tempfile.TemporaryDirectory() as scratch:
            for name, command, caller, base_run in subjects:
                figures = run(command, caller, args.seconds, upstream, Path(scratch), base_run)
                calls = {call: per for call, per in figures.items() if call not in NOT_CALLS}
                user, system, faults = figures["user µs"], figures["system µs"], figures["page faults"]
                print(
                    f"{name:>12} ({caller}): user {user:.1f} µs, system {system:.1f} µs, {faults:.2f} page faults"
                    " per request;"
                    f" {sum(calls.values()):.1f} system calls per request:",
                    flush=True,
                )
                for call, per in sorted(calls.items(), key=lambda item: -item[1]):
                    if per >= 0.05:
                        print(f"{'':>14}{per:8.2f}  {call}")
    finally:
        children.stop_all()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
