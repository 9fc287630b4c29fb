"""OpenAI's audio endpoints on Gemini (pure translators; GEM `GenerateContentConfig`, `SpeechConfig`).

Transcription and translation: the upload goes to `generateContent` as `inlineData` with an instruction to
transcribe it (or to translate it into English); `json` and `text` come from the answer's text, and
`verbose_json` from a JSON answer Gemini is held to by `responseJsonSchema` (language, text, timed
segments). Gemini has no subtitle output, so `srt`, `vtt` and `diarized_json` are refused up front.

Speech: Gemini's TTS models (`gemini-*-tts`, `gemini-*-tts-*`) take `responseModalities: ["AUDIO"]` and a
prebuilt voice, and answer 16-bit little-endian mono PCM (`audio/L16;codec=pcm;rate=24000`): relayed as
it is for `pcm` (OpenAI's own pcm is the same: 24 kHz, 16-bit LE), wrapped in a WAV header for `wav`.
The gateway has no audio encoder, so mp3, opus, aac and flac are refused.
"""

from __future__ import annotations

import base64
import struct
from fnmatch import fnmatchcase
from typing import Any, Final

import orjson

from babelgate.errors import InvalidRequest, UnsupportedCapability, UpstreamError, UpstreamProtocolError
from babelgate.providers.gemini.translate import usage_from_wire
from babelgate.providers.gemini.voice import gemini_voice, pcm_audio
from babelgate.schema.audio import SpeechRequest, TranscriptionRequest, TranscriptionResponse
from babelgate.schema.chat import JSON, Usage

PROVIDER = "gemini"
TTS_MODELS: Final = ("gemini-*-tts", "gemini-*-tts-*")
TRANSCRIPT_FORMATS: Final = ("json", "text", "verbose_json")
SPEECH_FORMATS: Final = ("wav", "pcm")
# "Gemini represents each second of audio as 32 tokens" (ai.google.dev, audio understanding).
AUDIO_TOKENS_PER_SECOND: Final = 32

# Upload extensions → the MIME types Gemini documents for audio (and those the chat adapter sends).
AUDIO_TYPES: Final[dict[str, str]] = {
    "wav": "audio/wav",
    "mp3": "audio/mp3",
    "mpga": "audio/mp3",
    "mpeg": "audio/mp3",
    "aiff": "audio/aiff",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "mp4": "audio/mp4",
    "webm": "audio/webm",
}
_TYPE_ALIASES: Final = {
    "audio/mpeg": "audio/mp3",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/x-flac": "audio/flac",
    "audio/x-aiff": "audio/aiff",
    "audio/x-m4a": "audio/mp4",
}

TRANSCRIPT_SCHEMA: Final[JSON] = {
    "type": "object",
    "properties": {
        "language": {"type": "string", "description": "The spoken language's English name in lowercase, e.g. english"},
        "text": {"type": "string", "description": "The whole text"},
        "segments": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "start": {"type": "number", "description": "Seconds from the start of the audio"},
                    "end": {"type": "number", "description": "Seconds from the start of the audio"},
                    "text": {"type": "string"},
                },
                "required": ["start", "end", "text"],
            },
        },
    },
    "required": ["language", "text", "segments"],
}


def is_tts_model(model: str) -> bool:
    return any(fnmatchcase(model, pattern) for pattern in TTS_MODELS)


# -- transcription ------------------------------------------------------------------------------


def transcription_to_wire(request: TranscriptionRequest, model: str, adjusted: list[str]) -> JSON:
    what = "translation" if request.translate else "transcription"
    if is_tts_model(model):
        raise UnsupportedCapability(
            provider=PROVIDER, capability=f"{what} on a TTS model (it takes text only)", param="model"
        )
    if request.response_format not in TRANSCRIPT_FORMATS:
        raise UnsupportedCapability(
            provider=PROVIDER,
            param="response_format",
            capability=(f"response_format '{request.response_format}' (Gemini answers json, text and verbose_json)"),
        )
    if "word" in (request.timestamp_granularities or ()):
        raise UnsupportedCapability(provider=PROVIDER, capability="word timestamps", param="timestamp_granularities")
    adjusted += [f"{name}=dropped" for name in request.extra]
    audio = {
        "inlineData": {
            "mimeType": audio_type(request.filename, request.content_type),
            "data": base64.b64encode(request.audio).decode(),
        }
    }
    # Google's advice: the media first, then the instruction about it.
    body: JSON = {"contents": [{"role": "user", "parts": [audio, {"text": _instruction(request)}]}]}
    config: JSON = {}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.response_format == "verbose_json":
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = TRANSCRIPT_SCHEMA
    if config:
        body["generationConfig"] = config
    return body


def audio_type(filename: str, content_type: str) -> str:
    """The upload's audio type from its content type, or from its extension when the client sent none
    (`application/octet-stream`); Gemini needs a real one."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind.startswith("audio/"):
        return _TYPE_ALIASES.get(kind, kind)
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension in AUDIO_TYPES:
        return AUDIO_TYPES[extension]
    raise InvalidRequest(
        "invalid_value",
        param="file",
        detail=f"send an audio file ({', '.join(AUDIO_TYPES)}) with its extension or an audio/* type",
    )


def _instruction(request: TranscriptionRequest) -> str:
    what = "translation" if request.translate else "transcript"
    lines = [
        "Translate the speech in this audio into English."
        if request.translate
        else "Transcribe the speech in this audio verbatim, in the language it is spoken in."
    ]
    if request.language:
        lines.append(f"The speech is in the language with the ISO-639-1 code '{request.language}'.")
    if request.prompt:
        lines.append(f"Context to follow for names, spellings and style: {request.prompt}")
    if request.response_format == "verbose_json":
        lines.append(
            f"Answer with the {what} as JSON: `text` is all of it; `segments` split it into consecutive "
            "sentences or phrases, each with its `start` and `end` in seconds from the start of the audio."
        )
    else:
        lines.append(f"Answer with the {what} only: no introduction, labels, timestamps or comments.")
    return "\n".join(lines)


def transcription_from_wire(body: JSON, request: TranscriptionRequest, *, provider: str) -> TranscriptionResponse:
    try:
        return _transcription(body, request, provider)
    except (AttributeError, TypeError, KeyError, IndexError, ValueError):
        raise UpstreamProtocolError(provider=provider, detail="the body has the wrong shape") from None


def _transcription(body: JSON, request: TranscriptionRequest, provider: str) -> TranscriptionResponse:
    text = _answer_text(body, provider)
    usage = audio_usage(body.get("usageMetadata"))
    if request.response_format != "verbose_json":
        return TranscriptionResponse(text=text.strip(), language=request.language, usage=usage)
    try:
        parsed = orjson.loads(text)
        segments = [_segment(index, item) for index, item in enumerate(parsed["segments"])]
        transcript = str(parsed["text"])
        language = str(parsed.get("language") or request.language or "").lower()
    except (orjson.JSONDecodeError, TypeError, KeyError, ValueError):
        raise UpstreamProtocolError(provider=provider, detail="the transcript is not the JSON asked for") from None
    return TranscriptionResponse(
        text=transcript.strip(),
        language="english" if request.translate else language,
        duration=_duration(request.audio, usage, segments),
        segments=segments,
        usage=usage,
    )


def _answer_text(body: JSON, provider: str) -> str:
    candidates = body.get("candidates") or ()
    if not candidates:
        reason = (body.get("promptFeedback") or {}).get("blockReason") or "no candidates"
        raise UpstreamError("audio_incomplete", provider=provider, reason=reason)
    candidate = candidates[0]
    reason = candidate.get("finishReason")
    if reason != "STOP":
        # No OpenAI audio answer can say "cut short" or "filtered": a partial transcript would pass as whole.
        raise UpstreamError("audio_incomplete", provider=provider, reason=reason or "no finish reason")
    parts = (candidate.get("content") or {}).get("parts") or ()
    return "".join(str(part["text"]) for part in parts if "text" in part and not part.get("thought"))


def _segment(index: int, item: Any) -> JSON:
    """What Gemini can fill of OAI `TranscriptionSegment`: id, start, end, text. Its timestamps are the
    model's estimate; the decoder statistics (tokens, avg_logprob, no_speech_prob…) do not exist here."""
    start, end = _seconds(item["start"]), _seconds(item["end"])
    return {"id": index, "start": start, "end": max(start, end), "text": str(item["text"])}


def _seconds(value: Any) -> float:
    """Seconds as a number, or as `[[HH:]MM:]SS[.fff]`, which Gemini writes when it forgets the schema."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    seconds = 0.0
    for piece in str(value).split(":"):
        seconds = seconds * 60 + float(piece)
    return seconds


def audio_usage(metadata: Any) -> Usage | None:
    """Gemini's usage, with the prompt's audio and text tokens (OpenAI's `input_token_details`)."""
    usage = usage_from_wire(metadata)
    if usage is None:
        return None
    for detail in metadata.get("promptTokensDetails") or ():
        modality = str(detail.get("modality", "")).lower()
        if modality in ("audio", "text"):
            usage.extra[f"{modality}_tokens"] = int(detail.get("tokenCount") or 0)
    return usage


def _duration(audio: bytes, usage: Usage | None, segments: list[JSON]) -> float:
    """Exact for WAV (its header says); else from the audio tokens Gemini counted (32 per second);
    else where the last segment ends."""
    exact = wav_duration(audio)
    if exact is not None:
        return exact
    tokens = usage.extra.get("audio_tokens") if usage is not None else None
    if tokens:
        return float(tokens) / AUDIO_TOKENS_PER_SECOND
    return float(segments[-1]["end"]) if segments else 0.0


def wav_duration(data: bytes) -> float | None:
    """Seconds of a RIFF/WAVE file from its `fmt ` and `data` chunks; None for anything else."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    position, byte_rate = 12, 0
    while position + 8 <= len(data):
        chunk, size = data[position : position + 4], int(struct.unpack_from("<I", data, position + 4)[0])
        if chunk == b"fmt " and size >= 16 and position + 24 <= len(data):
            byte_rate = int(struct.unpack_from("<I", data, position + 16)[0])
        elif chunk == b"data" and byte_rate:
            # Streamed WAV files say 0xFFFFFFFF: the data runs to the end.
            return min(size, len(data) - position - 8) / byte_rate
        position += 8 + size + (size & 1)
    return None


# -- speech -------------------------------------------------------------------------------------


def speech_to_wire(request: SpeechRequest, model: str, adjusted: list[str]) -> JSON:
    if not is_tts_model(model):
        raise UnsupportedCapability(
            provider=PROVIDER,
            param="model",
            capability=("speech on this model (use a TTS model, e.g. gemini-2.5-flash-preview-tts)"),
        )
    if request.response_format not in SPEECH_FORMATS:
        raise UnsupportedCapability(
            provider=PROVIDER,
            param="response_format",
            capability=(f"response_format '{request.response_format}' (Gemini speaks PCM: ask for wav or pcm)"),
        )
    if request.speed is not None and request.speed != 1:
        raise UnsupportedCapability(
            provider=PROVIDER, param="speed", capability="a speed setting (ask for a pace in `instructions`)"
        )
    if request.extra.get("stream_format") not in (None, "audio"):
        raise UnsupportedCapability(
            provider=PROVIDER, capability="speech events (stream_format sse)", param="stream_format"
        )
    voice = gemini_voice(request.voice)
    adjusted += [f"{name}=dropped" for name in request.extra if name not in ("stream_format", "voice")]
    text = request.input
    if request.instructions and request.instructions.strip():
        # Gemini TTS is steered by a directive before the text ("Say cheerfully: Have a wonderful day!").
        text = f"{request.instructions.strip().rstrip('.:;!')}:\n{text}"
    return {
        "contents": [{"role": "user", "parts": [{"text": text}]}],
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": voice}}},
        },
    }


def speech_from_wire(body: JSON, response_format: str, *, provider: str) -> bytes:
    """The first audio part of the answer, as `response_format` asks."""
    try:
        _answer_text(body, provider)  # the same checks: a candidate that finished properly
        parts = (body["candidates"][0].get("content") or {}).get("parts") or ()
        blob = next(
            (
                part["inlineData"]
                for part in parts
                if str((part.get("inlineData") or {}).get("mimeType", "")).startswith("audio/")
            ),
            None,
        )
    except (AttributeError, TypeError, KeyError, IndexError):
        raise UpstreamProtocolError(provider=provider, detail="the body has the wrong shape") from None
    if blob is None:
        raise UpstreamProtocolError(provider=provider, detail="the answer has no audio")
    return pcm_audio(blob, response_format, provider=provider)
