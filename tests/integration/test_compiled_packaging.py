"""The compiled wheel as a user and the Docker image build it: `BABELGATE_COMPILE=1 python -m build` on a clean
clone of the committed tree, in build's isolated environment (the build backend asks for mypy and the packages mypy
checks against, which build downloads into it), the request path's modules compiled with mypyc and gcc. Installed
into a fresh venv, those modules load as extension modules and `babelgate serve` answers the official client.
Slow: minutes of gcc. Without a C compiler or Python's headers it skips, saying which, or fails under
BABELGATE_REQUIRE_SERVICES=1."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.openai_upstream import FakeOpenAI
from tests.integration.installed_gateway import build_dist, chat, install_wheel, run_in, serving
from tests.services import unavailable

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "buildtools"))
from babelgate_build import HOT  # noqa: E402  (buildtools/ is the build backend's folder, not a package)

# The request path's modules, by import name: `governance/rules/__init__.py` is `babelgate.governance.rules`.
HOT_MODULES = tuple("babelgate." + name.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for name in HOT)

# Each module's file and the suffixes the venv's Python loads extension modules with.
WHERE_FROM = """
import importlib, importlib.machinery, json, sys
files = {name: importlib.import_module(name).__file__ for name in sys.argv[1:]}
print(json.dumps({"files": files, "suffixes": importlib.machinery.EXTENSION_SUFFIXES}))
"""


def _need_a_c_toolchain() -> None:
    if not (shutil.which("cc") or shutil.which("gcc")):
        unavailable("no C compiler (cc or gcc) on this machine: the compiled build (mypyc) needs one")
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not headers.is_file():
        unavailable(f"Python's headers are not installed ({headers} is missing): the compiled build needs them")


@pytest.fixture(scope="module")
def compiled_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _need_a_c_toolchain()
    if not (ROOT / ".git").exists():
        unavailable(f"{ROOT} is not a git checkout: the test builds from a clone of its committed tree")
    clone = tmp_path_factory.mktemp("clone") / "babelgate"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=300)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", "--detach", head.stdout.strip()], check=True)
    # mypy's run over the package, then gcc over its C: minutes on two cores.
    wheel = build_dist(clone, tmp_path_factory.mktemp("dist"), env={"BABELGATE_COMPILE": "1"}, timeout=3600)
    # Every wheel built with a C compiler is platform-specific (the PII sieve): mypyc's shared library shows this one
    # was compiled.
    assert any("__mypyc" in name for name in zipfile.ZipFile(wheel).namelist()), f"nothing was compiled in {wheel.name}"
    return install_wheel(wheel, tmp_path_factory.mktemp("venv") / "v")


def test_the_request_paths_modules_are_extension_modules(compiled_venv: Path) -> None:
    found = json.loads(run_in(compiled_venv, WHERE_FROM, *HOT_MODULES))
    suffixes = tuple(found["suffixes"])
    plain = {name: path for name, path in found["files"].items() if not path.endswith(suffixes)}
    assert not plain, f"these load as Python, not compiled: {plain}"
    assert all(path.startswith(str(compiled_venv)) for path in found["files"].values())


@pytest.fixture
def served_compiled(compiled_venv: Path, tmp_path: Path, upstream: FakeOpenAI) -> Iterator[str]:
    with serving(compiled_venv, tmp_path, upstream) as url:
        yield url


def test_babelgate_serve_from_the_compiled_wheel_answers_the_official_client(served_compiled: str) -> None:
    assert httpx.get(served_compiled + "/health", timeout=5).json()["status"] == "ok"
    assert chat(served_compiled)
