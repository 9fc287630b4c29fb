"""The Messages door's messages for the conversation log: the system prompt and the messages' content blocks
(text, images, tool uses and results, thinking) in; the answer's blocks out, whole or assembled from its events."""

from __future__ import annotations

from typing import Any, Final

from babelgate.conversation.codec import Conversation, arguments, blob_part, media_part, message, objects, text_part
from babelgate.conversation.record import Message, Part


class MessagesCodec:
    def request(self, document: Any) -> Conversation:
        out = Conversation()
        if not isinstance(document, dict):
            return out
        out.system = blocks(document.get("system"))
        for item in objects(document.get("messages")):
            role = item.get("role")
            if not isinstance(role, str):
                continue
            parts = blocks(item.get("content"))
            results = [part for part in parts if part["type"] == "tool_call_response"]
            others = [part for part in parts if part["type"] != "tool_call_response"]
            if results:  # the conventions keep tool results in the tool's own message
                out.input.append(message("tool", list(results)))
            if others or not results:
                out.input.append(message(role, list(others)))
        return out

    def answer(self, events: list[Any]) -> list[Message]:
        content: dict[int, dict[str, Any]] = {}
        stop: str | None = None
        for event in events:
            if not isinstance(event, dict):
                continue
            kind = event.get("type")
            if kind == "message" or (kind is None and "content" in event):  # the whole answer
                for index, block in enumerate(objects(event.get("content"))):
                    content[index] = dict(block)
                stop = event.get("stop_reason") if isinstance(event.get("stop_reason"), str) else stop
            elif kind == "content_block_start" and isinstance(event.get("content_block"), dict):
                block = dict(event["content_block"])
                block["_json"] = ""
                content[_index(event)] = block
            elif kind == "content_block_delta" and isinstance(event.get("delta"), dict):
                _delta(content.setdefault(_index(event), {"type": "text", "text": "", "_json": ""}), event["delta"])
            elif kind == "message_delta" and isinstance(event.get("delta"), dict):
                reason = event["delta"].get("stop_reason")
                stop = reason if isinstance(reason, str) else stop
        for block in content.values():
            streamed = block.pop("_json", "")
            if streamed and block.get("type") in ("tool_use", "server_tool_use"):
                block["input"] = arguments(streamed)
        if not content and stop is None:
            return []
        return [message("assistant", blocks([content[index] for index in sorted(content)]), stop or "")]


def _index(event: dict[str, Any]) -> int:
    index = event.get("index", 0)
    return index if isinstance(index, int) else 0


def _delta(block: dict[str, Any], delta: dict[str, Any]) -> None:
    for name, into in (("text", "text"), ("thinking", "thinking"), ("partial_json", "_json")):
        if isinstance(delta.get(name), str):
            block[into] = block.get(into, "") + delta[name]


def blocks(content: Any) -> list[Part]:
    """Content blocks (or a plain string) as parts."""
    if isinstance(content, str):
        return [{"type": "text", "content": content}] if content else []
    parts: list[Part | None] = []
    for block in objects(content):
        kind = block.get("type")
        if kind == "text":
            parts.append(text_part(block.get("text")))
        elif kind == "thinking":
            thinking = block.get("thinking")
            parts.append({"type": "reasoning", "content": thinking} if isinstance(thinking, str) and thinking else None)
        elif kind in ("tool_use", "server_tool_use"):
            parts.append(
                {"type": "tool_call", "id": block.get("id"), "name": block.get("name"), "arguments": block.get("input")}
            )
        elif kind == "tool_result":
            result = block.get("content")
            response = (
                "".join(p.get("content", "") for p in blocks(result) if p["type"] == "text")
                if isinstance(result, list)
                else result
            )
            parts.append({"type": "tool_call_response", "id": block.get("tool_use_id"), "response": response})
        elif kind in ("image", "document") and isinstance(block.get("source"), dict):
            parts.append(_source(block["source"]))
    return [part for part in parts if part is not None]


def _source(source: dict[str, Any]) -> Part | None:
    if source.get("type") == "base64":
        return blob_part(source.get("data"), source.get("media_type"))
    if source.get("type") == "url":
        return media_part(
            source.get("url"), source.get("media_type") if isinstance(source.get("media_type"), str) else "image/*"
        )
    return None


CODEC: Final = MessagesCodec()
