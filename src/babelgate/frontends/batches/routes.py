"""The Files, Batches and Message Batches routes (files.py, openai.py, anthropic.py), as one frontend. The Batches
and Message Batches handlers load at their first request (frontends/later.py); the Files handlers are the batch
engine's neighbours (it writes output files with files.py), loaded with it."""

from __future__ import annotations

from typing import Final

from babelgate.frontends.anthropic_messages.translate import encode_error as anthropic_error
from babelgate.frontends.batches.files import PURPOSES, file_resource, files
from babelgate.frontends.batches.jsonl import URLS
from babelgate.frontends.body_schema import STRING, enum
from babelgate.frontends.later import later, later_prefix
from babelgate.frontends.route import Frontend, Operation, PrefixRoute, Route

_OPENAI: Final = "babelgate.frontends.batches.openai"
_ANTHROPIC: Final = "babelgate.frontends.batches.anthropic"

UPLOAD: Final = {
    "type": "object",
    "required": ["file", "purpose"],
    "properties": {"file": {"type": "string", "format": "binary"}, "purpose": enum(PURPOSES)},
}
CREATE_BATCH: Final = {
    "type": "object",
    "required": ["input_file_id", "endpoint", "completion_window"],
    "properties": {
        "input_file_id": STRING,
        "endpoint": enum(URLS),
        "completion_window": enum(("24h",)),
        "metadata": {"type": "object", "additionalProperties": STRING},
    },
}
CREATE_MESSAGE_BATCH: Final = {
    "type": "object",
    "required": ["requests"],
    "properties": {
        "requests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["custom_id", "params"],
                "properties": {"custom_id": STRING, "params": {"type": "object"}},
            },
        }
    },
}
LISTING: Final = ("limit", "after", "order", "purpose")

FRONTEND: Final[Frontend] = Frontend(
    routes={
        "/files": Route(
            "ANY",
            files,
            "files.list",
            operations=(Operation("GET", query=LISTING), Operation("POST", form=UPLOAD)),
        ),
        "/batches": Route(
            "ANY",
            later(_OPENAI, "batches"),
            "batches.list",
            operations=(Operation("GET", query=("limit", "after")), Operation("POST", body=CREATE_BATCH)),
        ),
        "/messages/batches": Route(
            "ANY",
            later(_ANTHROPIC, "message_batches"),
            "messages.batches.list",
            errors=anthropic_error,
            operations=(
                Operation("GET", query=("limit", "after_id", "before_id")),
                Operation("POST", body=CREATE_MESSAGE_BATCH),
            ),
        ),
    },
    prefix_routes=(
        PrefixRoute(
            "/files/",
            "files.retrieve",
            file_resource,
            False,
            "file_id",
            {
                "": (Operation("GET"), Operation("DELETE")),
                "/content": (Operation("GET", answers="application/octet-stream"),),
            },
        ),
        PrefixRoute(
            "/batches/",
            "batches.retrieve",
            later_prefix(_OPENAI, "batch_resource"),
            False,
            "batch_id",
            {"": (Operation("GET"),), "/cancel": (Operation("POST"),)},
        ),
        PrefixRoute(
            "/messages/batches/",
            "messages.batches.retrieve",
            later_prefix(_ANTHROPIC, "message_batch_resource"),
            False,
            "message_batch_id",
            {
                "": (Operation("GET"), Operation("DELETE")),
                "/results": (Operation("GET", answers="application/binary"),),
                "/cancel": (Operation("POST"),),
            },
            errors=anthropic_error,
        ),
    ),
)
