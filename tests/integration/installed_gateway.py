"""The package as a user gets it, for the packaging tests (the plain wheel's, test_packaging.py, and the compiled
one's, test_compiled_packaging.py): `python -m build` makes the sdist and, from it, the wheel, in build's isolated
environment; the wheel goes into a fresh venv with nothing but its runtime dependencies; `babelgate serve` from
that venv answers the official client."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.integration.test_cli_serve import _env, _free_port


def _without_source_tree(extra: dict[str, str] | None = None) -> dict[str, str]:
    # With a PYTHONPATH that holds babelgate (the worktree's, or the compiled suite's run), pip would find it
    # installed already and leave out the wheel, and the venv's gateway would import the source tree.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return {**env, **(extra or {})}


def build_dist(source: Path, out: Path, env: dict[str, str] | None = None, timeout: float = 600) -> Path:
    """The sdist and the wheel built from it (build's default: a file the sdist forgets makes the wheel fail here
    rather than on a user's machine), into `out`; returns the wheel."""
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_without_source_tree(env),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return next(out.glob("babelgate-*.whl"))


def install_wheel(wheel: Path, home: Path) -> Path:
    """A fresh venv at `home` with the wheel and its runtime dependencies only; returns `home`."""
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True, timeout=120)
    done = subprocess.run(
        [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=900,
        env=_without_source_tree(),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return home


def run_in(venv: Path, code: str, *args: str) -> str:
    """What Python code prints when the venv's interpreter runs it, away from the source tree."""
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=_without_source_tree(),
        cwd=venv,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@contextmanager
def serving(venv: Path, workdir: Path, upstream: FakeOpenAI) -> Iterator[str]:
    """`babelgate serve` from the venv, in front of the fake upstream; yields its URL once it answers."""
    config = workdir / "babelgate.yaml"
    config.write_text(
        f"providers:\n  openai:\n    base_url: {upstream.base_url}\n    api_key: env:OPENAI_API_KEY\n"
        f"store:\n  url: sqlite:{workdir / 'state.db'}\n"
    )
    port = _free_port()
    env = _env(OPENAI_API_KEY=UPSTREAM_KEY, BABELGATE_MASTER_KEY="master-key-of-the-wheel-test-0123")
    env.pop("PYTHONPATH", None)  # nothing from the source tree: only what the wheel installed
    process = subprocess.Popen(
        [str(venv / "bin" / "babelgate"), "serve", "--config", str(config), "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else "exited"
            try:
                httpx.get(url + "/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the installed gateway did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=20)


def chat(url: str) -> str:
    """One chat completion through the official client: the answer's text."""
    with openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=30) as client:
        answer = client.chat.completions.create(model="openai/gpt-4o", messages=[{"role": "user", "content": "hi"}])
    return answer.choices[0].message.content or ""
