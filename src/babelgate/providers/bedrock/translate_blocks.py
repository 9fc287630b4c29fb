"""Anthropic content blocks -> Converse content blocks (pure).

The Converse road shapes a conversation with the Anthropic translator (`system_and_turns`,
`tools_to_wire`, `tool_choice_to_wire`: system placement, alternating turns, tool results opening the
next user turn, signed thinking from `reasoning_details`), then renames each block into Converse's
union members here: one translator, two wire formats. Converse's own limits are checked here: images
and documents as bytes only (no URLs), its image and document formats, its document-name alphabet.
"""

from __future__ import annotations

import re
from typing import Any, Final

from babelgate.errors import InvalidRequest, UnsupportedCapability
from babelgate.providers.anthropic.translate_messages import thinking_blocks
from babelgate.providers.bedrock.wire import DOCUMENT_FORMATS, IMAGE_FORMATS
from babelgate.schema.chat import JSON

PROVIDER: Final = "bedrock"
_CACHE_POINT: Final = {"cachePoint": {"type": "default"}}
# BRT DocumentBlock.name: alphanumerics, single whitespace, hyphens, parentheses, square brackets.
_NAME_DROPPED: Final = re.compile(r"[^A-Za-z0-9\s\-()\[\]]+")


def blocks_to_wire(blocks: list[JSON], path: str) -> list[JSON]:
    out: list[JSON] = []
    for index, block in enumerate(blocks):
        out.append(block_to_wire(block, f"{path}.content[{index}]"))
        if "cache_control" in block:  # Anthropic's cache breakpoint is Converse's cachePoint after the block
            out.append(dict(_CACHE_POINT))
    return out


def block_to_wire(block: JSON, path: str) -> JSON:
    kind = block.get("type")
    if kind == "text":
        return {"text": block["text"]}
    if kind == "image":
        return {"image": _image(block["source"], path)}
    if kind == "document":
        return {"document": _document(block, path)}
    if kind == "tool_use":
        return {"toolUse": {"toolUseId": block["id"], "name": block["name"], "input": block.get("input", {})}}
    if kind == "tool_result":
        return {"toolResult": _tool_result(block, path)}
    if kind == "thinking":
        text: JSON = {"text": block.get("thinking", "")}
        if block.get("signature"):
            text["signature"] = block["signature"]
        return {"reasoningContent": {"reasoningText": text}}
    if kind == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": block.get("data", "")}}
    raise UnsupportedCapability(provider=PROVIDER, capability=f"{kind} content", param=path)


def _image(source: JSON, path: str) -> JSON:
    if source.get("type") != "base64":
        # Converse reads images as bytes or from S3, never from a URL.
        raise UnsupportedCapability(provider=PROVIDER, capability="image URLs (send a base64 data: URI)", param=path)
    media_type = str(source.get("media_type", ""))
    image_format = IMAGE_FORMATS.get(media_type)
    if image_format is None:
        raise InvalidRequest(
            "invalid_value", param=path, detail=f"Bedrock accepts {', '.join(sorted(IMAGE_FORMATS))}, not {media_type}"
        )
    return {"format": image_format, "source": {"bytes": source["data"]}}


def _document(block: JSON, path: str) -> JSON:
    source = block["source"]
    document_format = DOCUMENT_FORMATS.get(str(source.get("media_type", "")))
    if source.get("type") != "base64" or document_format is None:
        raise UnsupportedCapability(provider=PROVIDER, capability="this document source", param=path)
    return {"format": document_format, "name": document_name(block.get("title")), "source": {"bytes": source["data"]}}


def document_name(title: Any) -> str:
    """A name Converse accepts (it is required): the file name without its extension, in its alphabet."""
    text = str(title or "").rsplit(".", 1)[0]
    name = " ".join(_NAME_DROPPED.sub(" ", text).split())[:200]
    return name or "document"


def _tool_result(block: JSON, path: str) -> JSON:
    content = block.get("content")
    if isinstance(content, str):
        parts: list[JSON] = [{"text": content}]
    elif isinstance(content, list):
        parts = [block_to_wire(item, f"{path}.content") for item in content if item.get("type") != "cache_control"]
    else:
        parts = []
    result: JSON = {"toolUseId": block["tool_use_id"], "content": parts or [{"text": ""}]}
    if block.get("is_error"):
        result["status"] = "error"
    return result


def tools_to_wire(tools: list[JSON]) -> list[JSON]:
    """Anthropic tool definitions -> Converse `toolSpec`s (a cache breakpoint after one stays one)."""
    out: list[JSON] = []
    for tool in tools:
        spec: JSON = {"name": tool["name"]}
        if tool.get("description"):
            spec["description"] = tool["description"]
        spec["inputSchema"] = {"json": tool["input_schema"]}
        if tool.get("strict") is not None:
            spec["strict"] = tool["strict"]
        out.append({"toolSpec": spec})
        if "cache_control" in tool:
            out.append(dict(_CACHE_POINT))
    return out


def signed_reasoning(details: Any) -> list[JSON]:
    """Signed reasoning carried in `reasoning_details` (Claude's thinking, from any road) → Converse's
    `reasoningContent` blocks, their signatures kept: what the Converse frontend answers with."""
    return [block_to_wire(block, "reasoning_details") for block in thinking_blocks(details)]
