"""What the compiled build (buildtools/babelgate_build.py: the request path's modules through mypyc) needs of the
source, checked on every run without compiling anything: the source is read with `ast`.

mypyc refuses, or breaks at run time, on a few patterns plain Python takes: an interpreted class that inherits from
a compiled one ("interpreted classes cannot inherit from compiled", raised when the subclass is defined: at the
gateway's start-up), and async generators (mypyc has none: the build fails). The suite's compiled run
(`bench/compiled.py --test`) finds the rest; these two would otherwise surface only there.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "babelgate"
sys.path.insert(0, str(ROOT / "buildtools"))
import babelgate_build  # noqa: E402  (buildtools/ is the build backend's folder, not a package)
from babelgate_build import HOT  # noqa: E402


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text("utf-8"), str(path))


def _base_names(node: ast.ClassDef) -> Iterator[str]:
    for base in node.bases:
        if isinstance(base, ast.Subscript):  # Generic[T], KeyPool[Any]
            base = base.value
        if isinstance(base, ast.Attribute):
            yield base.attr
        elif isinstance(base, ast.Name):
            yield base.id


def _opens_to_interpreted_subclasses(node: ast.ClassDef) -> bool:
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "mypyc_attr":
            for keyword in decorator.keywords:
                if keyword.arg == "allow_interpreted_subclasses" and getattr(keyword.value, "value", None) is True:
                    return True
    return False


def test_every_compiled_module_exists() -> None:
    missing = [name for name in HOT if not (SRC / name).is_file()]
    assert not missing, f"buildtools/babelgate_build.py's HOT names modules that are gone: {missing}"


def test_no_interpreted_class_inherits_from_a_compiled_one() -> None:
    compiled: dict[str, tuple[str, bool]] = {}  # class name -> (its module, open to interpreted subclasses)
    for name in HOT:
        for node in _tree(SRC / name).body:
            if isinstance(node, ast.ClassDef):
                compiled[node.name] = (name, _opens_to_interpreted_subclasses(node))
    hot = {SRC / name for name in HOT}
    found = []
    for folder in (ROOT / "src", ROOT / "tests", ROOT / "bench"):
        for path in sorted(folder.rglob("*.py")):
            if path in hot:
                continue
            classes = [node for node in ast.walk(_tree(path)) if isinstance(node, ast.ClassDef)]
            own = {node.name for node in classes}  # a base of the same name defined here is this file's own
            for node in classes:
                for base in _base_names(node):
                    if base in compiled and not compiled[base][1] and base not in own:
                        found.append(f"{path.relative_to(ROOT)}: {node.name}({base}) ({compiled[base][0]})")
    assert not found, (
        "classes that are not compiled inherit from compiled ones, which fails when the compiled build defines "
        "them; mark the base `@mypyc_attr(allow_interpreted_subclasses=True)` (babelgate.compiling), or compile "
        "the subclass's module too:\n" + "\n".join(found)
    )


def test_no_compiled_module_has_an_async_generator() -> None:
    found = []
    for name in HOT:
        for node in ast.walk(_tree(SRC / name)):
            if isinstance(node, ast.AsyncFunctionDef) and any(
                isinstance(inner, (ast.Yield, ast.YieldFrom)) for inner in ast.walk(node)
            ):
                found.append(f"{name}: {node.name}")
    assert not found, (
        "mypyc cannot compile async generators: write them as a class with __aiter__/__anext__, or leave the "
        "module out of HOT (buildtools/babelgate_build.py):\n" + "\n".join(found)
    )


def _handled_then_awaited(function: ast.AsyncFunctionDef) -> Iterator[int]:
    """The lines of `try` statements with both handlers and an `await` in their `finally`."""
    for node in ast.walk(function):
        if isinstance(node, ast.Try) and node.handlers and node.finalbody:
            awaits = (ast.Await, ast.AsyncWith, ast.AsyncFor)
            if any(isinstance(inner, awaits) for statement in node.finalbody for inner in ast.walk(statement)):
                yield node.lineno


def test_no_compiled_coroutine_awaits_in_the_finally_of_a_try_that_handles() -> None:
    """A precaution: mypyc has compiled an `await` in a `finally` wrongly before (mypyc/mypyc#1114: the exception
    the `finally` was to raise again was lost). Splitting the stream relay's `try` this way did not cure the 499
    it was first blamed for (a cancellation handled in compiled code and raised again later: Exchange._relay now
    stops watching once the answer is complete, so nothing is cancelled there); the check stays, as it costs
    nothing."""
    found = []
    for name in HOT:
        for node in ast.walk(_tree(SRC / name)):
            if isinstance(node, ast.AsyncFunctionDef):
                found += [f"{name}:{line} ({node.name})" for line in _handled_then_awaited(node)]
    assert not found, (
        "put the handlers in a `try` of their own (a coroutine the `try`/`finally` awaits, as "
        "Exchange.send_answer does with _relay):\n" + "\n".join(found)
    )


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _closures_captured_by_closures(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[str]:
    """`inner (line N)` for each function (or lambda bound to a name) nested in `function` whose name another
    nested function, or itself, uses."""
    nested: dict[str, ast.AST] = {}
    for node in ast.walk(function):
        if node is not function and isinstance(node, _FUNCTIONS):
            nested[node.name] = node
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            nested.update((target.id, node.value) for target in node.targets if isinstance(target, ast.Name))
    for name, definition in nested.items():
        users = nested.values()
        if any(isinstance(use, ast.Name) and use.id == name for user in users for use in ast.walk(user)):
            yield f"{name} (line {getattr(definition, 'lineno', '?')})"


def test_no_compiled_closure_is_captured_by_another() -> None:
    """mypyc keeps the locals a nested function uses in an environment object, and each closure points back to it:
    a closure that another closure (or itself) uses is one of those locals, so every call of the outer function
    leaves a reference cycle, with everything the environment holds, for the cycle collector. `babelgate serve`
    paces the collector and runs its full passes rarely (collector.py), so the Responses route's `lookup`, used by
    its `attempt`, kept every request's turn until resident memory had doubled (~62 to ~122 MiB)."""
    found = []
    for name in HOT:
        for node in ast.walk(_tree(SRC / name)):
            if isinstance(node, _FUNCTIONS):
                found += [f"{name}: {node.name} > {inner}" for inner in _closures_captured_by_closures(node)]
    assert not found, (
        "pass a functools.partial, a bound method or a module-level function instead of the captured closure:\n"
        + "\n".join(found)
    )


def test_the_check_finds_what_it_looks_for() -> None:
    """The two scans above do look: each flags the pattern it is for."""
    module = ast.parse(
        "class Pool(KeyPool[Any]): pass\n"
        "@mypyc_attr(allow_interpreted_subclasses=True)\nclass Open: pass\n"
        "async def chunks():\n    yield b''\n"
        "async def relay():\n    try:\n        pass\n    except OSError:\n        pass\n"
        "    finally:\n        await close()\n"
    )
    pool, opened, generator, relay = module.body
    assert isinstance(pool, ast.ClassDef) and list(_base_names(pool)) == ["KeyPool"]
    assert isinstance(opened, ast.ClassDef) and _opens_to_interpreted_subclasses(opened)
    assert not _opens_to_interpreted_subclasses(pool)
    assert isinstance(generator, ast.AsyncFunctionDef)
    assert any(isinstance(inner, ast.Yield) for inner in ast.walk(generator))
    assert isinstance(relay, ast.AsyncFunctionDef) and list(_handled_then_awaited(relay)) == [7]
    (outer,) = ast.parse(
        "async def outer():\n    def lookup(x):\n        return x\n    async def attempt():\n        lookup(1)\n"
        "    other = lambda: 1\n    def alone():\n        return other\n"
    ).body
    assert isinstance(outer, ast.AsyncFunctionDef) and list(_closures_captured_by_closures(outer)) == [
        "lookup (line 2)",
        "other (line 6)",
    ]


@pytest.mark.parametrize("asked", ["1", ""])
def test_only_a_compiled_build_asks_for_mypy_and_the_packages_it_checks_against(
    asked: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain build needs setuptools alone; a compiled one mypy (mypyc), the stubs and the runtime dependencies
    in its isolated environment, and would fail to type-check the package without them."""
    monkeypatch.setenv("BABELGATE_COMPILE", asked)
    monkeypatch.setattr(babelgate_build.build_meta, "get_requires_for_build_wheel", lambda settings=None: [])
    requires = babelgate_build.get_requires_for_build_wheel()
    if not asked:
        assert requires == [] and _names(babelgate_build.ext_modules()) == NATIVE
        return
    with (ROOT / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]
    extras = project["optional-dependencies"]
    assert {*project["dependencies"], *extras["otel"]} <= set(requires)
    # The very lines of the dev extra: one range for `make typecheck`, the compiled suite and the compiled wheel.
    [mypy] = [r for r in requires if babelgate_build.requirement_name(r) == "mypy"]
    assert mypy in extras["dev"] and mypy.startswith("mypy[mypyc]")
    assert "types-pyyaml>=6,<7" in {r.lower() for r in requires if r in extras["dev"]}


NATIVE = ["babelgate.guardrails.pii._sieve", "babelgate.guardrails._members"]


def _names(extensions: list[Any]) -> list[str]:
    return [extension.name for extension in extensions]


def test_each_c_module_is_an_optional_extension_of_its_one_c_file() -> None:
    """An install without a C compiler goes on without them (setuptools skips an optional extension that fails)."""
    extensions = babelgate_build.native()
    assert _names(extensions) == NATIVE and all(extension.optional for extension in extensions)
    assert [[ROOT / source for source in extension.sources] for extension in extensions] == [
        [ROOT / "src/babelgate/guardrails/pii/_sieve.c"],
        [ROOT / "src/babelgate/guardrails/_members.c"],
    ]
    # Every C file of the package is one of them.
    assert {str(path) for path in ROOT.glob("src/**/*.c")} == {
        str(ROOT / source) for _, source in babelgate_build.NATIVE
    }


def test_a_requirement_is_named_by_its_distribution() -> None:
    names = ("mypy[mypyc]>=2.4,<3", "types-PyYAML>=6,<7", "uvicorn[standard]>=0.30", "mypy ; python_version>'3'")
    assert [babelgate_build.requirement_name(r) for r in names] == ["mypy", "types-pyyaml", "uvicorn", "mypy"]


@pytest.mark.parametrize("command", ["egg_info", "dist_info", "sdist", "editable_wheel", "develop"])
def test_only_the_commands_that_build_extensions_compile(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """setuptools runs setup.py for metadata and the sdist before a build's requirements are installed: there
    mypyc is not importable yet (None in sys.modules makes its import fail, as in a fresh build environment). The
    C modules, plain C, are every build's."""
    monkeypatch.setenv("BABELGATE_COMPILE", "1")
    monkeypatch.setitem(sys.modules, "mypyc", None)
    monkeypatch.setattr(sys, "argv", ["setup.py", command])
    assert _names(babelgate_build.ext_modules()) == NATIVE
    monkeypatch.setattr(sys, "argv", ["setup.py", "bdist_wheel"])
    with pytest.raises(ImportError):  # the one that compiles does import mypyc
        babelgate_build.ext_modules()


def test_the_real_hook_answers_before_mypyc_is_installed(tmp_path: Path) -> None:
    """setuptools' own `get_requires_for_build_wheel`, which runs setup.py, in a fresh process that cannot import
    mypyc, as an isolated build's environment before the answer is installed (a copy of the tree: `egg_info`
    writes into src/)."""
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE", "MANIFEST.in"):
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ("buildtools", "src"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    probe = (
        "import json, sys; sys.modules['mypyc'] = None; sys.path.insert(0, 'buildtools'); import babelgate_build; "
        "print(json.dumps(babelgate_build.get_requires_for_build_wheel()))"
    )
    env = {**os.environ, "BABELGATE_COMPILE": "1"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    requires = json.loads(done.stdout.strip().splitlines()[-1])
    assert any(babelgate_build.requirement_name(r) == "mypy" for r in requires)
