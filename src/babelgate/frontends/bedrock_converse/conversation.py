"""The Converse door's messages for the conversation log: its blocks renamed into the Messages blocks they are and
read by the Messages door's codec, in and out; a stream's events (the AWS event stream's payloads, which carry no
event name) told apart by their members."""

from __future__ import annotations

from typing import Any, Final

from babelgate.conversation.codec import Conversation, arguments, message, objects
from babelgate.conversation.record import Message
from babelgate.frontends.anthropic_messages.conversation import CODEC as MESSAGES
from babelgate.frontends.anthropic_messages.conversation import blocks


def _block(block: dict[str, Any]) -> dict[str, Any] | None:
    """One Converse block as the Messages block the Messages codec reads; None for what it does not read."""
    if isinstance(block.get("text"), str):
        return {"type": "text", "text": block["text"]}
    for kind in ("image", "document"):
        value = block.get(kind)
        if isinstance(value, dict):
            source = value["source"] if isinstance(value.get("source"), dict) else {}
            media = f"image/{value.get('format')}" if kind == "image" else "application/octet-stream"
            return {"type": kind, "source": {"type": "base64", "data": source.get("bytes"), "media_type": media}}
    use = block.get("toolUse")
    if isinstance(use, dict):
        return {"type": "tool_use", "id": use.get("toolUseId"), "name": use.get("name"), "input": use.get("input")}
    result = block.get("toolResult")
    if isinstance(result, dict):
        content = [{"type": "text", "text": item["text"]} for item in objects(result.get("content")) if "text" in item]
        return {"type": "tool_result", "tool_use_id": result.get("toolUseId"), "content": content}
    reasoning = block.get("reasoningContent")
    if isinstance(reasoning, dict) and isinstance(reasoning.get("reasoningText"), dict):
        return {"type": "thinking", "thinking": reasoning["reasoningText"].get("text")}
    return None


def _blocks(content: Any) -> list[dict[str, Any]]:
    return [found for found in map(_block, objects(content)) if found is not None]


class ConverseCodec:
    def request(self, document: Any) -> Conversation:
        if not isinstance(document, dict):
            return Conversation()
        turns = [
            {"role": turn.get("role"), "content": _blocks(turn.get("content"))}
            for turn in objects(document.get("messages"))
        ]
        return MESSAGES.request({"system": _blocks(document.get("system")), "messages": turns})

    def answer(self, events: list[Any]) -> list[Message]:
        content: dict[int, dict[str, Any]] = {}
        stop: str | None = None
        for event in events:
            if not isinstance(event, dict):
                continue
            if isinstance(event.get("output"), dict):  # the whole answer
                found = event["output"].get("message")
                for number, block in enumerate(_blocks(found.get("content") if isinstance(found, dict) else None)):
                    content[number] = block
            if isinstance(event.get("stopReason"), str):
                stop = event["stopReason"]
            index = event.get("contentBlockIndex")
            if not isinstance(index, int):
                continue
            start = event.get("start")
            if isinstance(start, dict) and isinstance(start.get("toolUse"), dict):
                use = start["toolUse"]
                content[index] = {"type": "tool_use", "id": use.get("toolUseId"), "name": use.get("name"), "_json": ""}
            delta = event.get("delta")
            if isinstance(delta, dict):
                _delta(content, index, delta)
        for block in content.values():
            streamed = block.pop("_json", None)
            if block.get("type") == "tool_use" and streamed is not None:
                block["input"] = arguments(streamed)
        if not content and stop is None:
            return []
        return [message("assistant", blocks([content[index] for index in sorted(content)]), stop or "")]


def _delta(content: dict[int, dict[str, Any]], index: int, delta: dict[str, Any]) -> None:
    if isinstance(delta.get("text"), str):
        block = content.setdefault(index, {"type": "text", "text": ""})
        block["text"] = block.get("text", "") + delta["text"]
    use = delta.get("toolUse")
    if isinstance(use, dict) and isinstance(use.get("input"), str):
        block = content.setdefault(index, {"type": "tool_use", "_json": ""})
        block["_json"] = block.get("_json", "") + use["input"]
    reasoning = delta.get("reasoningContent")
    if isinstance(reasoning, dict) and isinstance(reasoning.get("text"), str):
        block = content.setdefault(index, {"type": "thinking", "thinking": ""})
        block["thinking"] = block.get("thinking", "") + reasoning["text"]


CODEC: Final = ConverseCodec()
