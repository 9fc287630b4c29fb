"""Google's OpenAPI subset (GEM `Schema`: `parameters`, `responseSchema`) → JSON Schema (pure), so any
provider can read a function declaration or an output schema written for Gemini.

The subset differs from JSON Schema in three ways that matter: type names are upper case (`OBJECT`),
`nullable: true` stands for a union with null, and a few keywords are spelled for protobuf
(`propertyOrdering` has no JSON Schema meaning and is left out). Everything else (`description`,
`enum`, `format`, `items`, `properties`, `required`, `anyOf`, the bounds) means the same and is copied.
`parametersJsonSchema` / `responseJsonSchema` are JSON Schema already and are not touched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson

from babelgate.errors import InvalidRequest
from babelgate.frontends.gemini.wire import JSON, SCHEMA_TYPES

# Keywords of the subset with no JSON Schema meaning.
_DROPPED: Final = frozenset({"nullable", "propertyOrdering"})
# Keywords whose value is one schema, or a map or list of schemas.
_ONE: Final = frozenset({"items", "not", "additionalProperties"})
_MAP: Final = frozenset({"properties", "$defs", "definitions"})
_LIST: Final = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
# Type names as JSON Schema spells them (what most clients send even in the subset): taken as they are.
_JSON_TYPES: Final = frozenset(SCHEMA_TYPES.values())


def json_schema(schema: Any, path: str | Callable[[], str]) -> JSON:
    """The JSON Schema of a subset schema at `path` (where an error names it: a function that spells it, so
    that a good schema, every request's, builds no path string)."""
    key = _key(schema)
    if key is not None:
        found = _CONVERTED.get(key)
        if found is not None:
            converted: JSON = orjson.loads(found)  # objects of the caller's own: a translator may change them
            return converted
    try:
        converted = _converted(schema)
    except _Misplaced as error:
        where = "".join(_step(keyword, inner) for keyword, inner in reversed(error.steps))
        start = path if isinstance(path, str) else path()
        raise InvalidRequest("wrong_type", param=f"{start}{where}", expected=error.expected) from None
    if key is not None:
        if len(_CONVERTED) >= _CACHED_SCHEMAS:
            _CONVERTED.clear()
        _CONVERTED[key] = orjson.dumps(converted)
    return converted


# Converted schemas by their source's JSON. A client sends the same tools with every turn of a conversation, and
# converting them walked every level in Python (~520 bytecodes a request for the bench's two tools: the Gemini API
# frontend's largest step); their JSON in and out of orjson is two C calls. Bounded in count and in each schema's
# size, and cleared when full: a client whose schemas change every request costs one dump more each. A pure
# function of the schema (no config, no secret), so it is the process's, whichever gateway converted it.
_CONVERTED: dict[bytes, bytes] = {}
_CACHED_SCHEMAS: Final = 512
_CACHED_BYTES: Final = 8192


def _key(schema: Any) -> bytes | None:
    """The schema's JSON, when it may be kept (a small object, as the client's JSON parsed)."""
    if schema.__class__ is not dict:
        return None
    try:
        key = orjson.dumps(schema)
    except TypeError:  # not a parsed body's (orjson.JSONEncodeError is a TypeError): converted every time
        return None
    return key if len(key) <= _CACHED_BYTES else None


class _Misplaced(Exception):
    """A wrong value deep in a schema. The steps to it are added on the way out, so that a good
    schema (every request's) converts without building a path string at each level."""

    def __init__(self, expected: str) -> None:
        self.expected = expected
        self.steps: list[tuple[str, str | int | None]] = []  # (keyword, property name or index)


def _step(key: str, inner: str | int | None) -> str:
    return f".{key}" if inner is None else f".{key}[{inner}]" if isinstance(inner, int) else f".{key}.{inner}"


def _converted(schema: Any) -> JSON:
    # Loops rather than comprehensions, types tested by class (orjson makes exact dicts and strings) and
    # a type name already in JSON Schema's spelling taken as it is: no call per level but the items and
    # the recursion itself (a request converts its tools' schemas every time).
    if schema.__class__ is not dict:
        raise _Misplaced("an object")
    out: JSON = {}
    nullable = False
    for key, value in schema.items():
        if key in _DROPPED:
            nullable = nullable or (key == "nullable" and value is True)
            continue
        if key == "type":
            if value.__class__ is str:
                if value in _JSON_TYPES:
                    out["type"] = value
                else:
                    upper = value.upper()
                    if upper != "TYPE_UNSPECIFIED":  # unspecified: no constraint
                        out["type"] = SCHEMA_TYPES.get(upper) or value.lower()
            else:
                out["type"] = _types(value)
        elif key in _ONE and value.__class__ is dict:
            out[key] = _inner(value, key, None)
        elif key in _MAP and value.__class__ is dict:
            converted: JSON = {}
            name = ""
            try:
                for name, item in value.items():
                    converted[name] = _converted(item)
            except _Misplaced as error:
                error.steps.append((key, name))
                raise
            out[key] = converted
        elif key in _LIST and value.__class__ is list:
            out[key] = [_inner(item, key, index) for index, item in enumerate(value)]
        else:
            out[key] = value
    if nullable:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif "anyOf" in out:
            out["anyOf"] = [*out["anyOf"], {"type": "null"}]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def _inner(schema: Any, key: str, inner: str | int | None) -> JSON:
    try:
        return _converted(schema)
    except _Misplaced as error:
        error.steps.append((key, inner))
        raise


def _types(value: Any) -> list[str]:
    """A list of type names (the subset's one-name form is read in place)."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [SCHEMA_TYPES.get(item.upper(), item.lower()) for item in value]
    error = _Misplaced("a type name")
    error.steps.append(("type", None))
    raise error
