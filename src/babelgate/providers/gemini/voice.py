"""Gemini's voices and its PCM audio, shared by speech synthesis and by chat answers with audio:
OpenAI voice names map to Gemini's, and Gemini's 16-bit PCM becomes WAV or bare PCM bytes."""

from __future__ import annotations

import base64
import struct
from typing import Final

from babelgate.errors import InvalidRequest, UpstreamProtocolError
from babelgate.schema.chat import JSON

PCM_RATE: Final = 24_000  # what Gemini TTS speaks, and what OpenAI's `pcm` promises

# Gemini's 30 prebuilt voices (ai.google.dev, speech generation), by lowercase name.
VOICES: Final[dict[str, str]] = {
    name.lower(): name
    for name in (
        "Zephyr",
        "Puck",
        "Charon",
        "Kore",
        "Fenrir",
        "Leda",
        "Orus",
        "Aoede",
        "Callirrhoe",
        "Autonoe",
        "Enceladus",
        "Iapetus",
        "Umbriel",
        "Algieba",
        "Despina",
        "Erinome",
        "Algenib",
        "Rasalgethi",
        "Laomedeia",
        "Achernar",
        "Alnilam",
        "Schedar",
        "Gacrux",
        "Pulcherrima",
        "Achird",
        "Zubenelgenubi",
        "Vindemiatrix",
        "Sadachbia",
        "Sadaltager",
        "Sulafat",
    )
}
# OpenAI's built-in voices → the Gemini voice whose one-word character (Google's voice list) is closest
# to the OpenAI voice's; a Gemini voice name picks exactly.
OPENAI_VOICES: Final[dict[str, str]] = {
    "alloy": "Schedar",  # even
    "ash": "Iapetus",  # clear
    "ballad": "Achernar",  # soft
    "coral": "Achird",  # friendly
    "echo": "Algieba",  # smooth
    "fable": "Puck",  # upbeat
    "onyx": "Charon",  # informative
    "nova": "Zephyr",  # bright
    "sage": "Sadaltager",  # knowledgeable
    "shimmer": "Aoede",  # breezy
    "verse": "Sadachbia",  # lively
    "marin": "Sulafat",  # warm
    "cedar": "Gacrux",  # mature
}


def gemini_voice(voice: str) -> str:
    name = voice.lower()
    found = OPENAI_VOICES.get(name) or VOICES.get(name)
    if found is None:
        raise InvalidRequest(
            "invalid_value",
            param="voice",
            detail=(
                f"expected an OpenAI voice ({', '.join(OPENAI_VOICES)}) "
                f"or a Gemini voice ({', '.join(VOICES.values())})"
            ),
        )
    return found


def pcm_audio(blob: JSON, response_format: str, *, provider: str) -> bytes:
    """Gemini's PCM blob (`audio/L16;codec=pcm;rate=24000`) as `wav` or bare `pcm` bytes."""
    kind, *params = (piece.strip().lower() for piece in str(blob.get("mimeType", "")).split(";"))
    if kind not in ("audio/l16", "audio/pcm"):
        raise UpstreamProtocolError(provider=provider, detail=f"the audio is {kind}, not PCM")
    try:
        rate = next((int(value) for key, _, value in (p.partition("=") for p in params) if key == "rate"), PCM_RATE)
        pcm = base64.b64decode(str(blob.get("data", "")), validate=True)
    except ValueError:
        raise UpstreamProtocolError(provider=provider, detail="the audio blob is malformed") from None
    if response_format == "wav":
        return wav(pcm, rate)
    if rate != PCM_RATE:
        # OpenAI's pcm has no header to say another rate: the client would play it at the wrong speed.
        raise UpstreamProtocolError(provider=provider, detail=f"the audio is at {rate} Hz, pcm promises {PCM_RATE}")
    return pcm


def wav(pcm: bytes, rate: int, *, channels: int = 1, sample_width: int = 2) -> bytes:
    """A canonical 44-byte RIFF/WAVE header (PCM format 1) before the samples."""
    block = channels * sample_width
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(pcm),
        b"WAVE",
        b"fmt ",
        16,
        1,
        channels,
        rate,
        rate * block,
        block,
        8 * sample_width,
        b"data",
        len(pcm),
    )
    return header + pcm
