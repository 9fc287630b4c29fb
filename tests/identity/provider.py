"""The real OpenID provider of the sign-in tests (provider.mjs: the certified `oidc-provider` npm package),
installed from the npm registry at the version package-lock.json pins, once per lockfile, into a cache
outside the work tree (~/.cache/babelgate/identity/<lock hash>), as tests/agents/install.py installs the
agents; then run on 127.0.0.1 and a free port. Without Node.js the tests skip (fail under
BABELGATE_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from tests.services import unavailable

HERE: Final = Path(__file__).parent
CLIENT_ID: Final = "babelgate-dashboard"
CLIENT_SECRET: Final = "client-secret-of-the-identity-tests-0123456789"


def install() -> Path:
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        unavailable("Node.js and npm are not installed: the OpenID provider needs them")
    files = ("package.json", "package-lock.json")
    digest = hashlib.sha256(b"".join((HERE / name).read_bytes() for name in files)).hexdigest()[:16]
    target = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "babelgate" / "identity" / digest
    target.mkdir(parents=True, exist_ok=True)
    with (target / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            for name in files:
                shutil.copyfile(HERE / name, target / name)
            done = subprocess.run(
                [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=target,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(
                    f"npm ci of the OpenID provider failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
                )
            (target / ".complete").touch()
        shutil.copyfile(HERE / "provider.mjs", target / "provider.mjs")  # the script, fresh each run
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running(redirect_uri: str, after_logout: str, *, port: int = 0) -> Iterator[str]:
    """The provider's issuer URL while it runs (on `port`, or a free one)."""
    folder = install()
    port = port or free_port()
    process = subprocess.Popen(
        [
            shutil.which("node") or "node",
            "provider.mjs",
            str(port),
            CLIENT_ID,
            CLIENT_SECRET,
            redirect_uri,
            after_logout,
        ],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # its development-mode warnings
        text=True,
    )
    try:
        assert process.stdout is not None
        printed = [process.stdout.readline() for _ in range(1)]
        while "ready" not in printed[-1] and printed[-1] and len(printed) < 50:  # its warnings come first
            printed.append(process.stdout.readline())
        if "ready" not in printed[-1]:
            process.kill()
            raise RuntimeError(f"the OpenID provider did not start: {''.join(printed)}")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stdout is not None:
            process.stdout.close()
