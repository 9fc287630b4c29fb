"""OpenAI's audio requests → canonical ones, and canonical transcripts → OpenAI's answer formats.

Transcriptions arrive as multipart forms: `read_form` sets the file apart and gathers the text fields
(array fields such as `timestamp_granularities[]` as lists), `decode_transcription` checks what the
gateway reads (docs/decisions.md, "What the gateway checks") and keeps the rest in `extra`. Speech arrives as JSON
(`decode_speech`).
"""

from __future__ import annotations

from typing import Any

import orjson

from babelgate.errors import GatewayError, InvalidRequest
from babelgate.frontends.audio.wire import (
    JSON_TYPE,
    SPEECH_FIELDS,
    SPEECH_TYPES,
    SPEED_RANGE,
    SSE_TYPE,
    TEXT_TYPE,
    TIMESTAMP_GRANULARITIES,
    TRANSCRIPTION_FIELDS,
    TRANSCRIPTION_FORMATS,
    TRANSLATION_FORMATS,
)
from babelgate.frontends.multipart import Part
from babelgate.frontends.openai_validation import expect_number
from babelgate.schema.audio import SpeechRequest, TranscriptionRequest, TranscriptionResponse
from babelgate.schema.chat import JSON, Usage


def read_form(parts: list[Part]) -> tuple[Part, dict[str, Any]]:
    """The uploaded file and the other fields by name. `name[]` fields (how the OpenAI SDKs send
    arrays) become lists under `name`; any other field sent twice is a 400, never a silent pick."""
    files = [part for part in parts if part.name == "file"]
    if not files:
        raise InvalidRequest("missing_field", param="file")
    if len(files) > 1:
        raise InvalidRequest("invalid_value", param="file", detail="send one file")
    if not files[0].is_file:
        raise InvalidRequest("wrong_type", param="file", expected="a file upload (a form part with a filename)")
    form: dict[str, Any] = {}
    for part in parts:
        if part.name == "file":
            continue
        if part.is_file:
            raise InvalidRequest("wrong_type", param=part.name, expected="a text field")
        name, array = (part.name[:-2], True) if part.name.endswith("[]") else (part.name, False)
        existing = form.get(name)
        if existing is None:
            form[name] = [part.text()] if array else part.text()
        elif array and isinstance(existing, list):
            existing.append(part.text())
        else:
            raise InvalidRequest("invalid_value", param=name, detail="the field is sent more than once")
    return files[0], form


def decode_transcription(file: Part, form: dict[str, Any], *, translate: bool) -> TranscriptionRequest:
    formats = TRANSLATION_FORMATS if translate else TRANSCRIPTION_FORMATS
    response_format = _optional_string(form, "response_format") or "json"
    if response_format not in formats:
        raise InvalidRequest("invalid_value", param="response_format", detail=f"expected one of {', '.join(formats)}")
    temperature = form.get("temperature")
    extra = {name: value for name, value in form.items() if name not in TRANSCRIPTION_FIELDS}
    stream = extra.pop("stream", None)
    if stream is not None and _flag(stream, "stream"):
        # The provider road returns one transcript; SSE transcript events would need a road of their own.
        raise InvalidRequest("audio_stream_unsupported", param="stream")
    return TranscriptionRequest(
        model=form["model"],
        audio=file.data,
        filename=file.filename or "audio",
        content_type=file.content_type,
        translate=translate,
        language=_optional_string(form, "language"),
        prompt=_optional_string(form, "prompt"),
        response_format=response_format,
        temperature=None if temperature is None else _number(temperature, "temperature"),
        timestamp_granularities=_granularities(form.get("timestamp_granularities")),
        extra=extra,
    )


def decode_speech(body: dict[str, Any]) -> SpeechRequest:
    text = body.get("input")
    if text is None:
        raise InvalidRequest("missing_field", param="input")
    if not isinstance(text, str):
        raise InvalidRequest("wrong_type", param="input", expected="a string")
    response_format = body.get("response_format", "mp3")
    if response_format not in SPEECH_TYPES:
        raise InvalidRequest(
            "invalid_value", param="response_format", detail=f"expected one of {', '.join(SPEECH_TYPES)}"
        )
    speed = body.get("speed")
    if speed is not None:
        expect_number(speed, "speed", *SPEED_RANGE, integer=False)
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise InvalidRequest("wrong_type", param="instructions", expected="a string")
    if body.get("stream_format") not in (None, "audio", "sse"):
        raise InvalidRequest("invalid_value", param="stream_format", detail="expected audio or sse")
    extra = {name: value for name, value in body.items() if name not in SPEECH_FIELDS}
    voice = _voice(body.get("voice"))
    if isinstance(body["voice"], dict):
        # A custom voice travels as the client sent it (OpenAI's body takes `extra` last); providers
        # that map voices see its id.
        extra["voice"] = body["voice"]
    return SpeechRequest(
        model=body["model"],
        input=text,
        voice=voice,
        response_format=response_format,
        speed=speed,
        instructions=instructions,
        extra=extra,
    )


def speech_content_type(request: SpeechRequest) -> bytes:
    return SSE_TYPE if request.extra.get("stream_format") == "sse" else SPEECH_TYPES[request.response_format]


def encode_transcription(answer: TranscriptionResponse, request: TranscriptionRequest) -> tuple[bytes, bytes]:
    """The body and its content type: the upstream's own bytes when it answered in the asked format
    (OpenAI's srt, vtt, verbose_json…), else the canonical transcript in that format."""
    if answer.raw is not None:
        fallback = TEXT_TYPE if request.response_format in ("text", "srt", "vtt") else JSON_TYPE
        return answer.raw, answer.raw_content_type.encode("latin-1") if answer.raw_content_type else fallback
    match request.response_format:
        case "text":
            return answer.text.encode(), TEXT_TYPE
        case "json":
            body: JSON = {"text": answer.text}
            if answer.usage is not None:
                body["usage"] = _usage(answer.usage)
            return orjson.dumps(body), JSON_TYPE
        case "verbose_json":
            body = {
                "task": "translate" if request.translate else "transcribe",
                "language": answer.language or "",
                # Required by the format; 0 only when the provider could not tell.
                "duration": answer.duration or 0.0,
                "text": answer.text,
            }
            if answer.segments is not None:
                body["segments"] = answer.segments
            if answer.words is not None:
                body["words"] = answer.words
            return orjson.dumps(body), JSON_TYPE
    # Providers refuse the formats they cannot produce before calling upstream; reaching here is our bug.
    raise GatewayError(detail=f"no encoder for response_format {request.response_format}")


def _usage(usage: Usage) -> JSON:
    """OAI `TranscriptTextUsageTokens`; audio/text token details when the provider counted them."""
    body: JSON = {"type": "tokens", "input_tokens": usage.prompt_tokens}
    details = {name: usage.extra[name] for name in ("text_tokens", "audio_tokens") if name in usage.extra}
    if details:
        body["input_token_details"] = details
    body["output_tokens"] = usage.completion_tokens
    body["total_tokens"] = usage.total_tokens or usage.prompt_tokens + usage.completion_tokens
    return body


def _optional_string(form: dict[str, Any], name: str) -> str | None:
    value = form.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest("wrong_type", param=name, expected="a string")
    return value


def _number(value: Any, name: str) -> float:
    """Form fields are text; a model's configured default may already be a number."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise InvalidRequest("wrong_type", param=name, expected="a number")


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise InvalidRequest("wrong_type", param=name, expected="true or false")


def _granularities(value: Any) -> list[str] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(item in TIMESTAMP_GRANULARITIES for item in values):
        raise InvalidRequest(
            "invalid_value",
            param="timestamp_granularities",
            detail=f"expected items of {', '.join(TIMESTAMP_GRANULARITIES)}",
        )
    return values


def _voice(value: Any) -> str:
    if value is None:
        raise InvalidRequest("missing_field", param="voice")
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return str(value["id"])
    if not isinstance(value, str) or not value:
        raise InvalidRequest("wrong_type", param="voice", expected="a voice name or an object with an id")
    return value
