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
    # A path (`messages[3].content[1]`) is made only where an error names it: Claude Code sends conversations of
    # hundreds of turns and blocks, and making each one's path was a third of reading them.
    for index, turn in enumerate(turns):
        if turn.__class__ is not dict:
            turn = expect_object(turn, f"messages[{index}]")
        content = turn.get("content")
        if content.__class__ is not str and content.__class__ is not list:
            path = f"messages[{index}]"
            if content is None:
                raise InvalidRequest("missing_field", param=f"{path}.content")
            if not isinstance(content, str | list):
                raise InvalidRequest("wrong_type", param=f"{path}.content", expected="a string or an array of blocks")
        role = turn.get("role")
        if role == "user":
            messages += _user_turn(content, index, shaping)
        elif role == "assistant":
            message = _assistant_turn(content, index, shaping)
            if message is not None:
                messages.append(message)
        elif role == "system":
            # A system message inside the conversation (Claude Code, beta mid-conversation-system):
            # chat says the same with a system message at that point; each provider places it where
            # it can (docs/api.md, "tolerant reader").
            prompt = _system(content, shaping, path=f"messages[{index}].content")
            if prompt:
                messages.append(Message("system", prompt))
        else:
            raise InvalidRequest(
                "invalid_value", param=f"messages[{index}].role", detail="expected user, assistant or system"
            )
    return messages


def _block_path(turn: int, index: int) -> str:
    return f"messages[{turn}].content[{index}]"


def _block(block: Any, turn: int, index: int, shaping: Shaping) -> tuple[JSON, str]:
    """A content block and its type, checked; its cache and citation settings dropped (and reported)."""
    kind = block.get("type") if block.__class__ is dict else None
    if kind.__class__ is not str:
        where = _block_path(turn, index)
        kind = block_type(expect_object(block, where), where)
    if block.get("cache_control") is not None or block.get("citations") is not None:
        shaping.block_settings(block)
    return block, kind


def _text(block: JSON, key: str, turn: int, index: int) -> str:
    """A block's string field (`text`, `thinking`), or the error naming it."""
    value = block.get(key)
    return value if value.__class__ is str else string(block, key, _block_path(turn, index))


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


def _user_turn(content: str | list[Any], turn: int, shaping: Shaping) -> list[Message]:
    if isinstance(content, str):
        return [Message("user", content)]
    results: list[Message] = []
    moved: list[ContentPart] = []  # media from tool results, shown to the model right after them
    parts: list[ContentPart] = []
    for index, block in enumerate(content):
        block, kind = _block(block, turn, index, shaping)
        if kind == "text":
            parts.append(TextPart(_text(block, "text", turn, index)))
        elif kind == "tool_result":
            results.append(_tool_result(block, turn, index, moved, shaping))
        elif kind in _ASSISTANT_ONLY:
            raise InvalidRequest(
                "invalid_value",
                param=f"{_block_path(turn, index)}.type",
                detail=f"`{kind}` blocks may only appear in assistant messages",
            )
        else:
            parts += user_parts(block, kind, _block_path(turn, index), shaping)
    if moved or parts:
        results.append(Message("user", [*moved, *parts]))
    return results


def _tool_result(block: JSON, turn: int, index: int, moved: list[ContentPart], shaping: Shaping) -> Message:
    """A `tool_result` block (its settings already dropped by `_block`) → a `tool` message."""
    call_id = _text(block, "tool_use_id", turn, index)
    content = block.get("content")
    texts: list[str] = []
    media: list[ContentPart] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for inner, item in enumerate(content):
            kind = item.get("type") if item.__class__ is dict else None
            text = item.get("text") if kind == "text" else None
            if text.__class__ is str and item.get("cache_control") is None and item.get("citations") is None:
                texts.append(text)  # a plain text block, as most are
                continue
            where = f"{_block_path(turn, index)}.content[{inner}]"
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
        raise InvalidRequest(
            "wrong_type", param=f"{_block_path(turn, index)}.content", expected="a string or an array of blocks"
        )
    text = "\n".join(texts)
    if media:
        moved += media
        text = f"{text}\n{wire.MOVED_MEDIA_NOTE}" if text else wire.MOVED_MEDIA_NOTE
    is_error = block.get("is_error")
    if is_error is not None and not isinstance(is_error, bool):
        raise InvalidRequest("wrong_type", param=f"{_block_path(turn, index)}.is_error", expected="a boolean")
    if is_error:
        text = wire.TOOL_ERROR_PREFIX + text
    return Message("tool", text, tool_call_id=call_id)


def _assistant_turn(content: str | list[Any], turn: int, shaping: Shaping) -> Message | None:
    if isinstance(content, str):
        return Message("assistant", content) if content else None
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCall] = []
    for index, block in enumerate(content):
        block, kind = _block(block, turn, index, shaping)
        if kind == "text":
            texts.append(_text(block, "text", turn, index))
        elif kind == "tool_use":
            calls.append(_tool_call(block, turn, index))
        elif kind == "thinking":
            thoughts.append(_text(block, "thinking", turn, index))
        elif kind == "redacted_thinking":
            _text(block, "data", turn, index)  # encrypted reasoning only Claude can read: checked, left out
        elif kind in wire.SERVER_TOOL_BLOCKS:
            shaping.drop(_block_path(turn, index))  # a server tool's call or result: Claude's own work
        elif kind in _USER_ONLY:
            raise InvalidRequest(
                "invalid_value",
                param=f"{_block_path(turn, index)}.type",
                detail=f"`{kind}` blocks may only appear in user messages",
            )
        else:
            raise unsupported(f"{_block_path(turn, index)}.type", f"'{kind}' blocks")
    text = "".join(texts)
    if not text and not calls:
        return None  # an empty turn (or thinking alone) carries no answer to continue from
    return Message(
        "assistant", text or None, tool_calls=calls or None, reasoning_content="".join(thoughts) if thoughts else None
    )


def _tool_call(block: JSON, turn: int, index: int) -> ToolCall:
    arguments = block.get("input")
    if not isinstance(arguments, dict):
        raise InvalidRequest("wrong_type", param=f"{_block_path(turn, index)}.input", expected="an object")
    call_id, name = block.get("id"), block.get("name")
    if call_id.__class__ is not str or name.__class__ is not str:
        where = _block_path(turn, index)
        call_id, name = string(block, "id", where), string(block, "name", where)
    return ToolCall(call_id, name, orjson.dumps(arguments).decode())
