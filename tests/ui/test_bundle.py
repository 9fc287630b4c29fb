"""The shipped dashboard never drifts from its source: `npm ci` and the build, from the lockfile,
in a scratch copy of ui/, give byte for byte the files committed under frontends/ui/assets (which
the wheel ships, so that `pip install` needs no Node.js). TypeScript checks the source too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.services import unavailable

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "ui"
SHIPPED = ROOT / "src" / "babelgate" / "frontends" / "ui" / "assets"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("npm") is None or shutil.which("node") is None:
        unavailable("Node.js and npm are not installed")
    scratch = tmp_path_factory.mktemp("ui")
    for name in ("package.json", "package-lock.json", "build.mjs", "tsconfig.json"):
        shutil.copy(SOURCE / name, scratch / name)
    shutil.copytree(SOURCE / "src", scratch / "src")
    installed = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"], cwd=scratch, capture_output=True, text=True, timeout=600
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    out = scratch / "out"
    done = subprocess.run(["node", "build.mjs", str(out)], cwd=scratch, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return scratch, out


def test_the_committed_bundle_is_what_its_source_builds(built: tuple[Path, Path]) -> None:
    _, out = built
    made = {path.name: path.read_bytes() for path in out.iterdir()}
    shipped = {path.name: path.read_bytes() for path in SHIPPED.iterdir()}
    assert sorted(made) == sorted(shipped) == ["app.css", "app.js", "index.html"]
    stale = [name for name in made if made[name] != shipped[name]]
    assert not stale, f"{stale} differ from what ui/ builds: run `make ui` and commit the result"


def test_the_bundle_stays_small() -> None:
    assert (SHIPPED / "app.js").stat().st_size < 120_000  # 117 KiB today: Preact, uPlot and the pages
    assert (SHIPPED / "app.css").stat().st_size < 30_000


def test_the_source_typechecks(built: tuple[Path, Path]) -> None:
    scratch, _ = built
    checked = subprocess.run(
        ["node", "node_modules/typescript/bin/tsc", "--noEmit"],
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
