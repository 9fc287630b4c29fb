"""Where the texts of a request or an answer are, in a frontend's own JSON: a few dotted paths per frontend, so
that the guardrails read and mask texts the same way on every door without knowing any door's format.

A path is keys separated by dots: `*` takes every item of a list (or every value of an object), `**` every string
anywhere below (a tool call's arguments given as an object). A path that meets anything but what it expects (a
string where it wanted a list, a missing key) yields nothing there: clients send many shapes, and only strings
are texts. Each text is found as its container and key, so a guardrail that masks it writes it back in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec

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

    __slots__ = ("_lean", "_root", "each", "paths")

    def __init__(self, paths: tuple[Path, ...], alone: bool = False) -> None:
        self.paths = paths
        self._root = _Step()
        for path in paths:
            self._root.add(path)
        self.each: tuple[Where, ...] = (self,) if alone else tuple(Where((path,), alone=True) for path in paths)
        # `raw_texts`' decoder, made at its first use (most paths are never read that way).
        self._lean: Any = None

    def __bool__(self) -> bool:
        return bool(self.paths)

    def slots(self, document: Any) -> list[Slot]:
        """Every string at one of the paths, in the order of the document (each once)."""
        out: list[Slot] = []
        if isinstance(document, (dict, list)):
            _walk(document, self._root, out)
        return out

    def raw_texts(self, raw: bytes) -> list[Any] | None:
        """What holds the texts at the paths in the JSON document `raw`, as its bytes there (a `msgspec.Raw`),
        without making the document into objects: the objects on the way are read for the keys the paths name
        (msgspec checks the rest as JSON and skips it), and from the first `*`, `**` or text on, the value is
        taken whole: a string with its quotes and escapes, or a list or object with everything in it. A reader of
        these bytes sees every text, and may see more (the keys, ids and numbers beside them). None when `raw` is
        not JSON or holds another shape than the paths expect (a list where they name a key): parse it then.

        An answer's texts are a few hundred bytes of a document of a thousand, the rest its ids, timestamp,
        dated model name and usage: a guardrail that finds nothing in these bytes lets the answer through
        unparsed (answer_guard.py)."""
        lean = self._lean
        if lean is None:
            lean = self._lean = msgspec.json.Decoder(_lean_shape(self._root))
        try:
            document = lean.decode(raw)
        except (msgspec.DecodeError, RecursionError):  # ValidationError is a DecodeError
            return None
        out: list[Any] = []
        _raws(document, self._root, out)
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


def _lean_shape(at: _Step) -> Any:
    """msgspec's type for what lies at `at` in `raw_texts`' reading: an object of keys alone, a struct of those
    keys (each maybe null); anything else, its bytes."""
    if not _keyed(at):
        return msgspec.Raw
    fields = []
    for index, (key, below) in enumerate(at.keys.items()):
        shape = _lean_shape(below)
        # Named by position, each taking its key's name in JSON: a key need not be a Python name.
        fields.append((f"f{index}", shape if shape is msgspec.Raw else shape | None, _FIELD(default=None, name=key)))
    return msgspec.defstruct("Texts", fields)


def _keyed(at: _Step) -> bool:
    """Whether the paths at `at` name keys and nothing else (no text here, no `*`, no `**`)."""
    return bool(at.keys) and not at.leaf and not at.deep and at.star is None


# msgspec's `field`, untyped: its stub types what it returns as its default (None here), which the compiled build
# would check.
_FIELD: Final[Any] = msgspec.field
# The first byte of an object and of a list.
_HOLDERS: Final = frozenset(b"{[")


def _raws(node: Any, at: _Step, out: list[Any]) -> None:
    """Appends each `Raw` of `raw_texts`' reading below `node` that can hold a text: a string where a path ends,
    a list or an object where one goes on (not a null, a number, or a string where a path goes on)."""
    if node is None:
        return
    if _keyed(at):
        for value, below in zip(msgspec.structs.astuple(node), at.keys.values()):  # noqa: B905  (a field a key)
            _raws(value, below, out)
        return
    first = memoryview(node)[0]
    if (first == 34 and at.leaf) or (first in _HOLDERS and (at.deep or at.star is not None or bool(at.keys))):
        out.append(node)  # 34: a string's quote


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
