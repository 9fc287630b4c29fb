"""The package as a user gets it: `python -m build` makes the sdist and, from it, the wheel; the wheel
goes into a fresh venv with nothing but its runtime dependencies, and `babelgate serve` from that
venv answers an official client. Slow (a build and a venv, ~1 min with pip's cache warm), so it
runs once per suite, on the same artefacts CI builds."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.integration.test_cli_serve import _env, _free_port

ROOT = Path(__file__).resolve().parents[2]
# What the dev extra brings and a runtime install must not: the test SDKs and tools.
NOT_AT_RUNTIME = ("openai", "anthropic", "pytest", "schemathesis", "mypy", "ollama")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # build's default: the sdist first, then the wheel built from the unpacked sdist, so a file the
    # sdist forgets makes the wheel fail here rather than on a user's machine.
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True, timeout=120)
    wheel = next(dist.glob("babelgate-*.whl"))
    done = subprocess.run(
        [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=900,
        # With a PYTHONPATH that holds babelgate (the compiled suite's run), pip would find it installed
        # already and leave out the wheel and its `babelgate` command.
        env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return home


def test_the_sdist_and_wheel_hold_the_package_and_its_data(dist: Path) -> None:
    wheel = next(dist.glob("babelgate-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"babelgate/app.py", "babelgate/py.typed", "babelgate/locales/en.json"} <= names
    # The dashboard, pre-built: `pip install` needs no Node.js.
    assert {f"babelgate/frontends/ui/assets/{name}" for name in ("index.html", "app.js", "app.css")} <= names
    assert not any(name.startswith("tests/") for name in names)
    with tarfile.open(next(dist.glob("babelgate-*.tar.gz"))) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert {"pyproject.toml", "README.md", "LICENSE", "src/babelgate/cli.py"} <= members


def test_the_wheel_installs_only_runtime_dependencies(venv: Path) -> None:
    python = str(venv / "bin" / "python")
    probe = (
        "import importlib.util, json, sys; "
        f"print(json.dumps([m for m in {NOT_AT_RUNTIME!r} if importlib.util.find_spec(m)]))"
    )
    found = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert found == "[]"


@pytest.fixture
def served_from_wheel(venv: Path, tmp_path: Path, upstream: FakeOpenAI) -> Iterator[str]:
    config = tmp_path / "babelgate.yaml"
    config.write_text(
        f"providers:\n  openai:\n    base_url: {upstream.base_url}\n    api_key: env:OPENAI_API_KEY\n"
        f"store:\n  url: sqlite:{tmp_path / 'state.db'}\n"
    )
    port = _free_port()
    env = _env(OPENAI_API_KEY=UPSTREAM_KEY, BABELGATE_MASTER_KEY="master-key-of-the-wheel-test-0123")
    env.pop("PYTHONPATH", None)  # nothing from the source tree: only what the wheel installed
    process = subprocess.Popen(
        [str(venv / "bin" / "babelgate"), "serve", "--config", str(config), "--port", str(port)],
        env=env,
        cwd=tmp_path,
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


def test_babelgate_serve_from_the_wheel_answers_the_official_client(served_from_wheel: str, venv: Path) -> None:
    health = httpx.get(served_from_wheel + "/health", timeout=5).json()
    assert health["status"] == "ok"
    client = openai.OpenAI(base_url=served_from_wheel + "/v1", api_key="unused", max_retries=0, timeout=60)
    answer = client.chat.completions.create(model="openai/gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content
    served = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import babelgate, sys; print(babelgate.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert str(venv) in served.stdout  # the installed copy, not the source tree
    page = httpx.get(served_from_wheel + "/ui", timeout=5)
    assert page.status_code == 200 and "/ui/assets/app.js" in page.text
    assert httpx.get(served_from_wheel + "/ui/assets/app.js", timeout=5).status_code == 200
