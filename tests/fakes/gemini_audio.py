"""Audio in the Gemini fake: what the API refuses around speech, and the TTS answers it gives.

Gemini's TTS models (`gemini-2.5-flash-preview-tts`, `gemini-3.1-flash-tts-preview`, …) take text only and
answer only audio: `generationConfig.responseModalities: ["AUDIO"]`, a prebuilt voice by name, and an
`inlineData` part of 16-bit little-endian mono PCM, `audio/L16;codec=pcm;rate=24000` (ai.google.dev, speech
generation). Other `generateContent` models take audio input (`inlineData` with an audio type) but cannot
answer with audio there (native-audio models speak only through the Live API).
"""

from __future__ import annotations

import base64
import hashlib
from fnmatch import fnmatchcase
from typing import Any

from tests.fakes.scripted import Reply

TTS_MODELS = ("gemini-*-tts", "gemini-*-tts-*")
VOICES = (
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
PCM_MIME = "audio/L16;codec=pcm;rate=24000"
AUDIO_TOKENS_PER_SECOND = 25  # what the API counts for generated speech


def is_tts(model: str) -> bool:
    return any(fnmatchcase(model, pattern) for pattern in TTS_MODELS)


def fake_pcm(text: str) -> bytes:
    """Deterministic 16-bit PCM for `text` (an even number of bytes, 8 KiB)."""
    return hashlib.sha256(text.encode()).digest() * 256


def audio_part(pcm: bytes, *, mime_type: str = PCM_MIME) -> dict[str, Any]:
    return {"inlineData": {"mimeType": mime_type, "data": base64.b64encode(pcm).decode()}}


def tts_response(
    pcm: bytes,
    *,
    model_version: str = "gemini-2.5-flash-preview-tts",
    finish_reason: str = "STOP",
    mime_type: str = PCM_MIME,
) -> dict[str, Any]:
    """A `GenerateContentResponse` of a TTS model: one audio part; the usage counts audio tokens."""
    tokens = max(1, len(pcm) // 48_000 * AUDIO_TOKENS_PER_SECOND)
    return {
        "candidates": [
            {
                "content": {"parts": [audio_part(pcm, mime_type=mime_type)], "role": "model"},
                "finishReason": finish_reason,
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 9,
            "candidatesTokenCount": tokens,
            "totalTokenCount": 9 + tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}],
            "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": tokens}],
        },
        "modelVersion": model_version,
        "responseId": "FakeTtsRespId123",
    }


def audio_violations(request: Any, model: str) -> list[str]:
    """What the API refuses about audio in a parsed `generateContent` request for `model`."""
    out: list[str] = []
    config = request.generation_config
    modalities = [getattr(item, "value", item) for item in (config.response_modalities or ())] if config else []
    refused = (
        f"generationConfig.responseModalities: The requested combination of response modalities "
        f"({', '.join(modalities) or 'TEXT'}) is not supported by the model models/{model}."
    )
    if not is_tts(model):
        if "AUDIO" in modalities:
            out.append(refused)
        return out
    if modalities != ["AUDIO"]:
        out.append(refused)
    for index, content in enumerate(request.contents or ()):
        for position, part in enumerate(content.parts or ()):
            if part.text is None:
                out.append(f"contents[{index}].parts[{position}]: models/{model} takes text input only")
    if request.tools:
        out.append(f"tools: models/{model} does not support tools")
    speech = config.speech_config if config else None
    voice = speech.voice_config if speech else None
    prebuilt = voice.prebuilt_voice_config if voice else None
    if prebuilt is not None and prebuilt.voice_name not in VOICES:
        out.append(
            f"generationConfig.speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName: Voice name "
            f"{prebuilt.voice_name!r} is not supported. Allowed voice names are: {', '.join(VOICES)}"
        )
    return out


def default_reply(body: dict[str, Any], model: str, streaming: bool) -> Reply | None:
    """A TTS model's answer when nothing is scripted: PCM made from the request's text; None for
    other models (the fake's text default)."""
    if not is_tts(model):
        return None
    text = " ".join(
        str(part.get("text", "")) for content in body.get("contents") or () for part in content.get("parts") or ()
    )
    answer = tts_response(fake_pcm(text), model_version=model)
    return Reply(stream=[answer]) if streaming else Reply(json=answer)
