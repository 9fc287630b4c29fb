"""Strands Agents in a virtual environment of its own, outside the work tree (~/.cache/babelgate/strands/<hash>):
`strands-agents` pins `mcp<2.2`, which the gateway's own `mcp>=2.3` excludes, so it cannot join the dev extra.
Installed once per requirement, under a file lock so parallel runs share it; without the package index (or when
the install fails) the tests that need it skip, except where the suite must prove them (install.required())."""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Final

REQUIREMENT: Final = "strands-agents==1.62.0"
INSTALL_TIMEOUT_S: Final = 600


class StrandsMissing(Exception):
    """Strands Agents cannot be installed on this machine."""


def venv_dir() -> Path:
    digest = hashlib.sha256(REQUIREMENT.encode()).hexdigest()[:16]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "babelgate" / "strands" / digest


def python() -> Path:
    """The venv's interpreter, the venv made and Strands installed first if they are not there."""
    where = venv_dir()
    interpreter = where / "bin" / "python"
    where.parent.mkdir(parents=True, exist_ok=True)
    with open(where.parent / f"{where.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = where / "installed"
        if done.exists():
            return interpreter
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(where)], check=True, timeout=120)
            subprocess.run(
                [str(interpreter), "-m", "pip", "install", "-q", REQUIREMENT],
                check=True,
                timeout=INSTALL_TIMEOUT_S,
                capture_output=True,
            )
            subprocess.run([str(interpreter), "-c", "import strands"], check=True, timeout=60)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            detail = getattr(error, "stderr", b"") or b""
            raise StrandsMissing(f"{REQUIREMENT} could not be installed: {error} {detail[-500:]!r}") from None
        done.write_text(REQUIREMENT)
        return interpreter
