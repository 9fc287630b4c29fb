"""The Ollama door's messages for the conversation log: `/api/chat`'s messages or `/api/generate`'s prompt and
system prompt (images as blobs) in; the message or the response out, whole or assembled from the NDJSON lines."""

from __future__ import annotations

from typing import Any, Final

from babelgate.conversation.codec import (
    Conversation,
    as_text,
    blob_part,
    message,
    objects,
    text_part,
    tool_calls,
)
from babelgate.conversation.record import Message, Part


class OllamaCodec:
    def request(self, document: Any) -> Conversation:
        out = Conversation()
        if not isinstance(document, dict):
            return out
        if "messages" not in document:  # /api/generate
            system = text_part(document.get("system"))
            out.system = [system] if system is not None else []
            out.input = [message("user", [text_part(document.get("prompt")), *_images(document.get("images"))])]
            return out
        for item in objects(document.get("messages")):
            role = item.get("role")
            if role == "system":
                out.system += [part for part in [text_part(item.get("content"))] if part is not None]
            elif role == "tool":
                response = {"type": "tool_call_response", "id": item.get("tool_name"), "response": item.get("content")}
                out.input.append(message("tool", [response]))
            elif isinstance(role, str):
                out.input.append(
                    message(
                        role,
                        [
                            *_thinking(item),
                            text_part(item.get("content")),
                            *_images(item.get("images")),
                            *tool_calls(item.get("tool_calls")),
                        ],
                    )
                )
        return out

    def answer(self, events: list[Any]) -> list[Message]:
        text = thinking = ""
        calls: list[Part] = []
        reason: str | None = None
        seen = False
        for event in events:
            if not isinstance(event, dict):
                continue
            seen = True
            said = event.get("message")
            if isinstance(said, dict):
                text += as_text(said.get("content"))
                thinking += as_text(said.get("thinking"))
                calls += tool_calls(said.get("tool_calls"))
            elif isinstance(event.get("response"), str):
                text += event["response"]
                thinking += as_text(event.get("thinking"))
            if isinstance(event.get("done_reason"), str):
                reason = event["done_reason"]
        if not seen:
            return []
        reasoning: Part | None = {"type": "reasoning", "content": thinking} if thinking else None
        return [message("assistant", [reasoning, text_part(text), *calls], reason or "")]


def _thinking(item: dict[str, Any]) -> list[Part | None]:
    thinking = item.get("thinking")
    return [{"type": "reasoning", "content": thinking}] if isinstance(thinking, str) and thinking else []


def _images(images: Any) -> list[Part | None]:
    return [blob_part(image, "image/*") for image in images] if isinstance(images, list) else []


CODEC: Final = OllamaCodec()
