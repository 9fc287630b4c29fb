"""JSON Schema for request bodies, built from the very tables the validators check (ranges, booleans,
roles, part types), so the published /openapi.json (frontends/openapi.py) cannot drift from what the
gateway accepts. The schemas describe what the gateway itself judges; fields it only passes through
are left open (`additionalProperties` stays true), as the validators leave them to the upstream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

JSON = dict[str, Any]

STRING: Final[JSON] = {"type": "string"}
BOOLEAN: Final[JSON] = {"type": "boolean"}
INTEGER: Final[JSON] = {"type": "integer"}
OBJECT: Final[JSON] = {"type": "object"}
MODEL: Final[JSON] = {"type": "string", "minLength": 1, "description": "a model, alias or provider/model"}


def number(low: float, high: float, *, integer: bool = False) -> JSON:
    return {"type": "integer" if integer else "number", "minimum": low, "maximum": high}


def enum(values: Iterable[str]) -> JSON:
    return {"type": "string", "enum": sorted(values)}


def array(items: JSON, *, min_items: int = 0) -> JSON:
    schema: JSON = {"type": "array", "items": items}
    if min_items:
        schema["minItems"] = min_items
    return schema


def any_of(*schemas: JSON) -> JSON:
    return {"anyOf": list(schemas)}


def nullable(schema: JSON) -> JSON:
    return any_of(schema, {"type": "null"})


def obj(
    required: Iterable[str] = (),
    *,
    strings: Iterable[str] = (),
    booleans: Iterable[str] = (),
    numbers: Mapping[str, tuple[float, float]] | None = None,
    integers: Mapping[str, tuple[int, int]] | None = None,
    properties: Mapping[str, JSON] | None = None,
) -> JSON:
    """An object whose named fields have these types; others pass (the tolerant reader)."""
    fields: JSON = {name: dict(STRING) for name in strings}
    fields.update({name: dict(BOOLEAN) for name in booleans})
    fields.update({name: number(low, high) for name, (low, high) in (numbers or {}).items()})
    fields.update({name: number(low, high, integer=True) for name, (low, high) in (integers or {}).items()})
    fields.update(properties or {})
    schema: JSON = {"type": "object", "properties": fields}
    required = list(required)
    if required:
        schema["required"] = required
    return schema


BINARY: Final[JSON] = {"type": "string", "format": "binary"}  # a file part of a multipart form
