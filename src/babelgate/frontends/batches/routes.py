"""The Files, Batches and Message Batches routes (files.py, openai.py, anthropic.py), as one frontend."""

from __future__ import annotations

from typing import Final

from babelgate.frontends.anthropic_messages.translate import encode_error as anthropic_error
from babelgate.frontends.batches.anthropic import message_batch_resource, message_batches
from babelgate.frontends.batches.files import PURPOSES, file_resource, files
from babelgate.frontends.batches.jsonl import URLS
from babelgate.frontends.batches.openai import batch_resource, batches
from babelgate.frontends.body_schema import STRING, enum
from babelgate.frontends.route import Frontend, Operation, PrefixRoute, Route

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
            batches,
            "batches.list",
            operations=(Operation("GET", query=("limit", "after")), Operation("POST", body=CREATE_BATCH)),
        ),
        "/messages/batches": Route(
            "ANY",
            message_batches,
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
            batch_resource,
            False,
            "batch_id",
            {"": (Operation("GET"),), "/cancel": (Operation("POST"),)},
        ),
        PrefixRoute(
            "/messages/batches/",
            "messages.batches.retrieve",
            message_batch_resource,
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
