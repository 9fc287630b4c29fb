"""OpenAI messages → Gemini `systemInstruction` + `contents` (pure; system
messages after the conversation began stay in place as user text, system_messages.py).

Roles are only `user` and `model`; tool results become `functionResponse` parts in a user turn,
named after the call they answer and carrying an object; consecutive same-role turns merge.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from typing import assert_never

import orjson

from babelgate import tool_ids
from babelgate.errors import InvalidRequest, UnsupportedCapability
from babelgate.providers.gemini.wire import AUDIO_MIME_TYPES, MINTED_ID_PREFIX, SIGNATURE_PLACEHOLDER
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

PROVIDER = "gemini"


@dataclass(frozen=True, slots=True)
class InlineMedia:
    """Bytes the provider fetched for an http(s) URL, ready to inline (base64)."""

    mime_type: str
    data: str


def system_and_contents(
    messages: list[Message],
    adjusted: list[str],
    *,
    inline: Mapping[str, InlineMedia],
    placeholder_signatures: bool = False,
) -> tuple[JSON | None, list[JSON]]:
    """`placeholder_signatures`: Gemini 3 refuses function calls of the current turn that lost their
    thought signature (a client that keeps only plain call ids, as Ollama's does); Google documents
    a placeholder that skips the check, put on the first call of a model step that has none."""
    names = {tool_ids.plain(call.id): call.name for m in messages for call in m.tool_calls or ()}
    system: list[JSON] = []
    contents: list[JSON] = []
    # Gemini takes one systemInstruction: later system messages stay in place as user text.
    for index, message in enumerate(place_system_messages(messages, adjusted)):
        path = f"messages[{index}]"
        match message.role:
            case "system" | "developer":
                system += [part for part in _parts(message.content, path, inline) if "text" in part]
            case "user":
                _append(contents, "user", _parts(message.content, path, inline))
            case "assistant":
                _append(contents, "model", _model_parts(message, path, inline, placeholder_signatures))
            case "tool" | "function":
                _append(contents, "user", [_function_response(message, path, names)])
            case _:
                assert_never(message.role)
    return ({"parts": system} if system else None), contents


def _append(contents: list[JSON], role: str, parts: list[JSON]) -> None:
    if not parts:
        return
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"] += parts
    else:
        contents.append({"role": role, "parts": parts})


def _parts(content: str | list[ContentPart] | None, path: str, inline: Mapping[str, InlineMedia]) -> list[JSON]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts = []
    for index, part in enumerate(content):
        wire = _part(part, f"{path}.content[{index}]", inline)
        if wire is not None:
            parts.append(wire)
    return parts


def _part(part: ContentPart, path: str, inline: Mapping[str, InlineMedia]) -> JSON | None:
    match part:
        case TextPart(text=text):
            return {"text": text} if text else None
        case RefusalPart(refusal=refusal):
            return {"text": refusal} if refusal else None
        case ImagePart(url=url):
            return media_part(url, f"{path}.image_url", inline)
        case AudioPart(data=data, format=fmt):
            mime = AUDIO_MIME_TYPES.get(fmt)
            if mime is None:
                raise InvalidRequest(
                    "invalid_value",
                    param=f"{path}.input_audio.format",
                    detail=f"Gemini takes {', '.join(sorted(AUDIO_MIME_TYPES))} audio",
                )
            return {"inlineData": {"mimeType": mime, "data": data}}
        case FilePart(file_data=file_data, file_id=file_id):
            if file_data is not None:
                if file_data.startswith("data:"):
                    return media_part(file_data, f"{path}.file.file_data", inline)
                return {"inlineData": {"mimeType": "application/pdf", "data": file_data}}
            if file_id and file_id.startswith(("https://", "gs://")):
                return {"fileData": {"fileUri": file_id, "mimeType": _guess_mime(file_id, "application/pdf")}}
            raise UnsupportedCapability(provider=PROVIDER, capability="OpenAI file ids", param=f"{path}.file")
        case _:
            assert_never(part)


def media_part(url: str, param: str, inline: Mapping[str, InlineMedia]) -> JSON:
    if url.startswith("data:"):
        header, comma, data = url.partition(",")
        if not comma or not header.endswith(";base64"):
            raise InvalidRequest("invalid_value", param=param, detail="expected a base64 data: URI")
        return {"inlineData": {"mimeType": header[5:-7].lower(), "data": data}}
    fetched = inline.get(url)
    if fetched is not None:
        return {"inlineData": {"mimeType": fetched.mime_type, "data": fetched.data}}
    # Gemini fetches public and signed URLs itself; gs:// and Files API URIs are its own.
    return {"fileData": {"fileUri": url, "mimeType": _guess_mime(url, "image/jpeg")}}


def _guess_mime(url: str, default: str) -> str:
    guessed, _ = mimetypes.guess_type(url.split("?", 1)[0])
    return guessed or default


def _model_parts(message: Message, path: str, inline: Mapping[str, InlineMedia], placeholder: bool) -> list[JSON]:
    parts = _parts(message.content, path, inline)
    calls = message.tool_calls or ()
    placeholder = placeholder and not any(tool_ids.split(call.id)[1] for call in calls)
    for index, call in enumerate(calls):
        where = f"{path}.tool_calls[{index}].function.arguments"
        try:
            args = orjson.loads(call.arguments) if call.arguments.strip() else {}
        except orjson.JSONDecodeError:
            raise InvalidRequest("invalid_value", param=where, detail="the arguments are not valid JSON") from None
        if not isinstance(args, dict):
            raise InvalidRequest("invalid_value", param=where, detail="the arguments must be a JSON object")
        call_id, signature = tool_ids.split(call.id)
        function_call: JSON = {"name": call.name, "args": args}
        if not call_id.startswith(MINTED_ID_PREFIX):
            function_call = {"id": call_id, **function_call}
        part: JSON = {"functionCall": function_call}
        if signature:
            part["thoughtSignature"] = signature
        elif placeholder and index == 0:
            part["thoughtSignature"] = SIGNATURE_PLACEHOLDER
        parts.append(part)
    return parts


def _function_response(message: Message, path: str, names: Mapping[str, str]) -> JSON:
    call_id = tool_ids.plain(message.tool_call_id or "")
    name = names.get(call_id) or message.name
    if not name:
        raise InvalidRequest(
            "invalid_value",
            param=f"{path}.tool_call_id",
            detail="no earlier assistant tool call has this id, and Gemini needs the function's name",
        )
    response: JSON = {"name": name, "response": _result_object(message.content)}
    if call_id and not call_id.startswith(MINTED_ID_PREFIX):
        response = {"id": call_id, **response}
    return {"functionResponse": response}


def _result_object(content: str | list[ContentPart] | None) -> JSON:
    """Gemini wants an object: a JSON object result is sent as it is, anything else wrapped."""
    if isinstance(content, list):
        text = "".join(part.text for part in content if isinstance(part, TextPart))
    else:
        text = content or ""
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"result": text}
