"""OpenAI realtime voices ↔ Gemini prebuilt voices, paired by register and tone (docs/realtime-translation.md)."""

from __future__ import annotations

from typing import Final

OPENAI_TO_GEMINI: Final[dict[str, str]] = {
    "alloy": "Kore",
    "ash": "Charon",
    "ballad": "Enceladus",
    "coral": "Aoede",
    "echo": "Puck",
    "sage": "Leda",
    "shimmer": "Zephyr",
    "verse": "Fenrir",
    "marin": "Despina",
    "cedar": "Iapetus",
}
GEMINI_TO_OPENAI: Final[dict[str, str]] = {gemini.lower(): openai for openai, gemini in OPENAI_TO_GEMINI.items()}
OPENAI_DEFAULT: Final = "marin"


def gemini_voice(voice: str) -> str:
    """The Gemini voice for an OpenAI voice name; any other name (a Gemini voice) goes through as written."""
    return OPENAI_TO_GEMINI.get(voice.lower(), voice)


def openai_voice(voice: str) -> tuple[str, bool]:
    """The OpenAI voice for a Gemini voice name, and whether it was in the table (else: the default voice)."""
    if voice.lower() in OPENAI_TO_GEMINI:
        return voice.lower(), True
    mapped = GEMINI_TO_OPENAI.get(voice.lower())
    return (mapped, True) if mapped is not None else (OPENAI_DEFAULT, False)
