"""Checks bodies against public API specs kept in the repository (`tests/data/specs/`).

Each file there is a trimmed copy of a public OpenAPI document: the component schemas the tests name and all
they reference, unchanged (`tests/data/specs/README.md` names each source; `trim.py` regenerates them). So a
fresh clone checks exactly what CI checks. `spec_violations` checks request bodies against OpenAI's
`CreateChatCompletionRequest` on every request the fake upstream receives.

The generic part serves every spec file of that folder (`openai-openapi.json`, `openresponses-openapi.json`,
`ollama-openapi.json`, `mistral-openapi.json`): `spec_document` parses a file once per process,
`schema_validator` builds a Draft 2020-12 validator for one of its component schemas once, and
`schema_violations` lists what is wrong with a body, descending into the `oneOf`/`anyOf` branch the body meant
(the one its `type` names) rather than only saying "not valid under any of the given schemas".
"""

from __future__ import annotations

import heapq
import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, relevance
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SPEC_NAME = "openai-openapi.json"
SPECS_DIR = Path(__file__).resolve().parents[1] / "data" / "specs"


def spec_path(name: str = SPEC_NAME) -> Path:
    """Where the trimmed spec file `name` is (it is part of the repository, so it is always there)."""
    return SPECS_DIR / name


@cache
def spec_document(name: str = SPEC_NAME) -> dict[str, Any]:
    """The parsed spec, once per process."""
    document: dict[str, Any] = json.loads(spec_path(name).read_text("utf-8"))
    return document


def _uri(name: str) -> str:
    return f"urn:spec:{name}"


@cache
def _registry(name: str) -> Registry[Any]:
    registry: Registry[Any] = Registry().with_resource(_uri(name), DRAFT202012.create_resource(spec_document(name)))
    return registry


def component(schema_name: str, spec: str = SPEC_NAME) -> dict[str, Any]:
    """The raw component schema `schema_name` of `spec`. A name the trimmed spec lacks is a KeyError: a typo in
    a test helper, or a schema to add to `tests/data/specs/trim.py`'s roots (never a silent skip)."""
    schemas: dict[str, Any] = spec_document(spec).get("components", {}).get("schemas", {})
    if schema_name not in schemas:
        raise KeyError(f"{spec} has no component schema {schema_name!r} (see tests/data/specs/trim.py)")
    schema: dict[str, Any] = schemas[schema_name]
    return schema


@cache
def schema_validator(schema_name: str, spec: str = SPEC_NAME) -> Draft202012Validator:
    """A validator for the component schema `schema_name` of `spec`, built once."""
    component(schema_name, spec)  # an unknown name fails here, by name, not deep inside jsonschema
    return Draft202012Validator({"$ref": f"{_uri(spec)}#/components/schemas/{schema_name}"}, registry=_registry(spec))


def _is_null_branch(errors: list[ValidationError]) -> bool:
    """The `null` branch of a nullable field (`anyOf: [{...}, {type: null}]`) only says "is not of type 'null'"."""
    return len(errors) == 1 and errors[0].validator == "type" and errors[0].validator_value == "null"


def _wrong_kind(errors: list[ValidationError]) -> bool:
    """The branch is for another kind of object: the instance's own `type` tag (the discriminator of every
    union in these specs) is not the one this branch accepts."""
    return any(list(error.relative_path) == ["type"] and error.validator in ("enum", "const") for error in errors)


def explain(error: ValidationError) -> list[ValidationError]:
    """The specific errors behind a failed `oneOf`/`anyOf`: all of the branch the instance meant (named by its
    `type` tag, else the only non-null branch, else the most relevant one), recursively; the union error
    itself when no branch stands out (e.g. an unknown `type`)."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [error]
    branches: dict[int, list[ValidationError]] = {}
    for item in error.context:
        branches.setdefault(int(item.relative_schema_path[0]), []).append(item)
    candidates = [errors for errors in branches.values() if not _is_null_branch(errors)]
    meant = [errors for errors in candidates if not _wrong_kind(errors)]
    if len(meant) > 1:
        best = heapq.nsmallest(2, meant, key=lambda errors: min(map(relevance, errors)))
        if min(map(relevance, best[0])) == min(map(relevance, best[1])):
            return [error]
        meant = best[:1]
    if not meant:
        return [error]
    return [specific for item in meant[0] for specific in explain(item)]


def _where(error: ValidationError) -> str:
    return "/".join(map(str, error.absolute_path)) or "<body>"


def _message(error: ValidationError) -> str:
    """jsonschema's message, except that a failed union names the instance by its `type` tag instead of
    printing all of it."""
    if error.validator in ("oneOf", "anyOf"):
        instance = error.instance
        what = (
            f"object of type {instance['type']!r}"
            if isinstance(instance, dict) and "type" in instance
            else repr(instance)[:80]
        )
        return f"{what} matches none of the {len(error.validator_value)} {error.validator} alternatives"
    return str(error.message)[:300]


def schema_violations(body: Any, schema_name: str, spec: str = SPEC_NAME) -> list[str]:
    """`<path>: <message>` for each thing `body` gets wrong against `schema_name` of `spec` (explained, see
    `explain`); empty when it matches."""
    validator = schema_validator(schema_name, spec)
    out: list[str] = []
    for error in validator.iter_errors(body):
        for specific in explain(error):
            line = f"{_where(specific)}: {_message(specific)}"
            if line not in out:
                out.append(line)
    return out


def spec_violations(body: Any, schema_name: str = "CreateChatCompletionRequest") -> list[str]:
    """Empty when the body matches the OpenAI spec."""
    validator = schema_validator(schema_name, SPEC_NAME)
    return [f"{_where(error)}: {error.message[:300]}" for error in validator.iter_errors(body)]
