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


class _Step:
    """Where a walk can go from one place of the document: the paths merged into a tree, so that a request's
    body is walked once for all of a door's paths (its messages list is read once, not once per path)."""

    __slots__ = ("deep", "keys", "leaf", "star")

    def __init__(self) -> None:
        self.leaf = False  # a string here is a text
        self.deep = False  # every string below here is a text (`**`)
        self.keys: dict[str, _Step] = {}  # the object keys a path names here
        self.star: _Step | None = None  # every item or value here (`*`)

    def add(self, path: Path) -> None:
        at = self
        for step in path:
            if step == "**":
                at.deep = True
                return
            if step == "*":
                if at.star is None:
                    at.star = _Step()
                at = at.star
            else:
                at = at.keys.setdefault(step, _Step())
        at.leaf = True


class Where:
    """Some paths, each given dotted (`messages.*.content`), and the tree they make. True when it has any.
    `each` is every path on its own (a stream's texts are kept apart by path)."""

    __slots__ = ("_root", "each", "paths")

    def __init__(self, paths: tuple[Path, ...], alone: bool = False) -> None:
        self.paths = paths
        self._root = _Step()
        for path in paths:
            self._root.add(path)
        self.each: tuple[Where, ...] = (self,) if alone else tuple(Where((path,), alone=True) for path in paths)

    def __bool__(self) -> bool:
        return bool(self.paths)

    def slots(self, document: Any) -> list[Slot]:
        """Every string at one of the paths, in the order of the document (each once)."""
        out: list[Slot] = []
        if isinstance(document, (dict, list)):
            _walk(document, self._root, out)
        return out


def paths(*dotted: str) -> Where:
    """The paths, each given dotted (`messages.*.content`)."""
    return Where(tuple(tuple(path.split(".")) for path in dotted))


NOWHERE = paths()


def slots(document: Any, where: Where) -> list[Slot]:
    """Every string at one of the paths of `where`."""
    return where.slots(document)


def texts(document: Any, where: Where) -> list[str]:
    """The strings themselves."""
    return [holder[key] for holder, key in where.slots(document)]


# The containers are told apart by `isinstance` with the literal tuple `(dict, list)`: the compiled build makes it two
# type checks (a tuple held in a module constant is a generic call, ~300 instructions each), and Python 3.11 builds
# a new union object each time it evaluates `dict | list`.


def _walk(node: dict[Any, Any] | list[Any], at: _Step, out: list[Slot]) -> None:
    """Appends to `out` (a list, not a generator: every guarded request walks its body and its answer)."""
    if at.deep:
        _strings(node, out)
        return
    if isinstance(node, dict):
        for step, below in at.keys.items():
            child = node.get(step)
            if isinstance(child, str):
                if below.leaf:
                    out.append((node, step))
            elif isinstance(child, (dict, list)):
                _walk(child, below, out)
        star = at.star
        if star is None:
            return
        items: Any = list(node.items())
    elif at.star is not None:
        star = at.star
        items = enumerate(node)
    else:
        return
    for key, child in items:
        if isinstance(child, str):
            if star.leaf:
                out.append((node, key))
        elif isinstance(child, (dict, list)):
            _walk(child, star, out)


def _strings(node: Any, out: list[Slot]) -> None:
    """Every string below `node` (an object's values and a list's items, not an object's keys)."""
    items: Any = enumerate(node) if isinstance(node, list) else node.items() if isinstance(node, dict) else ()
    for key, child in items:
        if isinstance(child, str):
            out.append((node, key))
        elif isinstance(child, (dict, list)):
            _strings(child, out)


@dataclass(frozen=True, slots=True)
class TextPaths:
    """Where one door's texts are: in its request (`input`), its answer (`output`), and a streamed answer's events:
    `pieces` hold a piece of a text that continues in the next events (a delta), `wholes` a whole text again (a
    `done` event, a stream's closing copy of the answer). `framing` is how its stream's events are written: SSE,
    a JSON object a line, one JSON array an element a line, or one JSON object a WebSocket message."""

    input: Where
    output: Where = NOWHERE
    pieces: Where = NOWHERE
    wholes: Where = NOWHERE
    framing: Literal["sse", "ndjson", "json-array", "message"] = "sse"
