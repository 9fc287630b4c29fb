"""Regenerates this folder's trimmed API specs from the full public documents.

The tests check bodies against a few component schemas of four public OpenAPI documents (see README.md for
where each came from). The full documents are 4 MB of mostly unrelated API; this keeps, of each, the schemas
the tests name (`ROOTS`) and everything they reference, byte-for-byte the same JSON values, so a fresh clone
checks exactly what the full documents would. Run it when a test needs a schema not yet here or a spec is
updated:

    python -m tests.data.specs.trim /path/to/folder/with/the/full/specs
"""

from __future__ import annotations

import datetime
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent

# Source file → (trimmed file, component schemas the tests validate against, paths kept). The trimmed file is
# JSON (parsed ten times faster than YAML; every YAML document here is plain JSON data but for one date in an
# example, written as its ISO string).
ROOTS: dict[str, tuple[str, list[str], list[tuple[str, ...]]]] = {
    "openai-openapi.yaml": (
        "openai-openapi.json",
        [
            "CreateChatCompletionRequest",
            "CreateCompletionRequest",
            "CreateCompletionResponse",
            "CreateResponse",
            "CreateEmbeddingRequest",
            "CreateImageRequest",
            "CreateImageEditRequest",
            "CreateTranscriptionRequest",
            "CreateTranslationRequest",
            "CreateSpeechRequest",
            "Response",
            "ResponseStreamEvent",
            "CompactResource",
            "ResponseWsError",
            "ErrorResponse",
        ],
        [],
    ),
    "openresponses-openapi.json": (
        "openresponses-openapi.json",
        [
            "ResponseResource",
            "CompactResource",
            "CompactionBody",
            "WebSocketErrorEvent",
            "CreateResponseBody",
            "WebSocketResponseCreateEvent",
        ],
        [("paths", "/responses", "post", "responses", "200", "content", "text/event-stream")],
    ),
    "ollama-openapi.yaml": (
        "ollama-openapi.json",
        [
            "ChatResponse",
            "ChatStreamEvent",
            "GenerateResponse",
            "GenerateStreamEvent",
            "EmbedResponse",
            "ListResponse",
            "ShowResponse",
            "PsResponse",
            "VersionResponse",
            "ErrorResponse",
        ],
        [],
    ),
    "mistral-openapi.yaml": (
        "mistral-openapi.json",
        [
            "ChatCompletionRequest",
            "EmbeddingRequest",
            "EmbeddingResponse",
            "CompletionChunk",
            "ChatCompletionChoice",
            "UsageInfo",
            "BaseModelCard",
        ],
        [],
    ),
}

_REF = re.compile(r'"\$ref": "#/([^"]+)"')


def _load(path: Path) -> dict[str, Any]:
    text = path.read_text("utf-8")
    if path.suffix == ".json":
        document: dict[str, Any] = json.loads(text)
    else:
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return document


def _as_json(value: Any, indent: int | None = None) -> str:
    def iso(item: Any) -> str:
        if isinstance(item, datetime.date):
            return item.isoformat()
        raise TypeError(f"not JSON data: {item!r}")

    return json.dumps(value, default=iso, ensure_ascii=False, indent=indent)


def _place(out: dict[str, Any], document: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """Copies document[k1][k2]… into out at the same place; the copied value."""
    source, target = document, out
    for key in keys[:-1]:
        source = source[key]
        target = target.setdefault(key, {})
    target[keys[-1]] = source[keys[-1]]
    return source[keys[-1]]


def trim(document: dict[str, Any], roots: list[str], paths: list[tuple[str, ...]]) -> dict[str, Any]:
    """The document's header, the listed paths and root schemas, and the closure of what they `$ref`."""
    out: dict[str, Any] = {key: document[key] for key in ("openapi", "info") if key in document}
    pending = [("components", "schemas", name) for name in roots] + list(paths)
    seen: set[tuple[str, ...]] = set()
    while pending:
        keys = pending.pop()
        if keys in seen:
            continue
        seen.add(keys)
        value = _place(out, document, keys)
        for pointer in _REF.findall(_as_json(value)):
            parts = tuple(part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/"))
            # A whole component (`components/schemas/X`) or a root `$defs/X`: deeper pointers come with it.
            pending.append(parts[:3] if parts[0] == "components" else parts[:2])
    return out


def main(source: Path) -> None:
    for name, (target, roots, paths) in ROOTS.items():
        trimmed = trim(_load(source / name), roots, paths)
        (HERE / target).write_text(_as_json(trimmed, indent=1) + "\n", "utf-8")  # one value a line: diffs stay readable
        print(f"{target}: {len(trimmed['components']['schemas'])} schemas from {name}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
