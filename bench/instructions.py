"""Machine instructions per fast-path request, this tree's gateway against the fixed base: a figure the
machine's load does not move.

    .venv/bin/python bench/instructions.py [--base 267719c] [--caller static|governed|jwt] [--seconds 15]
    .venv/bin/python bench/instructions.py --base none --path bedrock   # a translated path of bench/paths.py
    .venv/bin/python bench/instructions.py --cache-sim   # and L1 cache misses per request (simulated)
    .venv/bin/python bench/instructions.py --branch-sim  # and mispredicted branches per request (simulated)

Each gateway (`babelgate serve`, as `make bench` starts it: the bench's environment, its SQLite store,
the fake upstream) runs under valgrind's callgrind, which counts the instructions every thread of the
process executes. wrk (c=16) warms it for 8 seconds; then the counts are zeroed, wrk runs `--seconds`
more, and the counts are dumped and divided by the requests wrk completed.

Three figures per gateway: every instruction; every instruction but the cyclic collector's; and that
less what the gateway does by the clock when idle. The gateway's collector runs on the clock (100 young
passes a second, collector.py), and so do its pollers (the key ring's and the user directory's, 2 Hz):
under valgrind a second holds ~50 times fewer requests than outside it, so the clock's share per request
is ~50 times what it is in a real run (where the collector is well under 1 % and an idle gateway's
~13.5 ms a second is ~2 µs a request), and it changes with how many requests the host let valgrind's
gateway serve (one build's Bedrock path: 882k and 900k per request at 1,884 and 1,343 requests). So after
the warm-up the gateway is left idle for `--idle` seconds, its instructions outside the collector then
counted, and that rate times the loaded run's length taken off before dividing by the requests; the
base's collector runs by allocation counts, which valgrind does not stretch. Compare the third figures.

Needs valgrind and wrk (Debian: apt-get install valgrind wrk). A run takes about a minute per gateway
(valgrind slows the gateway ~50 times; its requests' count, not their speed, is what matters).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Final

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench import processes  # noqa: E402
from bench.fixed_base import DEFAULT_BASE, install  # noqa: E402
from bench.jwt_issuer import Issuer  # noqa: E402
from bench.paths import PATHS  # noqa: E402

WARM_SECONDS: Final = 8
STARTUP_SECONDS: Final = 300.0  # valgrind's start of a Python program is slow
COLLECTOR: Final = "gcmodule.c:gc_collect_main ["


def measure(
    command: list[str],
    caller: str,
    seconds: int,
    upstream_port: int,
    scratch: Path,
    path: str | None = None,
    keep: Path | None = None,
    stream: bool = False,
    idle: int = 0,
    base: bool = False,
    cache_sim: bool = False,
    branch_sim: bool = False,
) -> tuple[int, int, int, int, dict[str, int]]:
    """(requests, instructions, instructions outside the cyclic collector, those less the clock's idle work over
    the same time) of one gateway's run: the fast path's request, or the gateway side of one of bench/paths.py's
    paths (with the bench's config, a static key). `idle`: the seconds the idle rate is measured over (0: none)."""
    port = processes.free_port()
    out = scratch / f"callgrind.{len(list(scratch.iterdir()))}"
    issuer = Issuer(processes.LOOPBACK) if caller == "jwt" else None
    extra = issuer.config() if issuer is not None else ""
    # A path's base takes the environment alone, as bench/run.py runs it (the fixed base refuses today's routed
    # models), unless it is a commit of this tree's history (`--same-caller`).
    configured = caller in ("governed", "jwt") or (path is not None and not base)
    config = ["--config", str(processes.gateway_config(extra))] if configured else []
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-line=no"]
    argv += ["--cache-sim=yes"] if cache_sim else []
    argv += ["--branch-sim=yes"] if branch_sim else []
    argv += command
    argv += ["serve", "--host", processes.LOOPBACK, "--port", str(port), "--log-level", "warning", *config]
    store = tempfile.mkdtemp(dir=scratch)
    log = (scratch / "gateway.log").open("ab")
    env = processes.gateway_env(upstream_port, store)
    if base:  # not the working tree's PYTHONPATH (bench/compiled.py's build, a tree's src/): the base imports itself
        env["PYTHONPATH"] = ""
    gateway = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
    try:
        _wait_healthy(port, gateway)
        # A JWT caller of team `bench` meets the same limits and budget as the governed path's virtual key.
        if issuer is not None:
            key = issuer.token()
        else:
            key = processes.GATEWAY_KEY if caller == "static" else processes.create_virtual_key(port)
        model = "gpt-4o-mini" if caller == "static" else "governed"
        body = f'{{"model":"{model}","messages":[{{"role":"user","content":"Hi"}}]}}'
        route = "/v1/chat/completions"
        if path is not None:
            side = PATHS[path].gateway
            body = (side.stream_body if stream else side.body).decode()
            route = (side.stream_route or side.route) if stream else side.route
        script = post_script(scratch, body, key)
        url = f"http://{processes.LOOPBACK}:{port}{route}"
        _wrk(url, script, WARM_SECONDS)
        idle_rate = 0.0  # instructions a second outside the collector, with no request
        if idle > 0:
            time.sleep(1.0)  # the last requests' writes settle
            subprocess.run(["callgrind_control", "-z", str(gateway.pid)], check=True, capture_output=True)
            started = time.monotonic()
            time.sleep(idle)
            subprocess.run(["callgrind_control", "-d", str(gateway.pid)], check=True, capture_output=True)
            elapsed = time.monotonic() - started
            dump = _newest_dump(out)
            idle_rate = (_total(dump) - _inclusive(dump, COLLECTOR)) / elapsed
        subprocess.run(["callgrind_control", "-z", str(gateway.pid)], check=True, capture_output=True)
        started = time.monotonic()
        requests = _wrk(url, script, seconds)
        subprocess.run(["callgrind_control", "-d", str(gateway.pid)], check=True, capture_output=True)
        elapsed = time.monotonic() - started
        dump = _newest_dump(out)
        if keep is not None:  # for callgrind_annotate: where the instructions go, by C function
            shutil.copy(dump, keep)
        total = _total(dump)
        outside = total - _inclusive(dump, COLLECTOR)
        return requests, total, outside, max(0, round(outside - idle_rate * elapsed)), _events(dump)
    finally:
        gateway.terminate()
        gateway.wait(60)
        log.close()
        if issuer is not None:
            issuer.close()


def post_script(scratch: Path, body: str, key: str) -> Path:
    """wrk's script: one POST of `body`, the caller's key in both headers an API may read it from."""
    script = scratch / "post.lua"
    script.write_text(
        f"wrk.method='POST'; wrk.body=[==[{body}]==]; wrk.headers['Content-Type']='application/json'; "
        f"wrk.headers['Authorization']='Bearer {key}'; wrk.headers['x-api-key']='{key}'"
    )
    return script


def _wait_healthy(port: int, gateway: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if gateway.poll() is not None:  # it failed to start: its log says why (not five minutes of polling)
            raise SystemExit(f"the gateway exited with {gateway.returncode} before it answered /health")
        try:
            with urllib.request.urlopen(f"http://{processes.LOOPBACK}:{port}/health", timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the gateway did not answer /health within {STARTUP_SECONDS:g} s under valgrind")


def _wrk(url: str, script: Path, seconds: int) -> int:
    result = subprocess.run(
        ["wrk", "-t1", "-c16", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    if "Non-2xx" in result.stdout:
        raise SystemExit(f"the gateway answered errors:\n{result.stdout}")
    found = re.search(r"(\d+) requests in", result.stdout)
    if found is None:
        raise SystemExit(f"wrk said:\n{result.stdout}{result.stderr}")
    return int(found.group(1))


def _newest_dump(out: Path) -> Path:
    dumps = sorted(out.parent.glob(out.name + ".*"), key=lambda path: path.stat().st_mtime)
    if not dumps:
        raise SystemExit("callgrind wrote no dump")
    return dumps[-1]


def _events(dump: Path) -> dict[str, int]:
    """Every event the dump counted over the run (with --cache-sim: the simulated caches' misses too)."""
    names: list[str] = []
    totals: list[str] = []
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith("events:"):
            names = line.split()[1:]
        elif line.startswith(("summary:", "totals:")):
            totals = line.split()[1:]
    return {name: int(value) for name, value in zip(names, totals, strict=False)}


# What --cache-sim and --branch-sim print: callgrind's event names and what they count.
CACHE_EVENTS: Final = (
    ("I1mr", "instruction L1 misses"),
    ("D1mr", "data L1 read misses"),
    ("D1mw", "data L1 write misses"),
    ("ILmr", "instruction last-level misses"),
    ("DLmr", "data last-level read misses"),
    ("DLmw", "data last-level write misses"),
)
BRANCH_EVENTS: Final = (
    ("Bc", "conditional branches"),
    ("Bcm", "mispredicted"),
    ("Bi", "indirect branches"),
    ("Bim", "mispredicted"),
)


def _print_events(events: dict[str, int], requests: int, shown: tuple[tuple[str, str], ...]) -> None:
    figures = ", ".join(f"{label} {events.get(event, 0) / requests / 1000:.1f} k" for event, label in shown)
    print(f"{'':>14}{figures} per request", flush=True)


def _total(dump: Path) -> int:
    total = 0
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            total = int(line.split()[1])
    return total


def _inclusive(dump: Path, function: str) -> int:
    listing = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(dump)], capture_output=True, text=True
    ).stdout
    for line in listing.splitlines():
        if function in line:
            return int(line.split()[0].replace(",", ""))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=DEFAULT_BASE, help="the commit to compare with; 'none': this tree only")
    parser.add_argument("--caller", choices=("static", "governed", "jwt"), default="static")
    parser.add_argument(
        "--same-caller",
        action="store_true",
        help="measure the base with --caller and the bench's config too (a commit of this tree's history)",
    )
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument(
        "--idle", type=int, default=10, help="seconds an idle gateway's clock work is measured over (0: not)"
    )
    parser.add_argument("--path", choices=tuple(PATHS), help="a path of bench/paths.py instead of the fast path")
    parser.add_argument("--stream", action="store_true", help="with --path: its streamed request")
    parser.add_argument(
        "--keep",
        type=Path,
        help="copy this tree's callgrind dump here (for callgrind_annotate); the base's beside it, as .base",
    )
    parser.add_argument(
        "--cache-sim",
        action="store_true",
        help="also simulate the caches: first-level instruction and data misses per request (slower, fewer requests)",
    )
    parser.add_argument(
        "--branch-sim",
        action="store_true",
        help="also simulate the branch predictors: mispredicted conditional and indirect branches per request",
    )
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (Debian: apt-get install valgrind wrk)")
    subjects = [("this tree", processes.gateway_command())]
    if args.base != "none":
        base = install(BENCH.parent, args.base, BENCH / "results" / "base-build.log")
        subjects.append((f"base {base.commit[:7]}", base.command))
    if args.caller in ("governed", "jwt") and args.base != "none" and not args.same_caller:
        print("note: the base has no virtual keys or JWT callers; it is measured with its static key", file=sys.stderr)
    children = processes.Children()
    try:
        upstream = processes.start_upstream(children, processes.Pinning.detect(False), 50, 1.0)
        figures = {}
        with tempfile.TemporaryDirectory() as scratch:
            for name, command in subjects:
                caller = args.caller if name == "this tree" or args.same_caller else "static"
                keep = args.keep if name == "this tree" or args.keep is None else args.keep.with_suffix(".base")
                run = (args.path, keep, args.stream)
                # The fixed base takes the environment alone; a base of this tree's history (--same-caller) knows
                # the bench's config, which the clouds' paths need.
                base = name != "this tree" and not args.same_caller
                figures[name] = measure(
                    command,
                    caller,
                    args.seconds,
                    upstream,
                    Path(scratch),
                    *run,
                    idle=args.idle,
                    base=base,
                    cache_sim=args.cache_sim,
                    branch_sim=args.branch_sim,
                )
                requests, total, outside, working, events = figures[name]
                print(
                    f"{name:>12}: {requests:6d} requests, {total / requests / 1000:7.1f} k instructions per request,"
                    f" {outside / requests / 1000:7.1f} k without the cyclic collector"
                    + (f", {working / requests / 1000:7.1f} k without the clock's idle work" if args.idle else ""),
                    flush=True,
                )
                # The collector's and the clock's share are in these (not taken off).
                if args.cache_sim:
                    _print_events(events, requests, CACHE_EVENTS)
                if args.branch_sim:
                    _print_events(events, requests, BRANCH_EVENTS)
    finally:
        children.stop_all()
    if len(figures) == 2:
        (mine, theirs) = (figures[name] for name, _ in subjects)
        ratio = (mine[2] / mine[0]) / (theirs[2] / theirs[0])
        print(f"ratio (without the collector): {ratio:.2f}x the base")
        if args.idle and theirs[3]:
            ratio = (mine[3] / mine[0]) / (theirs[3] / theirs[0])
            print(f"ratio (without the collector and the clock's idle work): {ratio:.2f}x the base")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
