"""The package as a user gets it: `python -m build` makes the sdist and, from it, the wheel; the wheel
goes into a fresh venv with nothing but its runtime dependencies, and `babelgate serve` from that
venv answers an official client. Slow (a build and a venv, ~1 min with pip's cache warm), so it
runs once per suite, on the same artefacts CI builds."""

from __future__ import annotations

import json
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.openai_upstream import FakeOpenAI
from tests.integration.installed_gateway import build_dist, chat, install_wheel, run_in, serving

ROOT = Path(__file__).resolve().parents[2]
# What the dev extra brings and a runtime install must not: the test SDKs and tools.
NOT_AT_RUNTIME = ("openai", "anthropic", "pytest", "schemathesis", "mypy", "ollama")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dist(ROOT, tmp_path_factory.mktemp("dist")).parent


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_wheel(next(dist.glob("babelgate-*.whl")), tmp_path_factory.mktemp("venv") / "v")


def test_the_sdist_and_wheel_hold_the_package_and_its_data(dist: Path) -> None:
    wheel = next(dist.glob("babelgate-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"babelgate/app.py", "babelgate/py.typed", "babelgate/locales/en.json"} <= names
    # The dashboard, pre-built: `pip install` needs no Node.js.
    assert {f"babelgate/frontends/ui/assets/{name}" for name in ("index.html", "app.js", "app.css")} <= names
    assert not any(name.startswith("tests/") for name in names)
    # The C modules, each built from its C file by every build on a machine with a C compiler (as this suite's is).
    for module in ("babelgate/guardrails/pii/_sieve.", "babelgate/guardrails/_members."):
        assert any(name.startswith(module) and name.endswith((".so", ".pyd")) for name in names), sorted(names)[:20]
    with tarfile.open(next(dist.glob("babelgate-*.tar.gz"))) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert {"pyproject.toml", "README.md", "LICENSE", "src/babelgate/cli.py"} <= members
    assert {"src/babelgate/guardrails/pii/_sieve.c", "src/babelgate/guardrails/_members.c"} <= members


def test_the_wheel_installs_only_runtime_dependencies(venv: Path) -> None:
    probe = (
        "import importlib.util, json, sys; print(json.dumps([m for m in sys.argv[1:] if importlib.util.find_spec(m)]))"
    )
    assert json.loads(run_in(venv, probe, *NOT_AT_RUNTIME)) == []


@pytest.fixture
def served_from_wheel(venv: Path, tmp_path: Path, upstream: FakeOpenAI) -> Iterator[str]:
    with serving(venv, tmp_path, upstream) as url:
        yield url


def test_babelgate_serve_from_the_wheel_answers_the_official_client(served_from_wheel: str, venv: Path) -> None:
    health = httpx.get(served_from_wheel + "/health", timeout=5).json()
    assert health["status"] == "ok"
    assert chat(served_from_wheel)
    served = run_in(venv, "import babelgate; print(babelgate.__file__)")
    assert str(venv) in served  # the installed copy, not the source tree
    page = httpx.get(served_from_wheel + "/ui", timeout=5)
    assert page.status_code == 200 and "/ui/assets/app.js" in page.text
    assert httpx.get(served_from_wheel + "/ui/assets/app.js", timeout=5).status_code == 200
