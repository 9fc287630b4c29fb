"""babelgate's build backend: setuptools' own, and the compiled hot path when it is asked for.

    python -m build --wheel                          # plain Python: the default, and every editable install
    BABELGATE_COMPILE=1 python -m build --wheel      # the request path's modules (HOT) compiled with mypyc

A compiled wheel holds the same `.py` files plus one extension module per module of HOT (and mypyc's shared
runtime beside them); Python imports an extension ahead of the source of the same name, so the rest of the
package, and every module mypyc cannot take, stays Python and calls into the compiled ones. Nothing is
imported from mypy at run time. Why these modules and what compiling buys: docs/performance.md, "The compiled
build". Editable installs (`make install`) are never compiled by mypyc: a built extension would shadow the source
a developer edits.

Compiling type-checks the package with mypy in the build's own environment, so the build asks for mypy (mypyc) and
the stubs, at the dev extra's ranges (pyproject.toml: one pin for `make typecheck`, the compiled suite and this), and
for what mypy checks the package's imports against (the runtime dependencies and the `otel` extra) only when
BABELGATE_COMPILE=1, through PEP 517's `get_requires_for_build_wheel`: an isolated build (`python -m build`, pip,
the Docker image) downloads them into its own environment, and a plain build needs setuptools alone, with no mypy to
download (and a C compiler only for the guardrails' two C files of our own, `native`, built when they can be).
The requirements are asked for dynamically rather than listed in `[build-system]` because a static list would make
every plain install from source download mypy and every runtime dependency.

setuptools answers that hook, and writes the metadata, by running setup.py (`egg_info`, `dist_info`, `sdist`)
before the build's requirements are installed: mypyc is imported, and the package compiled, only by the commands
that build extension modules (`bdist_wheel`, as `build_wheel` runs it), never by those.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from setuptools import build_meta
from setuptools.build_meta import (  # noqa: F401  (the rest of the PEP 517 interface, as setuptools has it)
    build_editable,
    build_sdist,
    build_wheel,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

COMPILE_ENV = "BABELGATE_COMPILE"
# The test suite's build (`bench/compiled.py --test`): the same modules through the same mypyc, its C written one
# file a module (mypyc's multi_file) and compiled on every core, each file again only when it or a header changed.
# What ships (the wheel, the Docker image, `make bench`) is one C file, which the C compiler optimises as a whole:
# ~12 minutes of gcc on two cores, where the split build takes a fraction of that and a change recompiles little.
# The split build's C is not optimised (-O0: gcc takes less than half the time): the C compiler's optimiser does
# not change what mypyc's code means, which is what the tests check; the shipped build's speed is the bench's.
SPLIT_ENV = "BABELGATE_COMPILE_SPLIT"

# setup.py's commands that build extension modules (bdist_wheel for a PEP 517 wheel; the rest run by hand): the
# only ones that compile. Metadata, the sdist and editable installs (`editable_wheel`, `develop`: a built extension
# would shadow the source a developer edits) stay plain.
BUILDS_EXTENSIONS = ("bdist_wheel", "build", "build_ext", "install")

# The modules the bench's paths run (the fast path, static key and governed; the translated frontends and providers;
# the clouds' roads), as `bench/profile_fast_path.py calls [--path P] --top 1000` lists them, less those mypyc cannot
# take: modules with async generators (the providers' stream relays and `providers/sse.py`), the provider
# base and the key pool (classes plain Python subclasses), and Bedrock's credentials (the provider holds them by weak
# reference, which a native class does not take). docs/performance.md says why each.
HOT = (
    "accounting.py",
    "answer.py",
    "answer_guard.py",
    "app.py",
    "call.py",
    "exchange.py",
    "frontends/anthropic_messages/mcp.py",
    "frontends/anthropic_messages/routes.py",
    "frontends/anthropic_messages/translate.py",
    "frontends/anthropic_messages/translate_content.py",
    "frontends/anthropic_messages/translate_messages.py",
    "frontends/anthropic_messages/wire.py",
    "frontends/bedrock_converse/answers.py",
    "frontends/bedrock_converse/door.py",
    "frontends/bedrock_converse/translate.py",
    "frontends/gemini/routes.py",
    "frontends/gemini/translate.py",
    "frontends/gemini/translate_contents.py",
    "frontends/gemini/translate_schema.py",
    "frontends/gemini/wire.py",
    "frontends/openai_chat/dialects.py",
    "frontends/openai_chat/routes.py",
    "frontends/openai_validation.py",
    "frontends/prepare.py",
    "frontends/responses/mcp.py",
    "frontends/responses/resource.py",
    "frontends/responses/routes.py",
    "frontends/responses/tools.py",
    "frontends/responses/turn.py",
    "frontends/responses/translate.py",
    "frontends/responses/validate.py",
    "frontends/responses/wire.py",
    "governance/admission.py",
    "governance/alerts.py",
    "governance/budgets.py",
    "governance/directory.py",
    "governance/gateway_keys.py",
    "governance/ledger.py",
    "governance/rate_limits.py",
    "governance/rules/__init__.py",
    "governance/rules/budget.py",
    "governance/rules/limits.py",
    "governance/virtual_keys.py",
    "guardrails/check.py",
    "guardrails/guardrail.py",
    "guardrails/paths.py",
    "guardrails/pii/candidates.py",
    "guardrails/registry.py",
    "guardrails/scanner.py",
    "http/client.py",
    "http/connection.py",
    "http/pool.py",
    "http/turn_writer.py",
    "model_facts.py",
    "observability/metrics.py",
    "observability/request_id.py",
    "pipeline.py",
    "providers/anthropic/profiles.py",
    "providers/anthropic/replay.py",
    "providers/anthropic/translate.py",
    "providers/anthropic/translate_messages.py",
    "providers/anthropic/translate_tools.py",
    "providers/azure/wire.py",
    "providers/bedrock/signing.py",
    "providers/bedrock/translate_blocks.py",
    "providers/bedrock/wire.py",
    "providers/gemini/chat_audio.py",
    "providers/gemini/profiles.py",
    "providers/gemini/translate.py",
    "providers/gemini/translate_parts.py",
    "providers/hosted_tools.py",
    "providers/mistral/translate.py",
    "providers/notes.py",
    "providers/openai/chat_road.py",
    "providers/openai/frames.py",
    "providers/openai/profiles.py",
    "providers/openai/translate.py",
    "providers/system_messages.py",
    "providers/transport.py",
    "providers/vertex/wire.py",
    "response_cache.py",
    "routing/registry.py",
    "server_cycle.py",
    "server_protocol.py",
    "store/cached.py",
    "store/polled.py",
    "store/sqlite.py",
    "store/timed.py",
    "streaming.py",
    "tool_ids.py",
)

ROOT = Path(__file__).resolve().parent.parent


def compiling() -> bool:
    return os.environ.get(COMPILE_ENV, "").strip().lower() in ("1", "true", "yes")


def _project() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        project: dict[str, Any] = tomllib.load(file)["project"]
    return project


def requirement_name(requirement: str) -> str:
    """A PEP 508 requirement's distribution name, lower-cased: `mypy[mypyc]>=2.4,<3` -> `mypy`."""
    return re.split(r"[\s\[(<>=!~;@]", requirement, maxsplit=1)[0].lower()


def compile_requirements() -> list[str]:
    """What compiling needs besides setuptools: the dev extra's mypy (with its `mypyc` extra) and stubs, and the
    packages mypy checks the package's imports against (the runtime dependencies and the `otel` extra)."""
    project = _project()
    extras = project["optional-dependencies"]
    tools = [r for r in extras["dev"] if requirement_name(r) == "mypy" or requirement_name(r).startswith("types-")]
    return [*tools, *project["dependencies"], *extras["otel"]]


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    requires: list[str] = build_meta.get_requires_for_build_wheel(config_settings)
    if compiling():
        requires += compile_requirements()
    return requires


def splitting() -> bool:
    return os.environ.get(SPLIT_ENV, "").strip().lower() in ("1", "true", "yes")


def ext_modules() -> list[Any]:
    """setup.py's extensions: the guardrails' C readers in every build, and HOT through mypyc when compiling and
    the command builds extensions."""
    extensions = native()
    if not compiling() or not any(arg in BUILDS_EXTENSIONS for arg in sys.argv[1:]):
        return extensions
    from mypyc.build import mypycify

    # Run from the project's root (setup.py's folder), so that mypy reads pyproject.toml's [tool.mypy]
    # (strict, mypy_path = "src") and names each module from src/ (babelgate.app, not src.babelgate.app).
    # Its own mypy cache: `make typecheck`'s (.mypy_cache, the whole package as sources) once hid from it an
    # error that only the build's own order of the modules finds (a type inferred across an import cycle).
    sources = [f"src/babelgate/{name}" for name in HOT]
    split = splitting()
    options = [*sources, "--cache-dir", "build/mypyc-cache"]
    compiled = list(mypycify(options, opt_level="0" if split else "3", multi_file=split))
    for extension in compiled:
        if extension.name.endswith("__mypyc"):
            extension.extra_compile_args += LIBRARY_CFLAGS
            extension.extra_link_args += library_link_flags()
    return [*extensions, *compiled]


# The project's own C: each module a file, plain C against Python's headers. The PII detectors' sieve (whether a text
# may hold a candidate at all) and the JSON members' reader (where an answer's texts are in its bytes).
NATIVE = (
    ("babelgate.guardrails.pii._sieve", "src/babelgate/guardrails/pii/_sieve.c"),
    ("babelgate.guardrails._members", "src/babelgate/guardrails/_members.c"),
)


def native() -> list[Any]:
    """The C modules, built by every install, editable ones too (setuptools builds each beside its source there).
    Optional: where one cannot be built (no C compiler), the install goes on without it, and its callers do the
    same work in Python (RE2 reads every text; msgspec reads every answer)."""
    from setuptools import Extension

    return [Extension(name, [source], optional=True) for name, source in NATIVE]


# mypyc's shared library (every compiled module's code; each module's own extension is a shim that finds its part
# through a capsule, never by symbol): its functions hidden from the dynamic linker, so that a call between two of
# them is a direct call, not one through the PLT that symbol interposition would require, and the library's symbol
# tables (thousands of entries, read whole when it loads) shrink to its one exported PyInit.
LIBRARY_CFLAGS = ["-fvisibility=hidden"]


def library_link_flags() -> list[str]:
    """The shared library's relocations packed (`-z pack-relative-relocs`: a few KiB where they were ~700, all read
    when it loads) where the C library that loads it understands them (glibc 2.36 and later) and the linker
    accepts the flag; elsewhere none, so that the build works on any toolchain."""
    import platform

    library, version = platform.libc_ver()
    if library != "glibc" or tuple(int(part) for part in version.split(".")[:2]) < (2, 36):
        return []
    flag = "-Wl,-z,pack-relative-relocs"
    return [flag] if _links_with(flag) else []


def _links_with(flag: str) -> bool:
    """Whether the C compiler links a shared object with `flag` and says nothing (GNU ld warns of a `-z` option it
    does not know, and goes on without it)."""
    import subprocess
    import sysconfig
    import tempfile

    compiler = (sysconfig.get_config_var("CC") or "cc").split()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "probe.c"
        source.write_text("int probe(void) { return 0; }\n")
        try:
            done = subprocess.run(
                [*compiler, "-shared", "-fPIC", flag, str(source), "-o", f"{folder}/probe.so"],
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
    return done.returncode == 0 and not done.stderr.strip()


def cmdclass() -> dict[str, Any]:
    """setup.py's commands: for the split build, a build_ext that compiles an extension's C files on every core
    and leaves alone an object newer than its C file and every header (setuptools compiles each file, one by one,
    every time)."""
    if not splitting():
        return {}
    from setuptools.command.build_ext import build_ext

    class SplitBuildExt(build_ext):  # type: ignore[misc]  (setuptools ships no types for its commands)
        def build_extension(self, ext: Any) -> None:
            compiler = self.compiler
            serial = compiler.compile
            compiler.compile = partial(_compile_changed, compiler, [*ext.depends, *_headers(ext.include_dirs)])
            try:
                super().build_extension(ext)
            finally:
                compiler.compile = serial

    return {"build_ext": SplitBuildExt}


def _headers(folders: list[str]) -> list[str]:
    return [str(header) for folder in folders for header in Path(folder).glob("*.h")]


def _compile_changed(
    compiler: Any,
    headers: list[str],
    sources: list[str],
    output_dir: str | None = None,
    macros: Any = None,
    include_dirs: Any = None,
    debug: bool = False,
    extra_preargs: Any = None,
    extra_postargs: Any = None,
    depends: Any = None,
) -> list[str]:
    """distutils' CCompiler.compile, in parallel and skipping what is up to date."""
    macros, objects, extra, pp_opts, build = compiler._setup_compile(
        output_dir, macros, include_dirs, sources, depends, extra_postargs
    )
    cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)
    newest_header = max((os.path.getmtime(header) for header in headers if os.path.exists(header)), default=0.0)

    def one(obj: str) -> None:
        source, extension = build[obj]
        if os.path.exists(obj) and os.path.getmtime(obj) > max(os.path.getmtime(source), newest_header):
            return
        compiler._compile(obj, source, extension, cc_args, extra, pp_opts)

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(one, objects))  # list: an error in any one is raised here
    return list(objects)
