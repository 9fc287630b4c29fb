"""Gateway CPU per fast-path request of several variants of the gateway, side by side in one run: what a part of
the request path costs in CPU time, where `bench/instructions.py` says what it costs in instructions.

    .venv/bin/python bench/variants.py tree noledger=/tmp/noledger/src base=267719c [--caller governed]

A variant is `NAME` (this tree), `NAME=PATH` (this tree's interpreter and dependencies with the `babelgate`
package of another `src/` folder first on PYTHONPATH: a copy of `src/` with one part changed or turned off) or
`NAME=COMMIT` (another commit, installed into its own venv as `--base` builds it; with the environment alone, no
config, as `make bench` runs the fixed base). All of them serve at once, each pinned to the gateway's core, and
are measured in turns: wrk (c=16) for `--seconds` against each, `--repeats` rounds after a warm-up round, each
run's CPU read from /proc (the process's, all threads, user and system apart). Medians of the rounds are printed
with every round's figure and wrk's p99.

An ablation is not a feature to turn off: it is a figure of what that feature costs, measured against the same
tree on the same host in the same minute (`docs/performance.md`).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from fixed_base import install
from loadgen import Target, request_body, run_streams, run_wrk
from processes import (
    GATEWAY_KEY,
    LOOPBACK,
    RESULTS,
    Children,
    Pinning,
    create_virtual_key,
    start_gateway,
    start_upstream,
)
from procfs import process_cpu_split, process_events

ROOT: Final = Path(__file__).resolve().parent.parent
STREAM_CHUNKS: Final = 50  # as `make bench` streams


@dataclass
class Variant:
    name: str
    source: Path | None = None  # another src/ folder, first on PYTHONPATH
    commit: str | None = None  # another commit, in its own venv
    per_request: list[float] = field(default_factory=list)  # CPU µs per request, per round
    user: list[float] = field(default_factory=list)
    system: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    faults: list[float] = field(default_factory=list)  # minor page faults per request, per round
    switches: list[float] = field(default_factory=list)  # context switches per request, per round
    samples: dict[str, float] = field(default_factory=dict)  # `--perf`: µs per request by "library symbol"


def parse_variant(text: str) -> Variant:
    name, _, where = text.partition("=")
    if not where:
        return Variant(name)
    if Path(where).is_dir():
        if not (Path(where) / "babelgate").is_dir():
            raise SystemExit(f"{where} holds no babelgate package (give a copy of src/)")
        return Variant(name, source=Path(where).resolve())
    return Variant(name, commit=where)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="+", help="NAME, NAME=SRC_FOLDER or NAME=COMMIT")
    parser.add_argument("--caller", choices=("static", "governed"), default="static")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stream", action="store_true", help="50-chunk streams (the raw stream client), not wrk")
    parser.add_argument(
        "--perf",
        type=int,
        default=0,
        metavar="N",
        help="sample each variant's last round with `perf record -e cpu-clock` and print the N costliest symbols"
        " side by side, in µs per request (or stream): where CPU time goes beyond the instruction count",
    )
    args = parser.parse_args()
    if args.perf and shutil.which("perf") is None:
        parser.error("--perf needs `perf` on PATH (Debian: apt-get install linux-perf)")
    variants = [parse_variant(text) for text in args.variants]
    pin = Pinning.detect(True)
    pin.pin_self()
    children = Children()
    try:
        upstream = start_upstream(children, pin, STREAM_CHUNKS, 1.0)
        targets = []
        for variant in variants:
            command = None
            env = {}
            if variant.commit is not None:
                command = install(ROOT, variant.commit, RESULTS / f"variant-{variant.name}-install.log").command
                env["PYTHONPATH"] = ""  # the other commit imports itself
            elif variant.source is not None:
                env["PYTHONPATH"] = str(variant.source)
            config = command is None
            process, port = start_gateway(
                children,
                pin,
                upstream,
                tempfile.mkdtemp(prefix="babelgate-variant-"),
                env=env,
                command=command,
                config=config,
                log_name=f"variant-{variant.name}.log",
            )
            key, model = GATEWAY_KEY, "gpt-4o-mini"
            if args.caller == "governed":
                if not config:
                    raise SystemExit(f"{variant.name}: a commit's variant has no governed caller (no config)")
                key, model = create_virtual_key(port), "governed"
            url = f"http://{LOOPBACK}:{port}/v1/chat/completions"
            targets.append(
                (
                    variant,
                    process.pid,
                    Target(
                        variant.name,
                        url,
                        key,
                        body=request_body(False, model=model),
                        stream_body=request_body(True, model=model),
                    ),
                )
            )
        for round_ in range(args.repeats + 1):  # the first round warms every gateway up
            for variant, pid, target in targets:
                user0, system0 = process_cpu_split(pid)
                faults0, switches0 = process_events(pid)
                duration = args.seconds if round_ else 2
                sampler = start_perf(pid, variant.name) if args.perf and round_ == args.repeats else None
                stats = asyncio.run(
                    run_streams(target, concurrency=16, duration=duration, chunks=STREAM_CHUNKS, cpu=None)
                    if args.stream
                    else run_wrk(target, concurrency=16, duration=duration, cpu=None, pin=pin.prefix(pin.load_cpu))
                )
                user1, system1 = process_cpu_split(pid)
                faults1, switches1 = process_events(pid)
                if sampler is not None:
                    variant.samples = stop_perf(sampler, stats.requests)
                if stats.errors or not stats.requests:
                    raise SystemExit(f"{variant.name}: {stats.error_samples or 'no requests served'}")
                if round_:
                    user, system = (user1 - user0) / stats.requests * 1e6, (system1 - system0) / stats.requests * 1e6
                    variant.per_request.append(user + system)
                    variant.user.append(user)
                    variant.system.append(system)
                    variant.p99_ms.append((stats.p99_s or 0.0) * 1e3)
                    variant.faults.append((faults1 - faults0) / stats.requests)
                    variant.switches.append((switches1 - switches0) / stats.requests)
    finally:
        children.stop_all()
    first = statistics.median(variants[0].per_request)
    unit = "stream" if args.stream else "request"
    print(f"gateway CPU per {unit} at c=16, {args.caller} caller, medians of {args.repeats} rounds of {args.seconds} s")
    for variant in variants:
        median = statistics.median(variant.per_request)
        print(
            f"{variant.name:>16}  {median:7.1f} µs ({median / first:.2f}x {variants[0].name})"
            f"  user {statistics.median(variant.user):6.1f}  system {statistics.median(variant.system):5.1f}"
            f"  rounds {' '.join(f'{x:.1f}' for x in variant.per_request)}"
            f"  p99 {' '.join(f'{x:.2f}' for x in variant.p99_ms)} ms"
            f"  per request: faults {statistics.median(variant.faults):.3f}"
            f" switches {statistics.median(variant.switches):.3f}"
        )

    if args.perf:
        print_perf(variants, args.perf, unit)


PERF_HZ: Final = 2999  # samples a second; off the 1 kHz and 100 Hz clocks of the loop and the collector


@dataclass
class Sampler:
    process: subprocess.Popen[bytes]
    data: Path


def start_perf(pid: int, name: str) -> Sampler:
    data = RESULTS / f"perf-{name}.data"
    command = ["perf", "record", "-q", "-e", "cpu-clock", "-F", str(PERF_HZ), "-p", str(pid), "-o", str(data)]
    return Sampler(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), data)


def stop_perf(sampler: Sampler, requests: int) -> dict[str, float]:
    """µs per request by `library symbol` (a sample is 1/PERF_HZ s of one thread's CPU)."""
    sampler.process.send_signal(signal.SIGINT)
    sampler.process.wait(timeout=30)
    report = subprocess.run(
        [
            "perf",
            "report",
            "-i",
            str(sampler.data),
            "--stdio",
            "--no-children",
            "-g",
            "none",
            "--sort",
            "dso,sym",
            "-F",
            "sample,dso,sym",
            "--field-separator",
            "\t",
        ],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    per_request: dict[str, float] = {}
    for line in report.splitlines():
        fields = line.split("\t")
        if line.startswith("#") or len(fields) < 3 or not fields[0].strip().isdigit():
            continue
        library = Path(fields[1].strip()).name.split(".so")[0]
        symbol = fields[2].strip().removeprefix("[k] ").removeprefix("[.] ")
        key = f"{library} {symbol}"
        per_request[key] = per_request.get(key, 0.0) + int(fields[0]) / PERF_HZ / requests * 1e6
    return per_request


def print_perf(variants: list[Variant], top: int, unit: str) -> None:
    """Each variant's µs per request side by side: by library, then by symbol (the costliest `top` of each)."""
    names = [variant.name for variant in variants]
    print(f"\nperf (cpu-clock, {PERF_HZ} Hz, the last round): µs per {unit}")
    for title, keyed in (("by library", _by_library), ("by symbol", lambda samples: samples)):
        tables = [keyed(variant.samples) for variant in variants]
        keys = sorted({key for table in tables for key in table}, key=lambda key: -max(t.get(key, 0.0) for t in tables))
        print(f"{title:<60}" + "".join(f"{name:>12}" for name in names))
        for key in keys[:top]:
            print(f"{key[:60]:<60}" + "".join(f"{table.get(key, 0.0):12.2f}" for table in tables))


def _by_library(samples: dict[str, float]) -> dict[str, float]:
    libraries: dict[str, float] = {}
    for key, value in samples.items():
        library = key.split(" ", 1)[0]
        libraries[library] = libraries.get(library, 0.0) + value
    return libraries


if __name__ == "__main__":
    sys.exit(main())
