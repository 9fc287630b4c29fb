"""The suite's split compiled build (buildtools/babelgate_build.py, SPLIT_ENV): the C files compiled on every core,
and an object compiled again only when its C file or a header is newer; what ships is not split."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "buildtools"))
import babelgate_build  # noqa: E402  (buildtools/ is the build backend's folder, not a package)


class RecordingCompiler:
    """distutils' CCompiler as _compile_changed uses it: each C file's object beside it."""

    def __init__(self) -> None:
        self.compiled: list[str] = []

    def _setup_compile(self, output_dir: Any, macros: Any, include_dirs: Any, sources: list[str], *_: Any) -> Any:
        objects = [source[:-2] + ".o" for source in sources]
        return macros, objects, [], [], {obj: (source, ".c") for obj, source in zip(objects, sources, strict=True)}

    def _get_cc_args(self, *_: Any) -> list[str]:
        return []

    def _compile(self, obj: str, *_: Any) -> None:
        self.compiled.append(Path(obj).name)
        Path(obj).write_text("object")


def _touch(path: Path, when: float) -> str:
    path.write_text(path.name)
    os.utime(path, (when, when))
    return str(path)


def test_only_what_changed_is_compiled_again(tmp_path: Path) -> None:
    header = _touch(tmp_path / "native.h", 1_000)
    sources = [_touch(tmp_path / f"{name}.c", 1_000) for name in ("a", "b", "c")]
    compiler = RecordingCompiler()
    assert babelgate_build._compile_changed(compiler, [header], sources) == [s[:-2] + ".o" for s in sources]
    assert sorted(compiler.compiled) == ["a.o", "b.o", "c.o"]

    compiler.compiled.clear()
    babelgate_build._compile_changed(compiler, [header], sources)
    assert compiler.compiled == []  # nothing changed

    _touch(tmp_path / "b.c", 4_000_000_000)  # one module's C rewritten
    babelgate_build._compile_changed(compiler, [header], sources)
    assert compiler.compiled == ["b.o"]

    compiler.compiled.clear()
    _touch(tmp_path / "native.h", 5_000_000_000)  # a header every file includes
    babelgate_build._compile_changed(compiler, [header], sources)
    assert sorted(compiler.compiled) == ["a.o", "b.o", "c.o"]


def test_only_the_suites_build_is_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(babelgate_build.SPLIT_ENV, raising=False)
    assert not babelgate_build.splitting() and babelgate_build.cmdclass() == {}
    monkeypatch.setenv(babelgate_build.SPLIT_ENV, "1")
    assert babelgate_build.splitting() and set(babelgate_build.cmdclass()) == {"build_ext"}
