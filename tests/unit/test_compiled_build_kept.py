"""bench/compiled.py keeps the compiled build of a tree under a digest of what shapes it: a second run on the
same tree builds nothing, and any change to the package, the build's files or the toolchain builds again."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import compiled  # noqa: E402  (bench/ is a folder of scripts, not a package)


def _tree(target: Path) -> Path:
    for part in ("src/babelgate/exchange.py", "src/babelgate/config/models.py", "buildtools/babelgate_build.py"):
        (target / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / part, target / part)
    for part in ("setup.py", "pyproject.toml"):
        shutil.copy(ROOT / part, target / part)
    return target


def test_the_same_tree_has_the_same_digest_and_any_change_a_new_one(tmp_path: Path) -> None:
    one, two = _tree(tmp_path / "one"), _tree(tmp_path / "two")
    assert compiled.digest(one) == compiled.digest(two)
    # a module no build compiles still counts: a compiled one may read its types and constants
    (two / "src/babelgate/config/models.py").write_text((two / "src/babelgate/config/models.py").read_text() + "\n")
    assert compiled.digest(one) != compiled.digest(two)
    for part in ("buildtools/babelgate_build.py", "pyproject.toml"):
        three = _tree(tmp_path / part.replace("/", "-"))
        (three / part).write_text((three / part).read_text() + "# changed\n")
        assert compiled.digest(one) != compiled.digest(three), part


def test_a_new_file_in_the_package_is_a_new_build(tmp_path: Path) -> None:
    one = _tree(tmp_path / "one")
    before = compiled.digest(one)
    (one / "src/babelgate/new_module.py").write_text("X = 1\n")
    assert compiled.digest(one) != before
