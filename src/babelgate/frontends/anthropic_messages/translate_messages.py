"""An Anthropic Messages conversation → canonical chat messages (pure): `system`, then each user and
assistant turn (translate_content.py reads the blocks inside them).

Chat differs from Messages in three ways this module bridges: tool results are `tool` messages of
their own (they come first, the rest of the user turn follows as a user message); a `tool` message
carries text only (a result's images and documents move to that following user message); and
thinking is the assistant message's `reasoning_content` (DeepSeek wants it back in tool loops). A
thinking signature, and redacted thinking, only Claude can read, and Claude never comes this way
(it takes the native road): they are left out. Gemini's signatures need nothing here: they travel
inside the tool-call ids the client echoes (tool_ids.py). Blocks that need Anthropic's own servers
(server tools, container uploads) are refused by name.
"""

from __future__ import annotations

from typing import Any

import orjson

from babelgate.errors import InvalidRequest
from babelgate.frontends.anthropic_messages import wire
from babelgate.frontends.anthropic_messages.translate_content import (
    Shaping,
    block_type,
    string,
    unsupported,
    user_parts,
)
from babelgate.frontends.anthropic_messages.wire import JSON
from babelgate.frontends.openai_validation import expect_object
from babelgate.schema.chat import ContentPart, Message, TextPart, ToolCall

_USER_ONLY = frozenset({"tool_result", "image", "document", "search_result"})
_ASSISTANT_ONLY = frozenset({"tool_use", "thinking", "redacted_thinking"})


def chat_messages(body: JSON, shaping: Shaping) -> list[Message]:
    messages: list[Message] = []
    system = body.get("system")
    if system is not None:
        prompt = _system(system, shaping)
        if prompt:
            messages.append(Message("system", prompt))
    turns = body.get("messages")
    if turns is None:
        raise InvalidRequest("missing_field", param="messages")
    if not isinstance(turns, list) or not turns:
        raise InvalidRequest("empty_messages", param="messages")
    for index, turn in enumerate(turns):
        path = f"messages[{index}]"
        turn = expect_object(turn, path)
        content = turn.get("content")
        if content is None:
            raise InvalidRequest("missing_field", param=f"{path}.content")
        if not isinstance(content, str | list):
            raise InvalidRequest("wrong_type", param=f"{path}.content", expected="a string or an array of blocks")
        role = turn.get("role")
        if role == "user":
            messages += _user_turn(content, path, shaping)
        elif role == "assistant":
            message = _assistant_turn(content, path, shaping)
            if message is not None:
                messages.append(message)
        elif role == "system":
            # A system message inside the conversation (Claude Code, beta mid-conversation-system):
            # chat says the same with a system message at that point; each provider places it where
            # it can (docs/api.md, "tolerant reader").
            prompt = _system(content, shaping, path=f"{path}.content")
            if prompt:
                messages.append(Message("system", prompt))
        else:
            raise InvalidRequest("invalid_value", param=f"{path}.role", detail="expected user, assistant or system")
    return messages


def _system(system: Any, shaping: Shaping, *, path: str = "system") -> str | list[ContentPart]:
    if isinstance(system, str):
        return system
    if not isinstance(system, list):
        raise InvalidRequest("wrong_type", param=path, expected="a string or an array of text blocks")
    parts: list[ContentPart] = []
    for index, block in enumerate(system):
        where = f"{path}[{index}]"
        block = expect_object(block, where)
        if block_type(block, where) != "text":
            raise InvalidRequest("invalid_value", param=f"{where}.type", detail="the system prompt takes text blocks")
        shaping.block_settings(block)
        parts.append(TextPart(string(block, "text", where)))
    return parts


def _user_turn(content: str | list[Any], path: str, shaping: Shaping) -> list[Message]:
    if isinstance(content, str):
        return [Message("user", content)]
    results: list[Message] = []
    moved: list[ContentPart] = []  # media from tool results, shown to the model right after them
    parts: list[ContentPart] = []
    for index, block in enumerate(content):
        where = f"{path}.content[{index}]"
        block = expect_object(block, where)
        kind = block_type(block, where)
        if kind == "tool_result":
            results.append(_tool_result(block, where, shaping, moved))
        elif kind in _ASSISTANT_ONLY:
            raise InvalidRequest(
                "invalid_value", param=f"{where}.type", detail=f"`{kind}` blocks may only appear in assistant messages"
            )
        else:
            parts += user_parts(block, kind, where, shaping)
    if moved or parts:
        results.append(Message("user", [*moved, *parts]))
    return results


def _tool_result(block: JSON, path: str, shaping: Shaping, moved: list[ContentPart]) -> Message:
    call_id = string(block, "tool_use_id", path)
    shaping.block_settings(block)
    content = block.get("content")
    texts: list[str] = []
    media: list[ContentPart] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for index, item in enumerate(content):
            where = f"{path}.content[{index}]"
            item = expect_object(item, where)
            kind = block_type(item, where)
            if kind not in ("text", "image", "document", "search_result"):
                raise unsupported(f"{where}.type", f"'{kind}' blocks in a tool result")
            for part in user_parts(item, kind, where, shaping):
                if isinstance(part, TextPart):
                    texts.append(part.text)
                else:
                    media.append(part)
    elif content is not None:
        raise InvalidRequest("wrong_type", param=f"{path}.content", expected="a string or an array of blocks")
    text = "\n".join(texts)
    if media:
        moved += media
        text = f"{text}\n{wire.MOVED_MEDIA_NOTE}" if text else wire.MOVED_MEDIA_NOTE
    is_error = block.get("is_error")
    if is_error is not None and not isinstance(is_error, bool):
        raise InvalidRequest("wrong_type", param=f"{path}.is_error", expected="a boolean")
    if is_error:
        text = wire.TOOL_ERROR_PREFIX + text
    return Message("tool", text, tool_call_id=call_id)


def _assistant_turn(content: str | list[Any], path: str, shaping: Shaping) -> Message | None:
    if isinstance(content, str):
        return Message("assistant", content) if content else None
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCall] = []
    for index, block in enumerate(content):
        where = f"{path}.content[{index}]"
        block = expect_object(block, where)
        kind = block_type(block, where)
        shaping.block_settings(block)
        if kind == "text":
            texts.append(string(block, "text", where))
        elif kind == "tool_use":
            calls.append(_tool_call(block, where))
        elif kind == "thinking":
            thoughts.append(string(block, "thinking", where))
        elif kind == "redacted_thinking":
            string(block, "data", where)  # encrypted reasoning only Claude can read: checked, left out
        elif kind in wire.SERVER_TOOL_BLOCKS:
            shaping.drop(where)  # a server tool's call or result: Claude's own work, not the conversation's
        elif kind in _USER_ONLY:
            raise InvalidRequest(
                "invalid_value", param=f"{where}.type", detail=f"`{kind}` blocks may only appear in user messages"
            )
        else:
            raise unsupported(f"{where}.type", f"'{kind}' blocks")
    text = "".join(texts)
    if not text and not calls:
        return None  # an empty turn (or thinking alone) carries no answer to continue from
    return Message(
        "assistant", text or None, tool_calls=calls or None, reasoning_content="".join(thoughts) if thoughts else None
    )


def _tool_call(block: JSON, path: str) -> ToolCall:
    arguments = block.get("input")
    if not isinstance(arguments, dict):
        raise InvalidRequest("wrong_type", param=f"{path}.input", expected="an object")
    return ToolCall(string(block, "id", path), string(block, "name", path), orjson.dumps(arguments).decode())
