"""The Responses door's messages for the conversation log: the instructions and input items in; the output items
out, from the response object, or a stream's (SSE or WebSocket) `response.completed` event, or its items as they
were done when the stream ended before it."""

from __future__ import annotations

from typing import Any, Final

from babelgate.conversation.codec import Conversation, arguments, as_text, media_part, message, objects, text_part
from babelgate.conversation.record import Message, Part

SYSTEM_ROLES: Final = ("system", "developer")
_TEXTS: Final = ("input_text", "output_text", "text")


class ResponsesCodec:
    def request(self, document: Any) -> Conversation:
        out = Conversation()
        if not isinstance(document, dict):
            return out
        part = text_part(document.get("instructions"))
        if part is not None:
            out.system.append(part)
        given = document.get("input")
        if isinstance(given, str):
            out.input.append(message("user", [text_part(given)]))
            return out
        for item in objects(given):
            role = item.get("role")
            if role in SYSTEM_ROLES:
                out.system += _content(item.get("content"))
                continue
            kept = _item(item)
            if kept is not None:
                out.input.append(kept)
        return out

    def answer(self, events: list[Any]) -> list[Message]:
        done: list[Any] = []
        text = ""
        status: str | None = None
        for event in events:
            if not isinstance(event, dict):
                continue
            kind = event.get("type")
            if isinstance(event.get("response"), dict):  # response.created/.completed/.incomplete/.failed
                response = event["response"]
                status = response.get("status") if isinstance(response.get("status"), str) else status
                if response.get("output"):
                    done = list(objects(response["output"]))
            elif kind == "response.output_item.done" and isinstance(event.get("item"), dict):
                done.append(event["item"])
            elif kind == "response.output_text.delta" and isinstance(event.get("delta"), str):
                text += event["delta"]
            elif kind is None and "output" in event:  # the response object itself
                status = event.get("status") if isinstance(event.get("status"), str) else status
                done = list(objects(event.get("output")))
        messages = [kept for kept in map(_item, done) if kept is not None]
        if not messages and text:  # cut short before any item was done
            messages = [message("assistant", [text_part(text)])]
        return [_merged(messages, status or "")] if messages else []


def _merged(messages: list[Message], status: str) -> Message:
    """The output items as one assistant message (the conventions' output message), with the response's status."""
    parts = [part for kept in messages for part in kept["parts"]]
    return message("assistant", parts, status)


def _item(item: dict[str, Any]) -> Message | None:
    kind = item.get("type", "message")
    if kind == "message":
        role = as_text(item.get("role")) or "user"
        return message(role, list(_content(item.get("content"))))
    if kind == "function_call":
        part: Part = {
            "type": "tool_call",
            "id": item.get("call_id"),
            "name": item.get("name"),
            "arguments": arguments(item.get("arguments")),
        }
        return message("assistant", [part])
    if kind == "function_call_output":
        return message(
            "tool", [{"type": "tool_call_response", "id": item.get("call_id"), "response": item.get("output")}]
        )
    if kind == "reasoning":
        summary = "".join(s.get("text", "") for s in objects(item.get("summary")) if isinstance(s.get("text"), str))
        return message("assistant", [{"type": "reasoning", "content": summary}]) if summary else None
    return None


def _content(content: Any) -> list[Part]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}] if content else []
    parts: list[Part | None] = []
    for part in objects(content):
        kind = part.get("type")
        if kind in _TEXTS:
            parts.append(text_part(part.get("text")))
        elif kind == "refusal":
            parts.append(text_part(part.get("refusal")))
        elif kind == "input_image":
            parts.append(media_part(part.get("image_url"), "image/*"))
        elif kind == "input_file" and isinstance(part.get("file_data"), str):
            parts.append(media_part(part["file_data"], "application/octet-stream"))
    return [part for part in parts if part is not None]


CODEC: Final = ResponsesCodec()
