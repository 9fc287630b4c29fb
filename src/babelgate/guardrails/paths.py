"""Where the texts of a request or an answer are, in a frontend's own JSON: a few dotted paths per frontend, so
that the guardrails read and mask texts the same way on every door without knowing any door's format.

A path is keys separated by dots: `*` takes every item of a list (or every value of an object), `**` every string
anywhere below (a tool call's arguments given as an object). A path that meets anything but what it expects (a
string where it wanted a list, a missing key) yields nothing there: clients send many shapes, and only strings
are texts. Each text is found as its container and key, so a guardrail that masks it writes it back in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Path = tuple[str, ...]
# One text: the object or list that holds it, and its key or index there.
Slot = tuple[Any, Any]


def paths(*dotted: str) -> tuple[Path, ...]:
    """The paths, each given dotted (`messages.*.content`)."""
    return tuple(tuple(path.split(".")) for path in dotted)


def slots(document: Any, where: tuple[Path, ...]) -> list[Slot]:
    """Every string at one of the paths, in the order of the paths and then of the document."""
    out: list[Slot] = []
    for path in where:
        _walk(document, path, 0, out)
    return out


def texts(document: Any, where: tuple[Path, ...]) -> list[str]:
    """The strings themselves."""
    return [holder[key] for holder, key in slots(document, where)]


def _walk(node: Any, path: Path, depth: int, out: list[Slot]) -> None:
    """Appends to `out` (a list, not a generator: every guarded request walks a few paths of its body)."""
    step = path[depth]
    if step == "**":
        _strings(node, out)
        return
    last = depth == len(path) - 1
    if step == "*":
        if isinstance(node, list):
            keys: Any = range(len(node))
        elif isinstance(node, dict):
            keys = list(node)
        else:
            return
    elif isinstance(node, dict) and step in node:
        keys = (step,)
    else:
        return
    for key in keys:
        child = node[key]
        if last:
            if isinstance(child, str):
                out.append((node, key))
        elif isinstance(child, dict | list):
            _walk(child, path, depth + 1, out)


def _strings(node: Any, out: list[Slot]) -> None:
    """Every string below `node` (an object's values and a list's items, not an object's keys)."""
    items: Any = enumerate(node) if isinstance(node, list) else node.items() if isinstance(node, dict) else ()
    for key, child in items:
        if isinstance(child, str):
            out.append((node, key))
        elif isinstance(child, dict | list):
            _strings(child, out)


@dataclass(frozen=True, slots=True)
class TextPaths:
    """Where one door's texts are: in its request (`input`), its answer (`output`), and a streamed answer's events:
    `pieces` hold a piece of a text that continues in the next events (a delta), `wholes` a whole text again (a
    `done` event, a stream's closing copy of the answer). `framing` is how its stream's events are written: SSE,
    a JSON object a line, or one JSON object a WebSocket message."""

    input: tuple[Path, ...]
    output: tuple[Path, ...] = ()
    pieces: tuple[Path, ...] = ()
    wholes: tuple[Path, ...] = ()
    framing: Literal["sse", "ndjson", "message"] = "sse"
