"""The floors of the house (docs/architecture.md) hold: a module imports its own floor and lower ones,
never a higher one. Every import counts: at the top of a module, inside a function, and under
`if TYPE_CHECKING:` (a typing import ties the modules together in the reader's head and in mypy's,
and is the first step of a circle). The source is read with `ast`, nothing is imported, so a test
run costs well under a second.

When this fails: move what both modules need down to the lower floor, or have the higher floor pass it
in (an argument, a callback, a Protocol declared on the lower floor). A new module needs its room
here only when it is not inside a package already listed; a new room is one line in ROOMS.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

PACKAGE = "babelgate"
SRC = Path(__file__).parents[2] / "src" / PACKAGE


class Floor(IntEnum):
    """Lowest first: a floor may import itself and what is below it."""

    GROUND = 0  # the canonical types and the error tree: import nothing else of babelgate
    FOUNDATION = 1  # what every floor above may use: config, http, stores, streaming, i18n, observability, hooks
    PROVIDERS = 2  # the translators to each upstream, and the registry of provider types
    ROUTING = 3  # model names to deployments; load balancing, retries, fallbacks, circuits
    GOVERNANCE = 4  # who may call, how much: keys, limits, budgets, the ledger
    CONDUCTOR = 5  # one request's path: the exchange, the runtime, the pipeline, accounting, the cache
    FRONTENDS = 6  # what clients speak: decode, encode, routes
    TOP = 7  # what assembles the house and starts it: the app, the server, the CLI, the public API


# Each room (a package or a module, dotted under babelgate) and its floor. The longest matching room
# wins, so a module may sit below its folder's floor when it needs nothing of that floor.
ROOMS: dict[str, Floor] = {
    "schema": Floor.GROUND,
    "errors": Floor.GROUND,
    # What the compiled build needs said in the source (mypyc's class attributes), for any floor to use.
    "compiling": Floor.GROUND,
    "i18n": Floor.FOUNDATION,
    "streaming": Floor.FOUNDATION,
    "tap": Floor.FOUNDATION,
    "eventstream": Floor.FOUNDATION,
    "aws_signing": Floor.FOUNDATION,
    "tool_ids": Floor.FOUNDATION,
    "randomness": Floor.FOUNDATION,
    "sealing": Floor.FOUNDATION,
    "collector": Floor.FOUNDATION,
    "redis_link": Floor.FOUNDATION,
    "cors": Floor.FOUNDATION,
    "hooks": Floor.FOUNDATION,
    "headers": Floor.FOUNDATION,
    "config": Floor.FOUNDATION,
    "observability": Floor.FOUNDATION,
    "store": Floor.FOUNDATION,
    "http": Floor.FOUNDATION,
    # Prices, limits and capabilities of models by name: pure data (it imports only schema/), read by
    # providers, routing, governance and frontends alike.
    "model_facts": Floor.FOUNDATION,
    "providers": Floor.PROVIDERS,
    # Upstream MCP servers: connections and their registry, used by the runtime like providers are (the
    # /mcp endpoint itself is a frontend: frontends/mcp_endpoint.py).
    "mcp": Floor.PROVIDERS,
    "routing": Floor.ROUTING,
    "governance": Floor.GOVERNANCE,
    # Who a person or a JWT caller is (sign-in, JWTs, roles): makes synthetic virtual keys of governance/.
    "identity": Floor.GOVERNANCE,
    # What may be sent to a model and come back (guardrails/): detectors, masks, external checkers.
    "guardrails": Floor.GOVERNANCE,
    # The conversation log and its exporters: logged exchanges, built and written off the request path.
    "conversation": Floor.GOVERNANCE,
    "answer": Floor.CONDUCTOR,
    # An answer through its output guardrails (guardrails/ does the checking; this reads the conductor's Answer).
    "answer_guard": Floor.CONDUCTOR,
    "call": Floor.CONDUCTOR,
    "exchange": Floor.CONDUCTOR,
    "runtime": Floor.CONDUCTOR,
    "pipeline": Floor.CONDUCTOR,
    # What a handler returns for the pipeline to conduct: beside the pipeline, below the frontends that build it.
    "model_call": Floor.CONDUCTOR,
    "accounting": Floor.CONDUCTOR,
    "response_cache": Floor.CONDUCTOR,
    # What the conversation log keeps of a logged request while it runs (the conductor's Answer and Call).
    "transcript": Floor.CONDUCTOR,
    "tool_loop": Floor.CONDUCTOR,
    # Realtime sessions: their loop and bounds, the roads to upstreams, client secrets (the door is a frontend).
    # Their OpenAI Realtime <-> Gemini Live translation is pure like the providers' translators (the Gemini Live
    # door's side of it is a frontend's: frontends/gemini_live/).
    "realtime": Floor.CONDUCTOR,
    "realtime.gemini_live": Floor.PROVIDERS,
    # The response event sequence every road that builds its own events shares (gemini_live, cascade): pure.
    "realtime.sequence": Floor.PROVIDERS,
    "frontends": Floor.FRONTENDS,
    "app": Floor.TOP,
    # The parts the app is assembled from (the /mcp endpoint, a frontend, is one part's).
    "assembly": Floor.TOP,
    "batch_engine": Floor.TOP,
    "server_protocol": Floor.TOP,
    "server_cycle": Floor.TOP,
    "protocol_errors": Floor.TOP,
    "cli": Floor.TOP,
    "operator": Floor.TOP,
    "__init__": Floor.TOP,  # the package itself (create_app, Config, Hook): importing it loads the app
}

# Imports that break the floors today, tolerated until they are gone . The set may
# only shrink: test_not_yet_lists_only_what_still_happens fails once an entry no longer occurs, and then
# the entry is deleted. Nothing is ever added here: a new import that breaks the floors is fixed instead.
NOT_YET: frozenset[tuple[str, str]] = frozenset({})


@dataclass(frozen=True, slots=True)
class Import:
    importer: str  # dotted module names, babelgate.…
    imported: str
    path: Path
    line: int


def modules() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its own name, for its __init__.py)."""
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = [PACKAGE, *path.relative_to(SRC).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(known: dict[str, Path]) -> Iterator[Import]:
    """Each import of a babelgate module, wherever it stands in the file; `from a import b` names the
    module `a.b` when there is one, else `a` (b is a name defined in a)."""
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: from the importer's package, one level up per extra dot
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join([*base, node.module] if node.module else base)
                else:
                    source = node.module or ""
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in known else source for a in node.names]
            else:
                continue
            for target in targets:
                if target == PACKAGE or target.startswith(PACKAGE + "."):
                    yield Import(name, target, path, node.lineno)


def room_of(module: str) -> str | None:
    """The longest room that holds `module`, or None when no room does."""
    dotted = module.removeprefix(PACKAGE).removeprefix(".") or "__init__"
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        room = ".".join(parts[:end])
        if room in ROOMS:
            return room
    return None


def floor_of(module: str) -> Floor:
    room = room_of(module)
    assert room is not None, f"{module} is in no room: add its package or module to ROOMS in {Path(__file__).name}"
    return ROOMS[room]


def where(found: Import) -> str:
    return f"{found.path.relative_to(SRC.parents[1])}:{found.line}"


def upward(found: Import) -> bool:
    return floor_of(found.imported) > floor_of(found.importer)


def describe(found: Import) -> str:
    low, high = floor_of(found.importer), floor_of(found.imported)
    return (
        f"  {where(found)}: {found.importer} imports {found.imported}, "
        f"floor {low.value} ({low.name.lower()}) reaching up to floor {high.value} ({high.name.lower()})"
    )


def test_every_module_has_a_room() -> None:
    homeless = [name for name in modules() if room_of(name) is None]
    assert not homeless, f"modules in no room (add their package or module to ROOMS): {homeless}"


def test_every_room_holds_a_module() -> None:
    known = modules()
    empty = [room for room in ROOMS if not any(room_of(name) == room for name in known)]
    assert not empty, f"rooms that hold no module any more (remove them from ROOMS): {empty}"


def test_no_floor_imports_a_higher_floor() -> None:
    new = [
        describe(found)
        for found in imports(modules())
        if upward(found) and (found.importer, found.imported) not in NOT_YET
    ]
    assert not new, (
        "A module imports its own floor and lower ones, never a higher one (docs/architecture.md); typing "
        "imports count too:\n"
        + "\n".join(new)
        + "\nMove what both need down to the lower floor, or have the higher floor pass it in (an argument, "
        "a callback, a Protocol declared on the lower floor)."
    )


def test_not_yet_lists_only_what_still_happens() -> None:
    happening = {(found.importer, found.imported) for found in imports(modules()) if upward(found)}
    gone = sorted(NOT_YET - happening)
    assert not gone, f"these imports no longer break the floors: delete them from NOT_YET, so they stay gone: {gone}"


# OpenAI's wire format is the canonical shape's own: frontends that speak it reuse its translator.
SHARED_CODECS: frozenset[str] = frozenset({f"{PACKAGE}.providers.openai.translate"})
# A frontend that speaks a provider's own API reuses that provider's codec (its tables, part and usage
# mappings), never its I/O: the Gemini API frontend reads providers/gemini/'s wire, profiles and translators.
SAME_API_CODECS: dict[str, frozenset[str]] = {
    f"{PACKAGE}.frontends.gemini": frozenset(
        f"{PACKAGE}.providers.gemini.{name}" for name in ("wire", "profiles", "translate", "translate_parts")
    ),
    # The Converse frontend reads providers/bedrock/'s format tables and block renaming.
    f"{PACKAGE}.frontends.bedrock_converse": frozenset(
        f"{PACKAGE}.providers.bedrock.{name}" for name in ("wire", "translate_blocks")
    ),
}


def _same_api_codec(importer: str, imported: str) -> bool:
    return any(
        importer.startswith(frontend + ".") and imported in codecs for frontend, codecs in SAME_API_CODECS.items()
    )


def test_only_the_registry_names_a_provider() -> None:
    """Core code never branches on a provider's name; it asks the registry (providers/__init__.py, the one
    module that imports every provider). A provider's folder may use another's translators (Mistral reuses
    OpenAI's, a Claude on another cloud reuses anthropic/), and a frontend may use SHARED_CODECS; nothing
    else imports a provider's folder: not the shared provider modules (base, transport, key_pool, media…),
    not routing, governance, the conductor or the top."""
    folders = {path.parent.name for path in (SRC / "providers").glob("*/__init__.py")}

    def folder(module: str) -> str | None:
        parts = module.split(".")
        return parts[2] if parts[1:2] == ["providers"] and parts[2:3] and parts[2] in folders else None

    naming = [
        f"  {where(found)}: {found.importer} imports {found.imported}"
        for found in imports(modules())
        if folder(found.imported) is not None
        and folder(found.importer) is None
        and found.importer != f"{PACKAGE}.providers"
        and not (floor_of(found.importer) == Floor.FRONTENDS and found.imported in SHARED_CODECS)
        and not _same_api_codec(found.importer, found.imported)
    ]
    assert not naming, "code outside the providers' folders names a provider; ask the registry instead:\n" + "\n".join(
        naming
    )
