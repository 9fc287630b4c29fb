"""Checks request bodies against the official OpenAI OpenAPI spec (`CreateChatCompletionRequest`).

The spec lives in the team's shared folder beside the repository (`../shared/specs/`, or
`$BABELGATE_SPECS_DIR`); where it is absent (a user's machine) the check is skipped, and CI, which
always has it, runs it on every request the fake upstream receives.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_NAME = "openai-openapi.yaml"


def spec_path() -> Path | None:
    candidates = [Path(os.environ["BABELGATE_SPECS_DIR"]) / SPEC_NAME] if "BABELGATE_SPECS_DIR" in os.environ else []
    candidates.append(Path(__file__).resolve().parents[3] / "shared" / "specs" / SPEC_NAME)
    return next((path for path in candidates if path.is_file()), None)


@cache
def _validator(schema_name: str) -> Draft202012Validator | None:
    path = spec_path()
    if path is None:
        return None
    document = yaml.load(path.read_text("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    uri = "urn:openai-openapi"
    registry: Registry[Any] = Registry().with_resource(uri, Resource(contents=document, specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"{uri}#/components/schemas/{schema_name}"}, registry=registry)


def spec_violations(body: Any, schema_name: str = "CreateChatCompletionRequest") -> list[str]:
    """Empty when the body matches the spec (or the spec is not available here)."""
    validator = _validator(schema_name)
    if validator is None:
        return []
    return [f"{'/'.join(map(str, error.absolute_path)) or '<body>'}: {error.message[:300]}"
            for error in validator.iter_errors(body)]
