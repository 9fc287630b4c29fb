"""OpenAI's audio endpoints, relayed (OAI `CreateTranscriptionRequest`, `CreateTranslationRequest`,
`CreateSpeechRequest`).

Transcriptions and translations are re-sent as multipart forms with the client's file bytes and fields
(arrays as `name[]`, objects as `name[key]`, the way the OpenAI SDKs send them), and the answer is kept
as the upstream's bytes with its content type, whichever format was asked for. Speech is sent as JSON and
its audio relayed as it arrives. The translators are pure; `relay_audio` does the I/O.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.errors import UpstreamProtocolError
from babelgate.http import UpstreamResponse, iter_body, read_body
from babelgate.providers.base import CallNotes
from babelgate.schema.audio import SpeechRequest, TranscriptionRequest, TranscriptionResponse
from babelgate.schema.chat import JSON, Usage

if TYPE_CHECKING:  # aiohttp (~14 MiB) loads with the first form sent, not with the gateway
    import aiohttp

TRANSCRIPTIONS_PATH: Final = "/audio/transcriptions"
TRANSLATIONS_PATH: Final = "/audio/translations"
SPEECH_PATH: Final = "/audio/speech"
_JSON_FORMATS: Final = ("json", "verbose_json", "diarized_json")


def transcription_fields(request: TranscriptionRequest, model: str) -> list[tuple[str, str]]:
    """The form's text fields, in the spec's order, then the client's other fields as they came."""
    fields = [("model", model)]
    if request.language is not None:
        fields.append(("language", request.language))
    if request.prompt is not None:
        fields.append(("prompt", request.prompt))
    fields.append(("response_format", request.response_format))
    if request.temperature is not None:
        fields.append(("temperature", repr(request.temperature)))
    fields += [("timestamp_granularities[]", item) for item in request.timestamp_granularities or ()]
    for name, value in request.extra.items():
        fields += form_values(name, value)
    return fields


def form_values(name: str, value: Any) -> list[tuple[str, str]]:
    """One JSON value as form fields, flattened as the OpenAI SDKs do (`stringify_items`, brackets)."""
    if value is None:
        return []
    if isinstance(value, bool):
        return [(name, "true" if value else "false")]
    if isinstance(value, list):
        return [field for item in value for field in form_values(f"{name}[]", item)]
    if isinstance(value, dict):
        return [field for key, item in value.items() for field in form_values(f"{name}[{key}]", item)]
    return [(name, value if isinstance(value, str) else orjson.dumps(value).decode())]


def transcription_form(request: TranscriptionRequest, model: str) -> aiohttp.FormData:
    import aiohttp

    # Unquoted names, as browsers and httpx send them: OpenAI reads the format from the file's extension.
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("file", request.audio, filename=request.filename, content_type=request.content_type)
    for name, value in transcription_fields(request, model):
        form.add_field(name, value)
    return form


def transcription_from_wire(
    raw: bytes, content_type: str | None, response_format: str, *, provider: str
) -> TranscriptionResponse:
    """The upstream's body kept for the client; JSON answers are also read for the text and usage."""
    answer = TranscriptionResponse(raw=raw, raw_content_type=content_type)
    if response_format not in _JSON_FORMATS:
        answer.text = raw.decode("utf-8", "replace") if response_format == "text" else ""
        return answer
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamProtocolError(provider=provider, detail="the transcription is not JSON") from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("text"), str):
        raise UpstreamProtocolError(provider=provider, detail="the transcription has no text")
    answer.text = parsed["text"]
    answer.language = parsed["language"] if isinstance(parsed.get("language"), str) else None
    answer.duration = float(parsed["duration"]) if isinstance(parsed.get("duration"), int | float) else None
    answer.usage = usage_from_wire(parsed.get("usage"))
    return answer


def usage_from_wire(usage: Any) -> Usage | None:
    """Token usage (gpt-4o-transcribe…); duration usage (whisper-1) counts no tokens."""
    if not isinstance(usage, dict) or usage.get("type") != "tokens":
        return None
    prompt, completion = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    details = usage.get("input_token_details")
    details = details if isinstance(details, dict) else {}
    extra = {key: value for key, value in details.items() if isinstance(value, int)}
    return Usage(prompt, completion, int(usage.get("total_tokens") or prompt + completion), extra=extra)


def speech_to_wire(request: SpeechRequest, model: str) -> JSON:
    """`response_format` is always sent: the gateway names the answer's content type from it, so the
    upstream must not fall back to a default of its own."""
    body: JSON = {
        "model": model,
        "input": request.input,
        "voice": request.voice,
        "response_format": request.response_format,
    }
    if request.instructions is not None:
        body["instructions"] = request.instructions
    if request.speed is not None:
        body["speed"] = request.speed
    body.update(request.extra)  # a custom voice object is in here, replacing its id
    return body


async def read_transcription(
    response: UpstreamResponse, response_format: str, *, provider: str
) -> TranscriptionResponse:
    raw = await read_body(response)
    return transcription_from_wire(raw, response.headers.get("Content-Type"), response_format, provider=provider)


async def relay_audio(response: UpstreamResponse, *, provider: str, notes: CallNotes) -> AsyncIterator[bytes]:
    """The upstream's bytes as they arrive; a body cut short raises (iter_body), so it is never passed
    off as a whole file."""
    async with contextlib.aclosing(iter_body(response)) as body:
        async for chunk in body:
            yield chunk
    notes.completed = True
