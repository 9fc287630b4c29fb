"""Chat answers with audio (`modalities: ["audio"]`, `audio: {voice, format}`) on Gemini's speech
models: the request asks for the AUDIO modality with a prebuilt voice, and the PCM Gemini answers
with becomes OpenAI's `message.audio` (or `delta.audio` chunks when streamed).

Gemini speaks 16-bit PCM only, so the formats are OpenAI's `wav` and `pcm16`; a stream must be
`pcm16`, as OpenAI itself requires (a WAV header needs the length of the whole audio).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Final

from babelgate.errors import InvalidRequest, UnsupportedCapability
from babelgate.providers.gemini.voice import gemini_voice, pcm_audio
from babelgate.schema.chat import JSON, ChatRequest

PROVIDER: Final = "gemini"
FORMATS: Final = ("wav", "pcm16")
EXPIRES_AFTER: Final = 3600  # seconds; OpenAI's `expires_at` for an answer's audio (only a hint here)


def requested_format(request: ChatRequest) -> str | None:
    """The audio format the client asked for, or None when it asked for no audio."""
    modalities = request.extra.get("modalities")
    if not (isinstance(modalities, list) and "audio" in modalities):
        return None
    audio = request.extra.get("audio")
    if not isinstance(audio, dict):
        raise InvalidRequest("missing_field", param="audio")
    fmt = audio.get("format", "wav")
    if fmt not in FORMATS:
        raise UnsupportedCapability(
            provider=PROVIDER,
            param="audio.format",
            capability=f"audio format '{fmt}' (Gemini speaks PCM: ask for wav or pcm16)",
        )
    if request.stream and fmt != "pcm16":
        raise UnsupportedCapability(
            provider=PROVIDER, param="audio.format", capability="streamed audio other than pcm16"
        )
    return str(fmt)


def speech_config(request: ChatRequest) -> JSON:
    voice = (request.extra.get("audio") or {}).get("voice", "alloy")
    name = voice.get("id") if isinstance(voice, dict) else voice
    if not isinstance(name, str):
        raise InvalidRequest("wrong_type", param="audio.voice", expected="a voice name")
    return {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": gemini_voice(name)}}}


def audio_entry(blob: JSON, fmt: str, *, response_id: str, created: int, provider: str) -> JSON:
    """One audio part as OpenAI's audio object (in a stream: one chunk of it, same id)."""
    data = pcm_audio(blob, "wav" if fmt == "wav" else "pcm", provider=provider)
    audio_id = "audio_" + hashlib.sha256(response_id.encode()).hexdigest()[:24]
    return {
        "id": audio_id,
        "data": base64.b64encode(data).decode(),
        "expires_at": created + EXPIRES_AFTER,
        "transcript": "",
    }
