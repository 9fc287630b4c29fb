"""Gemini `contents` and `systemInstruction` → canonical chat messages (pure): the request direction of what
providers/gemini/translate_parts.py does the other way.

Roles are `user` and `model`; a user turn's `functionResponse` parts become `tool` messages (before the
turn's other parts, which follow as a user message), a model turn's `functionCall` parts its tool calls.
Calls without an id (Gemini 2.5 and older, and clients that keep none) get a made-up id, stable for the
same conversation, and the responses that answer them by name are given that id (docs/decisions.md, "Gemini's
function-call ids"). A `thoughtSignature` the gateway sealed for this provider opens into the reasoning state it
carried; any other is dropped and reported (it only means something to the model that signed it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from babelgate.errors import InvalidRequest
from babelgate.frontends.anthropic_messages.translate_content import string
from babelgate.frontends.gemini.wire import JSON, token_of
from babelgate.frontends.openai_validation import expect_object
from babelgate.frontends.responses.reasoning import ReasoningState
from babelgate.providers.gemini.wire import AUDIO_MIME_TYPES, MINTED_ID_PREFIX
from babelgate.schema.chat import AudioPart, ContentPart, FilePart, ImagePart, Message, TextPart, ToolCall

# Opens a thoughtSignature the gateway sealed for this request's provider; None where it does not.
Opener = Callable[[str], ReasoningState | None]
# MIME type → chat's input_audio format (the reverse of the provider's table, plus MP3's registered type).
AUDIO_FORMATS: Final[dict[str, str]] = {
    **{mime: fmt for fmt, mime in reversed(AUDIO_MIME_TYPES.items())},
    "audio/mpeg": "mp3",
    "audio/x-wav": "wav",
}
# A single-key object a function result is commonly wrapped in (Gemini's own docs use `output` and
# `result`; providers/gemini/translate_parts.py wraps a plain-text result as `result`): its string is the result.
RESULT_KEYS: Final = ("output", "result")
# Part fields that change nothing another model reads: dropped without a word of their own.
_PART_METADATA: Final = frozenset({"thought", "thoughtSignature", "partMetadata", "videoMetadata", "mediaResolution"})


@dataclass(slots=True)
class Conversation:
    """What reading the contents keeps: the messages, the calls still unanswered (id by name, for
    responses without an id), and what was dropped."""

    adjusted: list[str]
    opener: Opener | None
    messages: list[Message] = field(default_factory=list)
    unanswered: list[tuple[str, str]] = field(default_factory=list)  # (name, id) in call order

    def drop(self, name: str) -> None:
        entry = f"{name}=dropped"
        if entry not in self.adjusted:
            self.adjusted.append(entry)


def chat_messages(body: JSON, adjusted: list[str], opener: Opener | None) -> list[Message]:
    conversation = Conversation(adjusted, opener)
    system = body.get("systemInstruction")
    if system is not None:
        text = _system_text(system)
        if text:
            conversation.messages.append(Message("system", text))
    contents = body.get("contents")
    if contents is None:
        raise InvalidRequest("missing_field", param="contents")
    if isinstance(contents, dict):
        contents = [contents]  # the API takes one Content as well as a list
    if not isinstance(contents, list):
        raise InvalidRequest("wrong_type", param="contents", expected="an array")
    # A path (`contents[3].parts[1]`) is made only where an error or a dropped field names it: Gemini CLI sends
    # conversations of hundreds of turns, and making each turn's and part's path was much of reading them.
    for index, content in enumerate(contents):
        _turn(
            content if content.__class__ is dict else expect_object(content, f"contents[{index}]"), index, conversation
        )
    return conversation.messages


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    parts = expect_object(system, "systemInstruction").get("parts") or []
    if isinstance(parts, dict):
        parts = [parts]  # one Part, as the API takes one Content for a list
    if not isinstance(parts, list):
        raise InvalidRequest("wrong_type", param="systemInstruction.parts", expected="an array")
    if len(parts) == 1 and isinstance(parts[0], dict):  # the usual one part
        text = parts[0].get("text")
        return text if isinstance(text, str) else ""
    texts = [part.get("text") for part in parts if isinstance(part, dict)]
    return "\n".join(text for text in texts if isinstance(text, str) and text)


def _turn(content: JSON, index: int, conversation: Conversation) -> None:
    role = content.get("role") or "user"
    parts = content.get("parts")
    if not isinstance(parts, list):
        raise InvalidRequest("missing_field" if parts is None else "wrong_type", param=f"contents[{index}].parts")
    if role == "model":
        _model_turn(parts, index, conversation)
    elif role in ("user", "function"):  # `function`: the older role of a function-response turn
        _user_turn(parts, index, conversation)
    else:
        raise InvalidRequest("invalid_value", param=f"contents[{index}].role", detail="expected user or model")


def _part_path(turn: int, position: int) -> str:
    return f"contents[{turn}].parts[{position}]"


def _user_turn(parts: list[Any], turn: int, conversation: Conversation) -> None:
    chat_parts: list[ContentPart] = []
    for position, part in enumerate(parts):
        if part.__class__ is not dict:
            part = expect_object(part, _part_path(turn, position))
        text = part.get("text")
        if text.__class__ is str and not part.get("thought") and "functionResponse" not in part:
            if text:  # the usual part: text, and nothing the text's reading depends on
                chat_parts.append(TextPart(text))
            continue
        if "functionResponse" in part:
            conversation.messages.append(_tool_message(part["functionResponse"], turn, position, conversation))
            continue
        chat_part = _user_part(part, _part_path(turn, position), conversation)
        if chat_part is not None:
            chat_parts.append(chat_part)
    if chat_parts:
        texts = [item.text for item in chat_parts if isinstance(item, TextPart)]
        if len(texts) == len(chat_parts):  # text alone (the usual one part): one string
            conversation.messages.append(Message("user", texts[0] if len(texts) == 1 else "".join(texts)))
        else:
            conversation.messages.append(Message("user", chat_parts))


def _user_part(part: JSON, path: str, conversation: Conversation) -> ContentPart | None:
    if part.get("thought"):
        return None  # a thought summary a client echoed: not the user's words
    if "text" in part:
        text = part["text"]
        if not isinstance(text, str):
            raise InvalidRequest("wrong_type", param=f"{path}.text", expected="a string")
        return TextPart(text) if text else None
    if "inlineData" in part:
        blob = expect_object(part["inlineData"], f"{path}.inlineData")
        mime, data = string(blob, "mimeType", f"{path}.inlineData"), string(blob, "data", f"{path}.inlineData")
        if mime.startswith("image/"):
            return ImagePart(f"data:{mime};base64,{data}")
        if mime.split(";")[0] in AUDIO_FORMATS:
            return AudioPart(data, AUDIO_FORMATS[mime.split(";")[0]])
        return FilePart(file_data=f"data:{mime};base64,{data}")
    if "fileData" in part:
        file = expect_object(part["fileData"], f"{path}.fileData")
        uri = string(file, "fileUri", f"{path}.fileData")
        kind = file.get("mimeType")
        if isinstance(kind, str) and kind.startswith("image/") and uri.startswith(("https://", "http://")):
            return ImagePart(uri)
        return FilePart(file_id=uri)  # Files API and gs:// URIs: a provider's to read
    for name in part:
        if name not in _PART_METADATA:
            conversation.drop(f"{path}.{name}")  # executableCode, codeExecutionResult, toolCall…
    return None


def _model_turn(parts: list[Any], turn: int, conversation: Conversation) -> None:
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCall] = []
    states: list[ReasoningState] = []
    for position, part in enumerate(parts):
        if part.__class__ is not dict:
            part = expect_object(part, _part_path(turn, position))
        signature = part.get("thoughtSignature")
        if isinstance(signature, str) and signature:
            token = token_of(signature)
            state = conversation.opener(token) if conversation.opener is not None and token else None
            if state is not None:
                states.append(state)
            else:
                conversation.drop(f"{_part_path(turn, position)}.thoughtSignature")
        if "text" in part:
            text = part["text"]
            if text.__class__ is not str:
                raise InvalidRequest("wrong_type", param=f"{_part_path(turn, position)}.text", expected="a string")
            (thoughts if part.get("thought") else texts).append(text)
        elif "functionCall" in part:
            calls.append(_tool_call(part["functionCall"], turn, position, len(calls), conversation))
        else:
            for name in part:
                if name not in _PART_METADATA:
                    conversation.drop(f"{_part_path(turn, position)}.{name}")
    message = Message(
        "assistant",
        "".join(texts) if texts else None,
        tool_calls=calls or None,
        reasoning_content="".join(thoughts) if thoughts else None,
    )
    for state in states:
        state.attach_to(message)
    if message.content is not None or calls or message.reasoning_content is not None:
        conversation.messages.append(message)


def _tool_call(call: Any, turn: int, part: int, position: int, conversation: Conversation) -> ToolCall:
    """A `functionCall` (part `part` of turn `turn`, the turn's call number `position`) → a tool call."""
    name = call.get("name") if call.__class__ is dict else None
    if name.__class__ is not str:
        where = f"{_part_path(turn, part)}.functionCall"
        name = string(expect_object(call, where), "name", where)
    args = call.get("args")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise InvalidRequest("wrong_type", param=f"{_part_path(turn, part)}.functionCall.args", expected="an object")
    call_id = call.get("id")
    if not isinstance(call_id, str) or not call_id:
        call_id = minted_id(turn, position, name)
    conversation.unanswered.append((name, call_id))
    return ToolCall(call_id, name, orjson.dumps(args).decode())


def minted_id(turn: int, position: int, name: str) -> str:
    """An id for a call the client gave none: the same for the same conversation, never sent to Gemini
    (the provider's translator leaves out ids with this prefix)."""
    digest = hashlib.sha256(f"{turn}|{position}|{name}".encode()).hexdigest()[:20]
    return f"{MINTED_ID_PREFIX}{digest}"


def _tool_message(response: Any, turn: int, part: int, conversation: Conversation) -> Message:
    """A `functionResponse` (part `part` of turn `turn`) → a tool message answering its call."""
    name = response.get("name") if response.__class__ is dict else None
    if name.__class__ is not str:
        where = f"{_part_path(turn, part)}.functionResponse"
        name = string(expect_object(response, where), "name", where)
    call_id = response.get("id")
    unanswered = conversation.unanswered
    if isinstance(call_id, str) and call_id:
        unanswered[:] = [entry for entry in unanswered if entry[1] != call_id]
    else:
        found = next((entry for entry in unanswered if entry[0] == name), None)
        if found is None:
            raise InvalidRequest(
                "invalid_value",
                param=f"{_part_path(turn, part)}.functionResponse.name",
                detail="no earlier functionCall of this name is waiting for its response",
            )
        unanswered.remove(found)
        call_id = found[1]
    if response.get("parts"):  # media results: chat's tool messages hold text
        conversation.drop(f"{_part_path(turn, part)}.functionResponse.parts")
    return Message("tool", result_text(response.get("response")), tool_call_id=call_id)


def result_text(result: Any) -> str:
    if isinstance(result, dict) and len(result) == 1:
        key, value = next(iter(result.items()))
        if key in RESULT_KEYS and isinstance(value, str):
            return value
    return orjson.dumps(result if result is not None else {}).decode()
