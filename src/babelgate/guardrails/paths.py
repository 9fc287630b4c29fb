"""Where the texts of a request or an answer are, in a frontend's own JSON: a few dotted paths per frontend, so
that the guardrails read and mask texts the same way on every door without knowing any door's format.

A path is keys separated by dots: `*` takes every item of a list (or every value of an object), `**` every string
anywhere below (a tool call's arguments given as an object). A path that meets anything but what it expects (a
string where it wanted a list, a missing key) yields nothing there: clients send many shapes, and only strings
are texts. Each text is found as its container and key, so a guardrail that masks it writes it back in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec

Path = tuple[str, ...]
# One text: the object or list that holds it, and its key or index there.
Slot = tuple[Any, Any]


class _Step:
    """Where a walk can go from one place of the document: the paths merged into a tree, so that a request's
    body is walked once for all of a door's paths (its messages list is read once, not once per path)."""

    __slots__ = ("below", "deep", "holder", "keyed", "keys", "leaf", "names", "star")

    def __init__(self) -> None:
        self.leaf = False  # a string here is a text
        self.deep = False  # every string below here is a text (`**`)
        self.keys: dict[str, _Step] = {}  # the object keys a path names here
        self.star: _Step | None = None  # every item or value here (`*`)
        # What `raw_texts` reads, once the paths are all added (`seal`): whether they name keys here and nothing
        # else, those keys as bytes and their steps; whether a list or an object here may hold a text.
        self.keyed = False
        self.names: tuple[bytes, ...] = ()
        self.below: tuple[_Step, ...] = ()
        self.holder = False

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

    def seal(self) -> None:
        """Works out what `raw_texts` reads here and below, once every path is added."""
        self.keyed = bool(self.keys) and not self.leaf and not self.deep and self.star is None
        self.names = tuple(key.encode() for key in self.keys)
        self.below = tuple(self.keys.values())
        self.holder = self.deep or self.star is not None or bool(self.keys)
        for below in self.below:
            below.seal()
        if self.star is not None:
            self.star.seal()


class Where:
    """Some paths, each given dotted (`messages.*.content`), and the tree they make. True when it has any.
    `each` is every path on its own (a stream's texts are kept apart by path)."""

    __slots__ = ("_lean", "_root", "each", "paths")

    def __init__(self, paths: tuple[Path, ...], alone: bool = False) -> None:
        self.paths = paths
        self._root = _Step()
        for path in paths:
            self._root.add(path)
        self._root.seal()
        self.each: tuple[Where, ...] = (self,) if alone else tuple(Where((path,), alone=True) for path in paths)
        # `raw_texts`' decoder where the C reader gives up, made at its first use (most paths are never read that
        # way).
        self._lean: Any = None

    def __bool__(self) -> bool:
        return bool(self.paths)

    def slots(self, document: Any) -> list[Slot]:
        """Every string at one of the paths, in the order of the document (each once)."""
        out: list[Slot] = []
        if isinstance(document, (dict, list)):
            _walk(document, self._root, out)
        return out

    def raw_texts(self, raw: bytes) -> list[bytes] | None:
        """What holds the texts at the paths in the JSON document `raw`, as its bytes there, without making the
        document into objects: the objects on the way are read for the keys the paths name (the rest is skipped),
        and from the first `*`, `**` or text on, the value is taken whole: a string with its quotes and escapes,
        or a list or object with everything in it. A reader of these bytes sees every text, and may see more (the
        keys, ids and numbers beside them). None when `raw` is not JSON or holds another shape than the paths
        expect (a list where they name a key): parse it then.

        The C reader (`_members.c`) finds the keys' values; where it gives up (a key written with an escape,
        bytes it does not understand), and in an install without it, msgspec reads the document, checking it as
        JSON. An answer's texts are a few hundred bytes of a document of a thousand, the rest its ids, timestamp,
        dated model name and usage: a guardrail that finds nothing in these bytes lets the answer through
        unparsed (answer_guard.py)."""
        root = self._root
        if MEMBERS is not None and root.keyed:
            out: list[bytes] = []
            if _members(raw, 0, root, out):
                return out
        lean = self._lean
        if lean is None:
            lean = self._lean = msgspec.json.Decoder(_lean_shape(root))
        try:
            document = lean.decode(raw)
        except (msgspec.DecodeError, RecursionError):  # ValidationError is a DecodeError
            return None
        decoded: list[bytes] = []
        _raws(document, root, decoded)
        return decoded


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
    if not at.keyed:
        return msgspec.Raw
    fields = []
    for index, (key, below) in enumerate(at.keys.items()):
        shape = _lean_shape(below)
        # Named by position, each taking its key's name in JSON: a key need not be a Python name.
        fields.append((f"f{index}", shape if shape is msgspec.Raw else shape | None, _FIELD(default=None, name=key)))
    return msgspec.defstruct("Texts", fields)


# msgspec's `field`, untyped: its stub types what it returns as its default (None here), which the compiled build
# would check.
_FIELD: Final[Any] = msgspec.field


def _members_reader() -> Callable[[bytes, int, tuple[bytes, ...]], list[int] | None] | None:
    """The C reader of a JSON object's members (_members.c), built by every install that has a C compiler
    (buildtools/babelgate_build.py); without it, msgspec reads every document."""
    try:
        from babelgate.guardrails._members import members
    except ImportError:  # pragma: no cover  (an install without a C compiler)
        return None
    return members


MEMBERS: Final = _members_reader()


def _members(raw: bytes, start: int, at: _Step, out: list[bytes]) -> bool:
    """Appends the values below the object at `start` of `raw` that may hold a text, read by the C reader for the
    keys `at` names; False where the reader gives up or the document is not of the paths' shape there."""
    assert MEMBERS is not None
    spans = MEMBERS(raw, start, at.names)
    if spans is None:
        return False
    index = 0
    for below in at.below:
        begin, end = spans[index], spans[index + 1]
        index += 2
        if begin < 0 or raw[begin] == 110:  # a key the object lacks; n: null
            continue
        if below.keyed:
            if raw[begin] != 123 or not _members(raw, begin, below, out):  # {
                return False
        elif _takes(raw[begin], below):
            out.append(raw[begin:end])
    return True


def _raws(node: Any, at: _Step, out: list[bytes]) -> None:
    """Appends each value of msgspec's reading (`_lean_shape`) below `node` that may hold a text."""
    if node is None:
        return
    if at.keyed:
        for value, below in zip(msgspec.structs.astuple(node), at.below):  # noqa: B905  (a field a key)
            _raws(value, below, out)
        return
    view = memoryview(node)
    if _takes(view[0], at):
        out.append(view.tobytes())


def _takes(first: int, at: _Step) -> bool:
    """Whether a value that begins with the byte `first` may hold a text at `at`: a string where a path ends, a
    list or an object where one goes on (not a null, a number, or a string where a path goes on)."""
    return (first == 34 and at.leaf) or ((first == 123 or first == 91) and at.holder)  # " { [


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
