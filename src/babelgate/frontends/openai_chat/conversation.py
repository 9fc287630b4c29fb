"""The Chat Completions door's messages for the conversation log (conversation/codec.py): the request's messages
(system and developer ones are the system instructions), the answer's choices whole or assembled from the
stream's deltas."""

from __future__ import annotations

from typing import Any, Final

from babelgate.conversation.codec import (
    Conversation,
    arguments,
    as_object,
    blob_part,
    media_part,
    message,
    objects,
    text_part,
    tool_calls,
)
from babelgate.conversation.record import Message, Part

SYSTEM_ROLES: Final = ("system", "developer")


class ChatCodec:
    def request(self, document: Any) -> Conversation:
        out = Conversation()
        for item in objects(document.get("messages") if isinstance(document, dict) else None):
            role = item.get("role")
            parts = content_parts(item.get("content"))
            if role in SYSTEM_ROLES:
                out.system += parts
            elif role == "tool":
                out.input.append(
                    message(
                        "tool",
                        [
                            {
                                "type": "tool_call_response",
                                "id": item.get("tool_call_id"),
                                "response": _plain(item.get("content")),
                            }
                        ],
                    )
                )
            elif isinstance(role, str):
                out.input.append(message(role, [*parts, *tool_calls(item.get("tool_calls"))]))
        return out

    def answer(self, events: list[Any]) -> list[Message]:
        choices: dict[int, dict[str, Any]] = {}
        for event in events:
            for choice in objects(event.get("choices") if isinstance(event, dict) else None):
                index = choice.get("index", 0) if isinstance(choice.get("index", 0), int) else 0
                kept = choices.setdefault(index, {"text": "", "reasoning": "", "calls": {}, "finish": None})
                whole = choice.get("message")
                delta = whole if isinstance(whole, dict) else choice.get("delta")
                if isinstance(delta, dict):
                    _absorb(kept, delta)
                if isinstance(choice.get("finish_reason"), str):
                    kept["finish"] = choice["finish_reason"]
        return [_choice(choices[index]) for index in sorted(choices)]


def _absorb(kept: dict[str, Any], delta: dict[str, Any]) -> None:
    for name, into in (("content", "text"), ("refusal", "text"), ("reasoning_content", "reasoning")):
        if isinstance(delta.get(name), str):
            kept[into] += delta[name]
    for position, call in enumerate(objects(delta.get("tool_calls"))):
        index = call.get("index", position)
        slot = kept["calls"].setdefault(index, {"id": None, "name": "", "arguments": ""})
        function = as_object(call.get("function"))
        if isinstance(call.get("id"), str):
            slot["id"] = call["id"]
        if isinstance(function.get("name"), str):
            slot["name"] += function["name"]
        if isinstance(function.get("arguments"), str):
            slot["arguments"] += function["arguments"]


def _choice(kept: dict[str, Any]) -> Message:
    parts: list[Part | None] = []
    if kept["reasoning"]:
        parts.append({"type": "reasoning", "content": kept["reasoning"]})
    parts.append(text_part(kept["text"]))
    for index in sorted(kept["calls"]):
        call = kept["calls"][index]
        parts.append(
            {"type": "tool_call", "id": call["id"], "name": call["name"], "arguments": arguments(call["arguments"])}
        )
    return message("assistant", parts, kept["finish"] or "")


def content_parts(content: Any) -> list[Part]:
    """A message's content: a string, or a list of text, image and audio parts."""
    if isinstance(content, str):
        return [{"type": "text", "content": content}] if content else []
    parts: list[Part | None] = []
    for part in objects(content):
        kind = part.get("type")
        if kind in ("text", "input_text", "output_text"):
            parts.append(text_part(part.get("text")))
        elif kind == "refusal":
            parts.append(text_part(part.get("refusal")))
        elif kind == "image_url":
            image = part.get("image_url")
            parts.append(media_part(image.get("url") if isinstance(image, dict) else image, "image/*"))
        elif kind == "input_audio" and isinstance(part.get("input_audio"), dict):
            audio = part["input_audio"]
            parts.append(blob_part(audio.get("data"), f"audio/{audio.get('format') or 'wav'}"))
    return [part for part in parts if part is not None]


def _plain(content: Any) -> Any:
    """A tool result: its text (the text parts joined), or what it is."""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in objects(content) if isinstance(part.get("text"), str))
    return content


CODEC: Final = ChatCodec()
