"""OpenAI's audio endpoints for `FakeOpenAI`: `/v1/audio/transcriptions`, `/v1/audio/translations`
(multipart, checked against the spec's `CreateTranscriptionRequest` / `CreateTranslationRequest`, answered in
the asked `response_format` with OpenAI's content types) and `/v1/audio/speech` (JSON checked against
`CreateSpeechRequest`, the audio streamed in chunks, or as speech events with `stream_format: sse`).

The handlers take the fake as their first argument, so `FakeOpenAI` only mounts them; scripted replies
come first, as on its other endpoints (for speech, a `Reply.stream` of bytes is played as the body).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from aiohttp.web_request import FileField

from tests.fakes.openai_spec import component, spec_violations
from tests.fakes.scripted import Received, Reply

if TYPE_CHECKING:
    from tests.fakes.openai_upstream import FakeOpenAI

TRANSCRIPT = "Hello from the fake upstream."
TRANSLATION = "Hello, translated into English."
# What the real API answers each format with.
TEXT_TYPES = {
    "text": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}
SPEECH_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
# Models that answer only json or text (OAI `AudioResponseFormat`: "the only supported format is json").
JSON_ONLY_MODELS = ("gpt-4o-transcribe", "gpt-4o-mini-transcribe")
SPEECH_CHUNK = 4096


def fake_speech(text: str, response_format: str = "mp3") -> bytes:
    """Deterministic audio bytes for `text`, with the format's magic bytes (a valid header for wav),
    long enough to arrive in several chunks."""
    pcm = hashlib.sha256(text.encode()).digest() * 384  # 12 KiB
    if response_format == "wav":
        header = struct.pack(
            "<4sI4s4sIHHIIHH4sI",
            b"RIFF",
            36 + len(pcm),
            b"WAVE",
            b"fmt ",
            16,
            1,
            1,
            24_000,
            48_000,
            2,
            16,
            b"data",
            len(pcm),
        )
        return header + pcm
    magic = {"mp3": b"ID3\x04\x00\x00", "opus": b"OggS", "aac": b"\xff\xf1", "flac": b"fLaC", "pcm": b""}
    return magic[response_format] + pcm


def _form_body(form: Any, schema_name: str) -> tuple[dict[str, Any], list[str]]:
    """The form as the JSON object the spec's schema describes (numbers and booleans parsed, `name[]`
    fields as arrays, the file as a string of its name), and what is wrong with it as multipart."""
    properties = component(schema_name).get("properties", {})
    body: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in form.items():
        name = key[:-2] if key.endswith("[]") else key
        if isinstance(value, FileField):
            if name != "file":
                problems.append(f"{name}: only `file` is a file upload")
            if "." not in value.filename:
                problems.append("file: the filename needs an extension (OpenAI reads the format from it)")
            body[name] = value.filename
            continue
        kind = properties.get(name, {}).get("type")
        if key.endswith("[]") or kind == "array":
            body.setdefault(name, []).append(value)
        elif name in body:
            problems.append(f"{name}: sent more than once")
        elif kind == "number":
            try:
                body[name] = float(value)
            except ValueError:
                body[name] = value
        elif kind == "boolean" or name == "stream":
            body[name] = {"true": True, "false": False}.get(value, value)
        else:
            body[name] = value
    if not isinstance(form.get("file"), FileField):
        problems.append("file: must be a file upload (a part with a filename)")
    return body, problems


async def transcribe(fake: FakeOpenAI, request: web.Request) -> web.Response:
    translate = request.path.endswith("/translations")
    form = await request.post()
    schema = "CreateTranslationRequest" if translate else "CreateTranscriptionRequest"
    body, problems = _form_body(form, schema)
    upload = form.get("file")
    recorded = (
        {**body, "file": {"filename": upload.filename, "content_type": upload.content_type, "data": upload.file.read()}}
        if isinstance(upload, FileField)
        else body
    )
    fake.received.append(Received(request.method, request.path, dict(request.headers), recorded))
    fake.spec_violations += problems + spec_violations(body, schema)
    if fake.replies:
        reply = fake.replies.popleft()
        data = reply.body if reply.body is not None else orjson.dumps(reply.json)
        return web.Response(
            status=reply.status,
            body=data,
            headers=reply.headers,
            content_type="application/json" if reply.body is None else None,
        )
    fmt, model = body.get("response_format", "json"), str(body.get("model", ""))
    if model.startswith(JSON_ONLY_MODELS) and fmt not in ("json", "text"):
        return web.json_response(
            status=400,
            data={
                "error": {
                    "message": f"response_format '{fmt}' is not compatible with model '{model}'. Use 'json' or 'text'.",
                    "type": "invalid_request_error",
                    "param": "response_format",
                    "code": "unsupported_value",
                }
            },
        )
    text = TRANSLATION if translate else TRANSCRIPT
    if fmt in TEXT_TYPES:
        return web.Response(body=_text_answer(fmt, text).encode(), headers={"Content-Type": TEXT_TYPES[fmt]})
    if fmt == "verbose_json":
        return web.json_response(_verbose(text, translate, "word" in body.get("timestamp_granularities", ())))
    usage = (
        {
            "type": "tokens",
            "input_tokens": 14,
            "input_token_details": {"text_tokens": 10, "audio_tokens": 4},
            "output_tokens": 6,
            "total_tokens": 20,
        }
        if model.startswith("gpt-")
        else {"type": "duration", "seconds": 2}
    )
    return web.json_response({"text": text, "usage": usage})


def _text_answer(fmt: str, text: str) -> str:
    if fmt == "srt":
        return f"1\n00:00:00,000 --> 00:00:01,500\n{text}\n\n"
    if fmt == "vtt":
        return f"WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n{text}\n\n"
    return text + "\n"


def _verbose(text: str, translate: bool, words: bool) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "task": "translate" if translate else "transcribe",
        "language": "english",
        "duration": 1.5,
        "text": text,
        "segments": [
            {
                "id": 0,
                "seek": 0,
                "start": 0.0,
                "end": 1.5,
                "text": " " + text,
                "tokens": [50364, 2425],
                "temperature": 0.0,
                "avg_logprob": -0.28,
                "compression_ratio": 0.9,
                "no_speech_prob": 0.01,
            }
        ],
        "usage": {"type": "duration", "seconds": 2},
    }
    if words:
        answer["words"] = [
            {"word": word, "start": 0.3 * index, "end": 0.3 * (index + 1)} for index, word in enumerate(text.split())
        ]
    return answer


async def speech(fake: FakeOpenAI, request: web.Request) -> web.StreamResponse:
    body = await request.json()
    fake.received.append(Received(request.method, request.path, dict(request.headers), body))
    fake.spec_violations += spec_violations(body, "CreateSpeechRequest")
    fmt = body.get("response_format", "mp3")
    sse = body.get("stream_format") == "sse"
    content_type = "text/event-stream" if sse else SPEECH_TYPES.get(fmt, "application/octet-stream")
    reply = fake.replies.popleft() if fake.replies else None
    if reply is not None and reply.stream is None:
        return web.Response(
            status=reply.status,
            body=reply.body or orjson.dumps(reply.json),
            headers=reply.headers,
            content_type=None if reply.body is not None else "application/json",
        )
    if reply is None:
        audio = fake_speech(str(body.get("input", "")), fmt if fmt in SPEECH_TYPES else "mp3")
        pieces = [audio[start : start + SPEECH_CHUNK] for start in range(0, len(audio), SPEECH_CHUNK)]
        reply = Reply(stream=list(_speech_events(pieces) if sse else pieces))
    if reply.first_byte_delay:
        await asyncio.sleep(reply.first_byte_delay)
    return await fake.write_stream(
        request,
        reply,
        frame=lambda event: b"data: " + orjson.dumps(event) + b"\n\n",
        headers={"Content-Type": content_type},
    )


def _speech_events(pieces: list[bytes]) -> list[dict[str, Any]]:
    """OAI `CreateSpeechResponseStreamEvent`: audio deltas, then the done event with usage."""
    events: list[dict[str, Any]] = [
        {"type": "speech.audio.delta", "audio": base64.b64encode(piece).decode()} for piece in pieces
    ]
    events.append({"type": "speech.audio.done", "usage": {"input_tokens": 5, "output_tokens": 40, "total_tokens": 45}})
    return events


def mount(fake: FakeOpenAI, app: web.Application) -> None:
    # partial, not lambda: aiohttp warns about handlers that are not coroutine functions.
    app.router.add_post("/v1/audio/transcriptions", partial(transcribe, fake))
    app.router.add_post("/v1/audio/translations", partial(transcribe, fake))
    app.router.add_post("/v1/audio/speech", partial(speech, fake))
