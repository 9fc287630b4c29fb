"""The fixed base that `make bench` measures the working tree against: a commit from the repository's own
history, installed once into a venv of its own in a cache folder outside the source tree, and reused.

Speed is measured against one fixed base (267719c, the gateway before governance, clouds and MCP
arrived), interleaved with the working tree in the same run, because comparing each change with the one
before hides drift (docs/decisions.md, "Speed against a fixed base").
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

DEFAULT_BASE: Final = "267719c"
CACHE_ENV: Final = "BABELGATE_BENCH_CACHE"  # overrides the cache folder (default: $XDG_CACHE_HOME/babelgate-bench)
READY: Final = "ready"  # written last: a folder without it is a build that did not finish
PIP_TIMEOUT: Final = 900.0


@dataclass(frozen=True, slots=True)
class Base:
    """An installed base: its commit and the command that serves it."""

    commit: str  # the full hash
    name: str  # as asked for (`--base`), for the report
    folder: Path

    @property
    def short(self) -> str:
        return self.commit[:7]

    @property
    def command(self) -> list[str]:
        return [str(self.folder / "venv" / "bin" / "babelgate")]


def cache_root() -> Path:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "babelgate-bench"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=120, check=False)


def resolve(root: Path, name: str) -> str | None:
    """The full hash of `name` in the repository at `root`, or None when its history lacks it (a shallow
    clone, an unpacked sdist) or git is missing."""
    try:
        found = _git(root, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    except (OSError, subprocess.TimeoutExpired):
        return None
    if found.returncode != 0:
        return None
    return found.stdout.decode().strip() or None


def _constraints() -> str:
    """The third-party versions of the venv running the bench, to install the base with: the ratio then
    measures babelgate's code, not a newer uvicorn or orjson."""
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout
    return "".join(line + "\n" for line in frozen.splitlines() if "==" in line and not line.startswith("babelgate=="))


def install(root: Path, name: str, log: Path) -> Base:
    """The base `name` of the repository at `root`, built on first use; raises RuntimeError saying why not.

    The source comes from `git archive` (the commit's tree exactly, whatever the working tree holds), and is
    installed with pip into a venv of the interpreter running the bench, with the same versions of the
    dependencies both share. The folder is named by the commit and a hash of those versions and the Python, so
    a dependency upgrade builds the base anew. It is built in place (a venv's scripts name its path) under a
    lock, and marked ready last, so an interrupted build is never taken for a finished one."""
    commit = resolve(root, name)
    if commit is None:
        raise RuntimeError(
            f"the git history here has no commit {name} (a shallow clone or a copy without .git?); "
            "fetch it (git fetch --unshallow) to compare against it"
        )
    constraints = _constraints()
    digest = hashlib.sha256((sys.version + constraints).encode()).hexdigest()[:8]
    folder = cache_root() / f"{commit[:12]}-{digest}"
    base = Base(commit, name, folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run building the same base: wait for it, then reuse its build
        if (folder / READY).exists() and Path(base.command[0]).exists():
            return base
        shutil.rmtree(folder, ignore_errors=True)  # a build that did not finish
        print(
            f"bench: installing the base {name} ({commit[:12]}) into {folder} (once; later runs reuse it)",
            file=sys.stderr,
            flush=True,
        )
        folder.mkdir()
        (folder / "constraints.txt").write_text(constraints)
        log.parent.mkdir(parents=True, exist_ok=True)  # a fresh checkout has no results folder yet
        with log.open("wb") as output:
            _build(root, commit, folder, output)
        (folder / READY).write_text(commit + "\n")
    return base


def _build(root: Path, commit: str, folder: Path, output: IO[bytes]) -> None:
    source = folder / "src"
    source.mkdir()
    with tempfile.TemporaryFile() as archive:
        done = subprocess.run(
            ["git", "-C", str(root), "archive", "--format=tar", commit],
            stdout=archive,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"git archive {commit[:12]} failed: {done.stderr.decode(errors='replace').strip()}")
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            tar.extractall(source, filter="data")
    venv = folder / "venv"
    python = str(venv / "bin" / "python")
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [python, "-m", "pip", "install", "--quiet", "-c", str(folder / "constraints.txt"), str(source)],
    ]
    for argv in steps:
        try:
            done = subprocess.run(argv, stdout=output, stderr=subprocess.STDOUT, timeout=PIP_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{' '.join(argv[1:4])} took over {PIP_TIMEOUT:.0f} s") from None
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[1:4])} failed (exit {done.returncode}); see {output.name}")
