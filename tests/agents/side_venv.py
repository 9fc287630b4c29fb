"""Agent SDKs in virtual environments of their own, outside the work tree (~/.cache/babelgate/<name>/<hash>),
for those whose pins the gateway's own dependencies exclude, so they cannot join the dev extra:
`strands-agents` pins `mcp<2.2` (the gateway has `mcp>=2.3`); `google-adk` would take an older `google-genai`.
Each is installed once per set of requirements, under a file lock so parallel runs share it; without the package
index (or when the install fails) the tests that need it skip, except where the suite must prove them
(install.required(): there they fail)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from tests.agents.install import required

INSTALL_TIMEOUT_S: Final = 600


@dataclass(frozen=True)
class SideVenv:
    """One venv: its directory's name under the cache, what pip installs in it, and a module that must import."""

    name: str
    requirements: tuple[str, ...]
    module: str


STRANDS: Final = SideVenv("strands", ("strands-agents==1.62.0",), "strands")
ADK: Final = SideVenv("adk", ("google-adk>=2.13,<2.14",), "google.adk")


class SideVenvMissing(Exception):
    """The venv's packages cannot be installed on this machine."""


def venv_dir(venv: SideVenv) -> Path:
    digest = hashlib.sha256(" ".join(venv.requirements).encode()).hexdigest()[:16]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "babelgate" / venv.name / digest


def python(venv: SideVenv) -> Path:
    """The venv's interpreter, the venv made and its packages installed first if they are not there."""
    where = venv_dir(venv)
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
                [str(interpreter), "-m", "pip", "install", "-q", *venv.requirements],
                check=True,
                timeout=INSTALL_TIMEOUT_S,
                capture_output=True,
            )
            subprocess.run([str(interpreter), "-c", f"import {venv.module}"], check=True, timeout=60)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            detail = getattr(error, "stderr", b"") or b""
            wanted = " ".join(venv.requirements)
            raise SideVenvMissing(f"{wanted} could not be installed: {error} {detail[-500:]!r}") from None
        done.write_text("\n".join(venv.requirements))
        return interpreter


def python_or_skip(venv: SideVenv) -> Path:
    """python(venv) for a test: it skips saying why when the venv cannot be made, or fails where it must run."""
    try:
        return python(venv)
    except SideVenvMissing as missing:
        if required():
            pytest.fail(f"{missing} (required here: CI or BABELGATE_REQUIRE_SERVICES=1)")
        pytest.skip(str(missing))
