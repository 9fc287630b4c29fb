"""OpenAI messages → Anthropic `system` + alternating user/assistant turns (pure).

Shaping rules the Messages API enforces: system and developer messages before
the conversation become `system`, later ones user text where they stand (system_messages.py); tool
results become `tool_result` blocks at the start of the next user turn; consecutive same-role
messages merge into one turn (nothing is dropped); empty text is left out.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, assert_never

import orjson

from babelgate.errors import InvalidRequest, UnsupportedCapability
from babelgate.providers.anthropic.wire import DETAIL_FORMAT, IMAGE_MEDIA_TYPES, REASONING_DETAILS
from babelgate.providers.system_messages import place_system_messages
from babelgate.schema.chat import (
    JSON,
    AudioPart,
    ContentPart,
    FilePart,
    ImagePart,
    Message,
    RefusalPart,
    TextPart,
)

PROVIDER = "anthropic"


def system_and_turns(messages: list[Message], adjusted: list[str]) -> tuple[list[JSON], list[JSON]]:
    system: list[JSON] = []
    turns: list[JSON] = []
    for index, message in enumerate(place_system_messages(messages, adjusted)):
        path = f"messages[{index}]"
        role = message.role
        match role:
            case "system" | "developer":
                system += [block for block in _content_blocks(message.content, path) if block["type"] == "text"]
            case "user":
                _append(turns, "user", _content_blocks(message.content, path))
            case "tool" | "function":
                _append(turns, "user", [_tool_result(message, path)])
            case "assistant":
                _append(turns, "assistant", _assistant_blocks(message, path))
            case _:
                assert_never(role)
    return system, turns


def _append(turns: list[JSON], role: str, blocks: list[JSON]) -> None:
    if not blocks:
        return  # an empty turn must not keep two turns of the other role apart
    if turns and turns[-1]["role"] == role:
        merged = turns[-1]["content"] + blocks
        # Tool results must open the user turn that answers the tool calls.
        merged.sort(key=lambda block: block["type"] != "tool_result")
        turns[-1]["content"] = merged
    else:
        turns.append({"role": role, "content": blocks})


def _content_blocks(content: str | list[ContentPart] | None, path: str) -> list[JSON]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    blocks = []
    for index, part in enumerate(content):
        block = _part(part, f"{path}.content[{index}]")
        if block is not None:
            blocks.append(block)
    return blocks


def _part(part: ContentPart, path: str) -> JSON | None:
    match part:
        case TextPart(text=text):
            if not text.strip():
                return None  # Anthropic refuses empty text blocks; an empty part carries nothing
            block: JSON = {"type": "text", "text": text}
        case RefusalPart(refusal=refusal):
            if not refusal.strip():
                return None
            block = {"type": "text", "text": refusal}
        case ImagePart(url=url):
            block = {"type": "image", "source": _image_source(url, path)}
        case FilePart(file_data=file_data, filename=filename):
            block = _document(file_data, filename, path)
        case AudioPart():
            raise UnsupportedCapability(provider=PROVIDER, capability="audio input", param=path)
        case _:
            assert_never(part)
    if "cache_control" in part.extra:  # prompt caching markers pass through
        block["cache_control"] = part.extra["cache_control"]
    return block


def _image_source(url: str, path: str) -> JSON:
    if url.startswith(("https://", "http://")):
        return {"type": "url", "url": url}
    media_type, data = _data_uri(url, f"{path}.image_url")
    if media_type not in IMAGE_MEDIA_TYPES:
        raise InvalidRequest(
            "invalid_value",
            param=f"{path}.image_url",
            detail=f"Anthropic accepts {', '.join(sorted(IMAGE_MEDIA_TYPES))}, not {media_type}",
        )
    return {"type": "base64", "media_type": media_type, "data": data}


def _document(file_data: str | None, filename: str | None, path: str) -> JSON:
    if file_data is None:
        raise UnsupportedCapability(provider=PROVIDER, capability="file ids", param=f"{path}.file")
    if file_data.startswith("data:"):
        media_type, data = _data_uri(file_data, f"{path}.file.file_data")
    else:
        media_type, data = "application/pdf", file_data  # OpenAI's file_data may be bare base64
    if media_type != "application/pdf":
        raise InvalidRequest(
            "invalid_value", param=f"{path}.file.file_data", detail=f"Anthropic accepts PDF documents, not {media_type}"
        )
    document: JSON = {"type": "document", "source": {"type": "base64", "media_type": media_type, "data": data}}
    if filename:
        document["title"] = filename
    return document


def _data_uri(uri: str, param: str) -> tuple[str, str]:
    header, comma, data = uri.partition(",")
    if not uri.startswith("data:") or not comma or not header.endswith(";base64"):
        raise InvalidRequest("invalid_value", param=param, detail="expected an https URL or a base64 data: URI")
    try:
        base64.b64decode(data[:64] + "=" * (-len(data[:64]) % 4), validate=True)
    except binascii.Error:
        raise InvalidRequest("invalid_value", param=param, detail="the data URI is not valid base64") from None
    return header[5:-7].lower(), data


def _tool_result(message: Message, path: str) -> JSON:
    if not message.tool_call_id:
        raise InvalidRequest("missing_field", param=f"{path}.tool_call_id")
    content = message.content
    result: JSON = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    if isinstance(content, list):
        result["content"] = _content_blocks(content, path)
    elif content:
        result["content"] = content
    return result


def _assistant_blocks(message: Message, path: str) -> list[JSON]:
    blocks = thinking_blocks(message.extra.get(REASONING_DETAILS))
    blocks += _content_blocks(message.content, path)
    for index, call in enumerate(message.tool_calls or ()):
        where = f"{path}.tool_calls[{index}].function.arguments"
        try:
            arguments = orjson.loads(call.arguments) if call.arguments.strip() else {}
        except orjson.JSONDecodeError:
            raise InvalidRequest("invalid_value", param=where, detail="the arguments are not valid JSON") from None
        if not isinstance(arguments, dict):
            raise InvalidRequest("invalid_value", param=where, detail="the arguments must be a JSON object")
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments})
    return blocks


def thinking_blocks(details: Any) -> list[JSON]:
    """Signed thinking carried in `reasoning_details` → the blocks Claude needs replayed."""
    blocks: list[JSON] = []
    if not isinstance(details, list):
        return blocks
    for detail in details:
        if not isinstance(detail, dict) or detail.get("format", DETAIL_FORMAT) != DETAIL_FORMAT:
            continue
        if detail.get("type") == "reasoning.text" and isinstance(detail.get("signature"), str):
            blocks.append(
                {"type": "thinking", "thinking": str(detail.get("text", "")), "signature": detail["signature"]}
            )
        elif detail.get("type") == "reasoning.encrypted" and isinstance(detail.get("data"), str):
            blocks.append({"type": "redacted_thinking", "data": detail["data"]})
    return blocks


def reasoning_details(blocks: list[JSON]) -> list[JSON]:
    """The inverse of `thinking_blocks`: Anthropic thinking blocks → `reasoning_details` entries."""
    details: list[JSON] = []
    for block in blocks:
        if block.get("type") == "thinking":
            details.append(
                {
                    "type": "reasoning.text",
                    "text": block.get("thinking", ""),
                    "signature": block.get("signature", ""),
                    "format": DETAIL_FORMAT,
                }
            )
        elif block.get("type") == "redacted_thinking":
            details.append({"type": "reasoning.encrypted", "data": block.get("data", ""), "format": DETAIL_FORMAT})
    return details
