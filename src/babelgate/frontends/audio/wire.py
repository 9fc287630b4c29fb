"""What OpenAI's audio endpoints take and give (OAI `CreateTranscriptionRequest`, `CreateTranslationRequest`,
`CreateSpeechRequest` and their answers): the values the gateway reads, and the content types it answers with."""

from __future__ import annotations

from typing import Final

# `AudioResponseFormat`; translations take all but `diarized_json`.
TRANSCRIPTION_FORMATS: Final = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")
TRANSLATION_FORMATS: Final = ("json", "text", "srt", "verbose_json", "vtt")
TIMESTAMP_GRANULARITIES: Final = ("word", "segment")
# Form fields the canonical request models; every other field travels in `extra`.
TRANSCRIPTION_FIELDS: Final = frozenset(
    {"model", "language", "prompt", "response_format", "temperature", "timestamp_granularities"}
)

# `CreateSpeechRequest.response_format` → the content type of the audio. The gateway names it itself
# (the provider road yields only bytes), from what the client asked for: every provider answers in it.
SPEECH_TYPES: Final[dict[str, bytes]] = {
    "mp3": b"audio/mpeg",
    "opus": b"audio/opus",
    "aac": b"audio/aac",
    "flac": b"audio/flac",
    "wav": b"audio/wav",
    "pcm": b"audio/pcm",
}
SPEECH_FIELDS: Final = frozenset({"model", "input", "voice", "response_format", "speed", "instructions"})
SPEED_RANGE: Final = (0.25, 4.0)
# `stream_format: sse` answers with speech events instead of bare audio.
SSE_TYPE: Final = b"text/event-stream; charset=utf-8"

JSON_TYPE: Final = b"application/json"
TEXT_TYPE: Final = b"text/plain; charset=utf-8"
