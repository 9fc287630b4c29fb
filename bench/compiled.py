"""A trial of the compiled hot path: the gateway's request-path modules built with mypyc, measured by
instructions per request against the same tree as plain Python (issue 29's next step, docs/performance.md).

    .venv/bin/python bench/compiled.py                     # build, then static and governed, plain and compiled
    .venv/bin/python bench/compiled.py --callers static    # one caller
    .venv/bin/python bench/compiled.py --test -q tests/integration/test_routing.py   # pytest, on the compiled copy

The tree's `src/babelgate` is copied to a scratch directory, the modules below are compiled there with the
venv's mypyc (shipped with mypy: nothing to install), and the gateway runs from the copy (`PYTHONPATH`,
ahead of the venv's editable install), so the working tree and its venv are left as they are. Nothing here
is how babelgate is installed: a trial, to measure what compiling would buy and find what it breaks.

What mypyc cannot take, and is left as Python (with why): async generators (it has none yet: `http/body.py`,
the OpenAI provider, `providers/transport.py`, `response_cache.py`); classes that plain Python classes
inherit from (`providers/base.py`: every provider subclasses it; a compiled class cannot be subclassed by
an interpreted one unless it says so); code that trusts a library's annotations where they are not true at
run time (`server_protocol.py`: it compiles, but its refusal of a slow client reads the path from uvicorn's
request scope, whose type says it always has one, before the request line has come, and the compiled check
raised `TypeError: str object expected; got None`); a class whose instances are weakly referenced
(`providers/key_pool.py`: compiled, a freed pool left its entry in the module's `WeakSet` dangling, and the
next walk of the set crashed the process).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

# The modules a fast-path request runs (static key and governed), as `bench/profile_fast_path.py calls
# --top 1000` lists them, less those mypyc cannot take (above).
HOT: Final = (
    "accounting.py",
    "answer.py",
    "app.py",
    "call.py",
    "exchange.py",
    "frontends/openai_chat/dialects.py",
    "frontends/openai_chat/routes.py",
    "frontends/openai_validation.py",
    "governance/admission.py",
    "governance/alerts.py",
    "governance/budgets.py",
    "governance/directory.py",
    "governance/gateway_keys.py",
    "governance/ledger.py",
    "governance/rate_limits.py",
    "governance/rules/budget.py",
    "governance/rules/limits.py",
    "governance/virtual_keys.py",
    "http/client.py",
    "http/connection.py",
    "http/pool.py",
    "model_facts.py",
    "observability/metrics.py",
    "observability/request_id.py",
    "pipeline.py",
    "providers/openai/profiles.py",
    "providers/openai/translate.py",
    "routing/registry.py",
    "store/cached.py",
    "store/polled.py",
    "store/sqlite.py",
    "store/timed.py",
)


def build(scratch: Path) -> Path:
    """The copy of the package with HOT compiled next to its sources; returns the directory for PYTHONPATH."""
    src = scratch / "src"
    shutil.copytree(ROOT / "src" / "babelgate", src / "babelgate", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    mypyc = Path(sys.executable).parent / "mypyc"
    if not mypyc.exists():
        sys.exit("mypyc is needed: it comes with mypy (make install)")
    files = [f"babelgate/{name}" for name in HOT]
    print(f"compiling {len(files)} modules with mypyc (a minute or two) ...", flush=True)
    log = scratch / "mypyc.log"
    with log.open("wb") as out:
        done = subprocess.run([str(mypyc), *files], cwd=src, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        errors = [line for line in log.read_text().splitlines() if "error" in line and not line.startswith("gcc")]
        sys.exit("mypyc failed:\n" + "\n".join(errors[-20:] or log.read_text().splitlines()[-20:]))
    return src


def instructions(caller: str, pythonpath: Path | None, seconds: int) -> str:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    argv = [sys.executable, str(BENCH / "instructions.py"), "--base", "none", "--caller", caller]
    done = subprocess.run([*argv, "--seconds", str(seconds)], env=env, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        sys.exit(f"instructions.py failed:\n{done.stdout}{done.stderr}")
    return lines[-1].split(":", 1)[1].strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callers", default="static,governed", help="comma-separated: static, governed, jwt")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--test", action="store_true", help="run pytest (the other arguments) on the compiled copy")
    args, pytest_args = parser.parse_known_args()
    if pytest_args and not args.test:
        parser.error(f"unrecognized arguments: {' '.join(pytest_args)}")
    with tempfile.TemporaryDirectory(prefix="babelgate-compiled-") as scratch:
        src = build(Path(scratch))
        if args.test:
            env = {**os.environ, "PYTHONPATH": str(src)}
            pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *pytest_args]
            return subprocess.run(pytest, env=env).returncode
        for caller in args.callers.split(","):
            for name, path in (("plain Python", None), ("compiled", src)):
                print(f"{caller:>9}, {name:>12}: {instructions(caller, path, args.seconds)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
