"""The Gemini door's messages for the conversation log: the system instruction and the contents' parts (text,
inline data, files, function calls and responses, thoughts) in, in either spelling of each field; the
candidates' parts out, whole, or assembled from a stream's chunks (SSE or one JSON array)."""

from __future__ import annotations

from typing import Any, Final

from babelgate.conversation.codec import (
    Conversation,
    blob_part,
    field_of,
    media_part,
    message,
    objects,
    text_part,
)
from babelgate.conversation.record import Message, Part

ROLES: Final = {"model": "assistant", "user": "user", "function": "tool", "tool": "tool"}


class GeminiCodec:
    def request(self, document: Any) -> Conversation:
        out = Conversation()
        if not isinstance(document, dict):
            return out
        system = field_of(document, "systemInstruction", "system_instruction")
        out.system = parts_of(system.get("parts") if isinstance(system, dict) else None)
        for content in objects(document.get("contents")):
            role = ROLES.get(content.get("role") or "user", "user")
            parts = parts_of(content.get("parts"))
            if parts and all(part["type"] == "tool_call_response" for part in parts):
                role = "tool"
            out.input.append(message(role, parts))
        return out

    def answer(self, events: list[Any]) -> list[Message]:
        candidates: dict[int, list[Any]] = {}
        for event in events:
            for candidate in objects(event.get("candidates") if isinstance(event, dict) else None):
                index = candidate.get("index", 0) if isinstance(candidate.get("index", 0), int) else 0
                kept = candidates.setdefault(index, [[], ""])
                content = candidate.get("content")
                kept[0] += objects(content.get("parts")) if isinstance(content, dict) else []
                reason = field_of(candidate, "finishReason", "finish_reason")
                if isinstance(reason, str):
                    kept[1] = reason
        return [
            message("assistant", _joined(parts_of(kept[0])), kept[1])
            for kept in (candidates[i] for i in sorted(candidates))
        ]


class GeminiEmbedCodec:
    """`:embedContent` and `:batchEmbedContents`: the texts of the content (or each request's content) in, or
    each instance's text of Vertex's `:predict`; an embedding is no message."""

    def request(self, document: Any) -> Conversation:
        out = Conversation()
        if not isinstance(document, dict):
            return out
        if "instances" in document:
            out.input = [message("user", [text_part(item.get("content"))]) for item in objects(document["instances"])]
            return out
        requests = objects(document.get("requests")) if "requests" in document else [document]
        for request in requests:
            content = request.get("content")
            parts = parts_of(content.get("parts")) if isinstance(content, dict) else []
            if parts:
                out.input.append(message("user", parts))
        return out

    def answer(self, events: list[Any]) -> list[Message]:
        return []


def parts_of(parts: Any) -> list[Part]:
    out: list[Part | None] = []
    for part in objects(parts):
        text = part.get("text")
        call = field_of(part, "functionCall", "function_call")
        result = field_of(part, "functionResponse", "function_response")
        inline = field_of(part, "inlineData", "inline_data")
        file = field_of(part, "fileData", "file_data")
        if isinstance(text, str):
            out.append(
                {"type": "reasoning" if part.get("thought") is True else "text", "content": text} if text else None
            )
        elif isinstance(call, dict):
            out.append(
                {"type": "tool_call", "id": call.get("id"), "name": call.get("name"), "arguments": call.get("args")}
            )
        elif isinstance(result, dict):
            out.append(
                {
                    "type": "tool_call_response",
                    "id": result.get("id") or result.get("name"),
                    "response": result.get("response"),
                }
            )
        elif isinstance(inline, dict):
            out.append(blob_part(inline.get("data"), field_of(inline, "mimeType", "mime_type")))
        elif isinstance(file, dict):
            mime = field_of(file, "mimeType", "mime_type")
            out.append(media_part(field_of(file, "fileUri", "file_uri"), mime if isinstance(mime, str) else None))
    return [part for part in out if part is not None]


def _joined(parts: list[Part]) -> list[Part]:
    """A stream's text pieces, one text (or reasoning) part each run: as a whole answer would have them."""
    out: list[Part] = []
    for part in parts:
        if out and part["type"] in ("text", "reasoning") and out[-1]["type"] == part["type"]:
            out[-1] = {**out[-1], "content": out[-1]["content"] + part["content"]}
        else:
            out.append(part)
    return out


CODEC: Final = GeminiCodec()
EMBED_CODEC: Final = GeminiEmbedCodec()
