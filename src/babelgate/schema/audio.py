"""Canonical audio: transcription (and translation into English), and speech synthesis."""

from __future__ import annotations

from dataclasses import dataclass, field

from babelgate.schema.chat import JSON, Usage


@dataclass(slots=True)
class TranscriptionRequest:
    model: str
    audio: bytes
    filename: str = "audio"
    content_type: str = "application/octet-stream"
    translate: bool = False  # /v1/audio/translations: the text in English
    language: str | None = None
    prompt: str | None = None
    response_format: str = "json"  # json, text, srt, verbose_json, vtt
    temperature: float | None = None
    timestamp_granularities: list[str] | None = None
    extra: JSON = field(default_factory=dict)


@dataclass(slots=True)
class TranscriptionResponse:
    text: str = ""
    language: str | None = None
    duration: float | None = None
    segments: list[JSON] | None = None
    words: list[JSON] | None = None
    usage: Usage | None = None
    # The upstream's own body when it already speaks the requested format (OpenAI's srt, vtt,
    # verbose_json…): relayed as is with its content type.
    raw: bytes | None = None
    raw_content_type: str | None = None


@dataclass(slots=True)
class SpeechRequest:
    model: str
    input: str
    voice: str
    response_format: str = "mp3"  # mp3, opus, aac, flac, wav, pcm
    speed: float | None = None
    instructions: str | None = None
    extra: JSON = field(default_factory=dict)
