"""Google's OpenAPI subset (GEM `Schema`: `parameters`, `responseSchema`) → JSON Schema (pure), so any
provider can read a function declaration or an output schema written for Gemini.

The subset differs from JSON Schema in three ways that matter: type names are upper case (`OBJECT`),
`nullable: true` stands for a union with null, and a few keywords are spelled for protobuf
(`propertyOrdering` has no JSON Schema meaning and is left out). Everything else (`description`,
`enum`, `format`, `items`, `properties`, `required`, `anyOf`, the bounds) means the same and is copied.
`parametersJsonSchema` / `responseJsonSchema` are JSON Schema already and are not touched.
"""

from __future__ import annotations

from typing import Any, Final

from babelgate.errors import InvalidRequest
from babelgate.frontends.gemini.wire import JSON, SCHEMA_TYPES

# Keywords of the subset with no JSON Schema meaning.
_DROPPED: Final = frozenset({"nullable", "propertyOrdering"})
# Keywords whose value is one schema, or a map or list of schemas.
_ONE: Final = frozenset({"items", "not", "additionalProperties"})
_MAP: Final = frozenset({"properties", "$defs", "definitions"})
_LIST: Final = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})


def json_schema(schema: Any, path: str) -> JSON:
    if not isinstance(schema, dict):
        raise InvalidRequest("wrong_type", param=path, expected="an object")
    out: JSON = {}
    for key, value in schema.items():
        if key in _DROPPED:
            continue
        if key == "type":
            kind = _type(value, f"{path}.type")
            if kind is not None:  # TYPE_UNSPECIFIED: no constraint
                out["type"] = kind
        elif key in _ONE and isinstance(value, dict):
            out[key] = json_schema(value, f"{path}.{key}")
        elif key in _MAP and isinstance(value, dict):
            out[key] = {name: json_schema(item, f"{path}.{key}.{name}") for name, item in value.items()}
        elif key in _LIST and isinstance(value, list):
            out[key] = [json_schema(item, f"{path}.{key}[{index}]") for index, item in enumerate(value)]
        else:
            out[key] = value
    if schema.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif "anyOf" in out:
            out["anyOf"] = [*out["anyOf"], {"type": "null"}]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def _type(value: Any, path: str) -> Any:
    if isinstance(value, str):
        return SCHEMA_TYPES.get(value.upper(), value.lower()) if value.upper() != "TYPE_UNSPECIFIED" else None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [SCHEMA_TYPES.get(item.upper(), item.lower()) for item in value]
    raise InvalidRequest("wrong_type", param=path, expected="a type name")
