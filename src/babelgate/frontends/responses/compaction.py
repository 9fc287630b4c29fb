"""Compaction without a provider that compacts: the model summarises the earlier turns, and the
summary travels to the client inside an opaque `compaction` item that later requests send back.

The item is opaque, not encrypted: it holds the summary text, base64-encoded behind a version
mark, so that a client cannot mistake it for something to edit and any gateway instance can read
it without shared state. An item this gateway did not issue is refused by name.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

import orjson

from babelgate.errors import InvalidRequest
from babelgate.frontends.responses import wire
from babelgate.frontends.responses.wire import JSON

_MARK: Final = "bgc1."
SUMMARY_PROMPT: Final = (
    "Summarise the conversation above for your own later use, so that it can continue from the "
    "summary alone: keep every fact, name, number, decision, open question and instruction the user "
    "gave, and what the tools returned. Write only the summary."
)
SUMMARY_PREFIX: Final = "Summary of the earlier conversation:\n"


def compaction_item(summary: str) -> JSON:
    payload = base64.urlsafe_b64encode(orjson.dumps({"summary": summary})).decode()
    return {
        "id": wire.new_id(wire.COMPACTION_PREFIX),
        "type": "compaction",
        "encrypted_content": _MARK + payload,
        "created_by": "babelgate",
    }


def read_compaction(content: str, *, param: str = "input") -> str:
    """The system text a compaction item stands for; `param` names the item in an error."""
    if not content.startswith(_MARK):
        raise InvalidRequest("invalid_compaction", param=param)
    try:
        summary = orjson.loads(base64.urlsafe_b64decode(content[len(_MARK) :]))["summary"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidRequest("invalid_compaction", param=param) from None
    if not isinstance(summary, str):
        raise InvalidRequest("invalid_compaction", param=param)
    return SUMMARY_PREFIX + summary


def compacted_output(items: list[JSON], summary: str) -> list[JSON]:
    """The window that replaces the conversation: the user's own messages, kept as they were,
    then the compaction item standing for everything else."""
    kept = [
        {**item, "id": item.get("id") or wire.new_id(wire.MESSAGE_PREFIX), "status": "completed"}
        for item in items
        if item.get("type", "message") == "message" and item.get("role") == "user"
    ]
    return [*kept, compaction_item(summary)]
