"""How a door's request and answer become the log's messages (record.py): each door declares a `Codec` beside its
guardrails' TEXTS (frontends/), and the log calls it off the request path, on what the caller sent (after the
input guardrails) and the bytes it got back (after the output guardrails).

The helpers here are what every door's codec shares: reading an answer's bytes whatever its framing (one JSON
document, a JSON array, server-sent events, newline-delimited JSON, one JSON event per WebSocket message), and
making the parts of the semantic conventions. (An AWS event stream, Bedrock's framing, too.) A codec reads what it
can: a field of the wrong shape yields nothing, never an error, so an answer cut short still yields what came before
the cut."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from babelgate.conversation.record import Message, Part
from babelgate.errors import GatewayError
from babelgate.eventstream import EventStreamDecoder


@dataclass(slots=True)
class Conversation:
    """A request's messages: the system instructions apart, as the conventions keep them."""

    system: list[Part] = field(default_factory=list)
    input: list[Message] = field(default_factory=list)


class Codec(Protocol):
    def request(self, document: Any) -> Conversation:
        """The request's system instructions and input messages (`document`: its decoded JSON body)."""
        ...

    def answer(self, events: list[Any]) -> list[Message]:
        """The answer's output messages (`events`: its JSON values in order, `answer_events`)."""
        ...


def answer_events(chunks: list[bytes]) -> list[Any]:
    """The JSON values an answer's bytes hold, in order: the document itself (its items when it is an array), or
    each event of a stream (server-sent events' `data`, NDJSON lines, one per WebSocket message). What does not
    parse is skipped: a stream cut short keeps its whole events."""
    whole = b"".join(chunks)
    if whole[:1] == b"\x00":  # an AWS event stream (Bedrock's doors): a frame's length comes first
        return _event_stream(whole)
    try:
        value = orjson.loads(whole)
    except orjson.JSONDecodeError:
        pass
    else:
        return value if isinstance(value, list) else [value]
    if whole.lstrip()[:1] == b"[":  # a JSON-array stream cut short: its whole items
        return _array_items(whole)
    if b"data:" in whole:
        return _sse(whole)
    events = _lines(whole)
    if not events and len(chunks) > 1:  # WebSocket messages, one JSON event each, no separator
        events = [value for chunk in chunks for value in _loads(chunk)]
    return events


def _loads(text: bytes) -> list[Any]:
    try:
        return [orjson.loads(text)]
    except orjson.JSONDecodeError:
        return []


def _event_stream(whole: bytes) -> list[Any]:
    """The events of an AWS event stream's whole frames: each `chunk` carries one event's JSON, base64 in `bytes`."""
    try:
        messages = EventStreamDecoder("conversation log").feed(whole)
    except GatewayError:  # a frame that does not check out: what came before it was handed over already
        return []
    events: list[Any] = []
    for message in messages:
        for payload in _loads(message.payload):
            carried = payload.get("bytes") if isinstance(payload, dict) else None
            if isinstance(carried, str):
                try:
                    events += _loads(base64.b64decode(carried))
                except binascii.Error:
                    continue
            else:
                events.append(payload)
    return events


def _sse(whole: bytes) -> list[Any]:
    events: list[Any] = []
    for block in whole.replace(b"\r\n", b"\n").split(b"\n\n"):
        data = [line[5:].lstrip(b" ") for line in block.split(b"\n") if line.startswith(b"data:")]
        if data and data != [b"[DONE]"]:
            events += _loads(b"\n".join(data))
    return events


def _lines(whole: bytes) -> list[Any]:
    return [value for line in whole.split(b"\n") if line.strip() for value in _loads(line)]


# Closing brackets tried from the end of an array cut short (each a parse of what comes before it).
_ARRAY_TRIES = 64


def _array_items(whole: bytes) -> list[Any]:
    """The whole items of a JSON array cut short: the longest prefix that closes as an array."""
    text = whole.strip()
    cut = len(text)
    for _ in range(_ARRAY_TRIES):
        cut = text.rfind(b"}", 0, cut)
        if cut < 0:
            break
        try:
            value = orjson.loads(text[: cut + 1] + b"]")
        except orjson.JSONDecodeError:
            continue
        return value if isinstance(value, list) else []
    return []


def text_part(content: Any) -> Part | None:
    return {"type": "text", "content": content} if isinstance(content, str) and content else None


def media_part(url: Any, mime_type: str | None = None) -> Part | None:
    """A medium given by URL: a `data:` URL is the blob it carries, any other the URI."""
    if not isinstance(url, str) or not url:
        return None
    if url.startswith("data:") and "," in url:
        head, data = url[5:].split(",", 1)
        mime = head.split(";")[0] or mime_type or "application/octet-stream"
        if ";base64" not in head:
            data = binascii.b2a_base64(data.encode(), newline=False).decode()
        return blob_part(data, mime)
    return {
        "type": "uri",
        "modality": modality(mime_type),
        "uri": url,
        **({"mime_type": mime_type} if mime_type else {}),
    }


def blob_part(data: Any, mime_type: Any) -> Part | None:
    if not isinstance(data, str) or not data:
        return None
    mime = mime_type if isinstance(mime_type, str) and mime_type else "application/octet-stream"
    return {"type": "blob", "modality": modality(mime), "mime_type": mime, "content": data}


def modality(mime_type: str | None) -> str:
    kind = (mime_type or "image/").split("/")[0]
    return kind if kind in ("image", "audio", "video") else "file"


def arguments(value: Any) -> Any:
    """A tool call's arguments as the conventions keep them: the object (a JSON text decoded when it is one)."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def tool_calls(calls: Any) -> list[Part]:
    """OpenAI-shaped tool calls (`{id, function: {name, arguments}}`: Chat Completions', Ollama's) as parts."""
    out: list[Part] = []
    for call in objects(calls):
        function = as_object(call.get("function"))
        out.append(
            {
                "type": "tool_call",
                "id": call.get("id"),
                "name": function.get("name"),
                "arguments": arguments(function.get("arguments")),
            }
        )
    return out


def message(role: str, parts: Sequence[Part | None], finish_reason: str | None = None) -> Message:
    kept: Message = {"role": role, "parts": [part for part in parts if part is not None]}
    if finish_reason is not None:
        kept["finish_reason"] = finish_reason
    return kept


def objects(value: Any) -> list[dict[str, Any]]:
    """The objects of a list (anything else: none), for fields clients may send in any shape."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def field_of(node: Any, *names: str) -> Any:
    """The first of `names` the object has (a field's camelCase and snake_case spellings)."""
    if isinstance(node, dict):
        for name in names:
            if name in node:
                return node[name]
    return None


def as_object(value: Any) -> dict[str, Any]:
    """The object, or an empty one for anything else."""
    return value if isinstance(value, dict) else {}


def as_text(value: Any) -> str:
    """The string, or an empty one for anything else."""
    return value if isinstance(value, str) else ""
