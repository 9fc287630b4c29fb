"""The compiled hot path (buildtools/babelgate_build.py: the request path's modules built with mypyc), measured
and tested against the same tree as plain Python (docs/performance.md, "The compiled build").

    .venv/bin/python bench/compiled.py                     # build, then static and governed, plain and compiled
    .venv/bin/python bench/compiled.py --callers static    # one caller
    .venv/bin/python bench/compiled.py --test -q tests/integration/test_routing.py   # pytest, on the compiled build
    .venv/bin/python bench/compiled.py --bench [run.py's arguments]                  # make bench, compiled

The compiled wheel is built as a user's is (`BABELGATE_COMPILE=1`, the project's own build backend), with the
venv's mypy and dependencies (no build isolation: nothing to download), into a scratch directory, and unpacked
there; the gateway and the tests import it ahead of the venv's editable install (`PYTHONPATH`), so the working
tree and its venv are left as they are. The unpacked build is kept in build/compiled/ (ignored by git) under a
digest of everything that shapes it (the package's sources, the build's own files, the Python and mypy that
built it): a run on an unchanged tree, the usual second `make test` before a commit, builds nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


BUILDS = ROOT / "build" / "compiled"
KEPT_BUILDS = 2  # the newest builds kept: the tree as it is, and as it was before the last change


def digest(root: Path = ROOT) -> str:
    """What the compiled build depends on: any change to it is a new build. All of the package, not only
    HOT: mypyc reads the modules a compiled one imports (their types, their Final constants), and the wheel
    carries the package's data (locales, schemas, the dashboard)."""
    package = [path for path in (root / "src" / "babelgate").rglob("*") if path.is_file() and not _cached(path)]
    inputs = sorted([*package, *(root / "buildtools").glob("*.py"), root / "setup.py", root / "pyproject.toml"])
    hashed = hashlib.sha256(f"{sys.version} mypy {importlib.metadata.version('mypy')}".encode())
    for path in inputs:
        hashed.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return hashed.hexdigest()[:16]


def _cached(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix in (".so", ".pyc")


def kept_build(split: bool) -> Path:
    """The unpacked build of this tree, built unless a run on the same tree already did. `split`: the test suite's
    build (buildtools/babelgate_build.py's SPLIT_ENV), the same modules compiled from one C file each."""
    target = BUILDS / (digest() + ("-split" if split else ""))
    site = target / "site"
    if site.is_dir():
        print(f"the compiled build of this tree is already built ({site.relative_to(ROOT)})", flush=True)
        return site
    scratch = Path(tempfile.mkdtemp(prefix="babelgate-compiled-"))
    try:
        built = build(scratch, split)
        target.mkdir(parents=True, exist_ok=True)
        shutil.move(str(built), site)  # a finished build only: an interrupted one is never found
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for old in sorted(BUILDS.iterdir(), key=lambda path: path.stat().st_mtime, reverse=True)[KEPT_BUILDS:]:
        shutil.rmtree(old, ignore_errors=True)
    return site


def build(scratch: Path, split: bool = False) -> Path:
    """The compiled wheel, built and unpacked in `scratch`; returns the directory for PYTHONPATH."""
    wheels = scratch / "wheel"
    log = scratch / "build.log"
    print("building the compiled wheel (mypyc: a few minutes the first time) ...", flush=True)
    # setuptools packs everything under build/lib*: a module compiled by an earlier build and since taken out
    # of HOT would ship there still.
    for stale in (*ROOT.glob("build/lib.*"), *ROOT.glob("build/bdist.*")):
        shutil.rmtree(stale)
    env = {**os.environ, "BABELGATE_COMPILE": "1", "BABELGATE_COMPILE_SPLIT": "1" if split else ""}
    pip = [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--wheel-dir", str(wheels)]
    scratch.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        done = subprocess.run([*pip, str(ROOT)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        lines = log.read_text().splitlines()
        errors = [line for line in lines if "error" in line and not line.startswith("gcc")]
        sys.exit("the compiled build failed:\n" + "\n".join(errors[-20:] or lines[-20:]))
    site = scratch / "site"
    with zipfile.ZipFile(next(wheels.glob("babelgate-*.whl"))) as wheel:
        compiled = [name for name in wheel.namelist() if name.endswith(".so")]
        if not compiled:
            sys.exit("the wheel holds no compiled module: is mypy installed in the venv (make install)?")
        libraries = [name for name in compiled if "__mypyc" in name]
        if len(libraries) != 1:  # another build wrote into build/ meanwhile (one interrupted, its pip still running)
            sys.exit(f"the wheel holds {len(libraries)} mypyc libraries, not one: stop any other build, build again")
        wheel.extractall(site)
    return site


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
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--test", action="store_true", help="run pytest (the other arguments) on the compiled build")
    mode.add_argument("--bench", action="store_true", help="run bench/run.py (the other arguments) on it")
    args, passed = parser.parse_known_args()
    if passed and not (args.test or args.bench):
        parser.error(f"unrecognized arguments: {' '.join(passed)}")
    src = kept_build(split=args.test)
    if args.test or args.bench:
        env = {**os.environ, "PYTHONPATH": str(src)}
        if args.test:
            command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *passed]
        else:  # the working tree's side of the run is the compiled build; the base stays itself
            command = [sys.executable, str(BENCH / "run.py"), *passed]
        return subprocess.run(command, env=env).returncode
    for caller in args.callers.split(","):
        for name, path in (("plain Python", None), ("compiled", src)):
            print(f"{caller:>9}, {name:>12}: {instructions(caller, path, args.seconds)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
