"""The coding agents the suite drives, installed from the npm registry at the versions package-lock.json
pins, once per lockfile into a cache outside the work tree (~/.cache/babelgate/agents/<lock hash>).

Both agents ship native binaries inside registry packages (per-platform optional dependencies), so
`npm ci` is all it takes; it runs under a file lock so parallel test runs share one install. Without
Node.js the agent tests skip with a reason — except where the suite must prove them (`CI` or
`BABELGATE_REQUIRE_SERVICES=1`): there a missing npm or a failed install fails the run.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

HERE: Final = Path(__file__).parent
LOCKFILE: Final = HERE / "package-lock.json"
INSTALL_TIMEOUT_S: Final = 600


@dataclass(frozen=True)
class Agents:
    claude: Path
    codex: Path


class AgentsMissing(Exception):
    """The agents cannot be had on this machine (no Node.js)."""


def required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("BABELGATE_REQUIRE_SERVICES") == "1"


def cache_dir() -> Path:
    digest = hashlib.sha256(LOCKFILE.read_bytes() + (HERE / "package.json").read_bytes()).hexdigest()[:16]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "babelgate" / "agents" / digest


def install() -> Agents:
    """The installed agents' executables, installing them first if this lockfile's install is missing."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise AgentsMissing("Node.js and npm are not installed: the coding-agent tests need them")
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    agents = Agents(claude=target / "node_modules" / ".bin" / "claude",
                    codex=target / "node_modules" / ".bin" / "codex")
    with (target / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / ".complete").exists() and agents.claude.exists() and agents.codex.exists():
            return agents
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(HERE / name, target / name)
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=target, capture_output=True,
            text=True, timeout=INSTALL_TIMEOUT_S, check=False)
        if result.returncode != 0 or not (agents.claude.exists() and agents.codex.exists()):
            raise RuntimeError(f"npm ci of the coding agents failed ({result.returncode}):\n"
                               f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        (target / ".complete").touch()
    return agents
