"""Validators for what the gateway emits on Ollama's API (`/api/*`), against Ollama's OpenAPI spec.

The spec (`ollama-openapi.json`) is kept like the others (see `tests/fakes/openai_spec.py`). Beyond the schema:
`created_at` and `modified_at` must be RFC 3339 timestamps (the spec says `date-time`, which jsonschema does not
check by default), durations and counts non-negative integers, and a streamed body valid NDJSON whose last line
is the only one with `done: true`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.fakes.openai_spec import schema_violations

OLLAMA_SPEC = "ollama-openapi.json"
# `/api/embeddings` (legacy) is not in the spec; its answer is checked by hand below.
SCHEMAS = {
    "chat": "ChatResponse",
    "chat_stream": "ChatStreamEvent",
    "generate": "GenerateResponse",
    "generate_stream": "GenerateStreamEvent",
    "embed": "EmbedResponse",
    "tags": "ListResponse",
    "show": "ShowResponse",
    "ps": "PsResponse",
    "version": "VersionResponse",
    "error": "ErrorResponse",
}
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)")
_COUNTERS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


def violations(body: Any, kind: str) -> list[str]:
    """What is wrong with `body` as the answer `kind` (a key of SCHEMAS, or "embeddings")."""
    if kind == "embeddings":
        ok = (
            isinstance(body, dict)
            and isinstance(body.get("embedding"), list)
            and all(isinstance(x, int | float) for x in body["embedding"])
        )
        return [] if ok else [f"embeddings: expected {{'embedding': [numbers]}}, got {body!r:.200}"]
    out = [f"{SCHEMAS[kind]}: {line}" for line in schema_violations(body, SCHEMAS[kind], OLLAMA_SPEC)]
    out += _extra_checks(body)
    return out


def _extra_checks(body: Any) -> list[str]:
    out = []
    if not isinstance(body, dict):
        return out
    items = [body, *body.get("models", [])] if isinstance(body.get("models"), list) else [body]
    for item in items:
        for key in ("created_at", "modified_at"):
            if key in item and not (isinstance(item[key], str) and _RFC3339.fullmatch(item[key])):
                out.append(f"{key}: {item[key]!r} is not an RFC 3339 timestamp")
    for key in _COUNTERS:
        value = body.get(key)
        if key in body and not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            out.append(f"{key}: {value!r} is not a non-negative integer")
    return out


def assert_valid(body: Any, kind: str) -> None:
    problems = violations(body, kind)
    assert not problems, problems


def parse_ndjson(raw: bytes | str) -> list[dict[str, Any]]:
    """The objects of an NDJSON body: one JSON object per line, every line ending in a newline."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    assert text.endswith("\n"), "an NDJSON body ends with a newline"
    lines = text[:-1].split("\n")
    objects = [json.loads(line) for line in lines]
    assert all(isinstance(item, dict) for item in objects)
    return objects


def assert_valid_stream(objects: list[dict[str, Any]], kind: str) -> None:
    """Every line valid as `kind`'s stream event (`chat_stream` or `generate_stream`); `done: true` on the last
    line only, which is also a valid whole answer — unless the stream ended with an error line instead."""
    assert objects, "a stream has at least its final line"
    *body, last = objects
    if "error" in last:
        assert_valid(last, "error")
    else:
        assert last.get("done") is True, last
        assert_valid(last, kind)
        assert_valid(last, "chat" if kind == "chat_stream" else "generate")
    for item in body:
        assert_valid(item, kind)
        assert item.get("done") is False and "error" not in item, item
