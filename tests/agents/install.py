"""The coding agents the suite drives, installed from the npm registry at the versions package-lock.json
pins, once per lockfile into a cache outside the work tree (~/.cache/babelgate/agents/<lock hash>).

Claude Code, Codex, opencode, Copilot CLI, Kilo Code CLI and Cline ship native binaries inside registry
packages (per-platform optional dependencies); Gemini CLI and Qwen Code are bundled Node.js scripts.
Copilot's, Kilo's and Cline's launchers find their platform package themselves, with no install step;
Copilot unpacks its bundled package (235 MB) on first start into `copilot-cache` beside the install, where
the tests point it (COPILOT_CACHE_HOME) rather than into each test's home.
`npm ci --ignore-scripts` fetches them; the install steps that matter, Claude Code's and opencode's
postinstalls (each links its platform package's binary over a `bin/*.exe` placeholder), are then run by
name, so the result is the same whatever the machine's npm says about install scripts. Every agent must then
report its pinned version before the install counts as done. It all runs under a file lock so
parallel test runs share one install. Without Node.js the agent tests skip with a reason — except
where the suite must prove them (`CI` or `BABELGATE_REQUIRE_SERVICES=1`): there a missing npm fails
the run. A failed install fails it everywhere.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
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
    gemini: Path
    qwen: Path
    opencode: Path
    copilot: Path
    kilo: Path
    cline: Path

    def paths(self) -> tuple[Path, ...]:
        return (self.claude, self.codex, self.gemini, self.qwen, self.opencode, self.copilot, self.kilo, self.cline)


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
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise AgentsMissing("Node.js and npm are not installed: the coding-agent tests need them")
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    bin_dir = target / "node_modules" / ".bin"
    names = ("claude", "codex", "gemini", "qwen", "opencode", "copilot", "kilo", "cline")
    agents = Agents(*(bin_dir / name for name in names))
    with (target / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / ".complete").exists() and all(path.exists() for path in agents.paths()):
            return agents
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(HERE / name, target / name)
        _step([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], target)
        _step([node, "install.cjs"], target / "node_modules" / "@anthropic-ai" / "claude-code")
        _step([node, "postinstall.mjs"], target / "node_modules" / "opencode-ai")
        pinned = json.loads((HERE / "package.json").read_text())["dependencies"]
        copilot_cache = target / "copilot-cache"  # where the tests point COPILOT_CACHE_HOME (harness.py)
        for executable, package in (
            (agents.claude, "@anthropic-ai/claude-code"),
            (agents.codex, "@openai/codex"),
            (agents.gemini, "@google/gemini-cli"),
            (agents.qwen, "@qwen-code/qwen-code"),
            (agents.opencode, "opencode-ai"),
            (agents.copilot, "@github/copilot"),
            (agents.kilo, "@kilocode/cli"),
            (agents.cline, "cline"),
        ):
            printed = _step([str(executable), "--version"], target, {"COPILOT_CACHE_HOME": str(copilot_cache)})
            if pinned[package] not in printed:
                raise RuntimeError(f"{executable} reports {printed.strip()!r}, not {package} {pinned[package]}")
        (target / ".complete").touch()
    return agents


def _step(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """One install command; its output, or a RuntimeError that quotes it."""
    result = subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"installing the coding agents: {' '.join(argv)} failed ({result.returncode}) in {cwd}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result.stdout
