"""What the gateway reads of OpenAI's Realtime events: their names in the GA protocol and in the beta one (a
client that sends `OpenAI-Beta: realtime=v1`), the usage of a `response.done`, and the `error` event."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Final

import orjson

JSON = dict[str, Any]
BETA_HEADER: Final = "realtime=v1"
# The server events the GA protocol renamed, GA name → beta name (the openai SDK's `types/realtime` and
# `types/beta/realtime`); every other event has one name in both.
GA_TO_BETA: Final = {
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "conversation.item.added": "conversation.item.created",
}
BETA_TO_GA: Final = {beta: ga for ga, beta in GA_TO_BETA.items()}


def beta_name(kind: str) -> str:
    """A GA server event's name as a beta client reads it."""
    return GA_TO_BETA.get(kind, kind)


def ga_name(kind: str) -> str:
    """A beta server event's name in the GA protocol."""
    return BETA_TO_GA.get(kind, kind)


def event_id() -> str:
    return "event_" + secrets.token_hex(12)


def error_event(payload: JSON) -> bytes:
    """An `error` server event around an OpenAI-style error object (message, type, code, param)."""
    error = {"type": payload.get("type") or "invalid_request_error", **payload, "event_id": None}
    return orjson.dumps({"type": "error", "event_id": event_id(), "error": error})


@dataclass(slots=True)
class SessionUsage:
    """A session's tokens, summed over its responses (each `response.done`'s `usage`)."""

    input_tokens: int = 0
    output_tokens: int = 0
    input_text: int = 0
    input_audio: int = 0
    input_cached: int = 0
    input_cached_audio: int = 0  # of input_cached
    output_text: int = 0
    output_audio: int = 0
    turns: int = 0  # responses done
    # Seconds of audio transcribed and spoken (the voice cascade's own usage fields; a relayed upstream has none).
    input_audio_seconds: float = 0.0
    output_audio_seconds: float = 0.0

    def add(self, usage: Any) -> None:
        """One `response.done`'s `response.usage` (absent or malformed parts count nothing)."""
        self.turns += 1
        if not isinstance(usage, dict):
            return
        self.input_audio_seconds += _seconds(usage.get("input_audio_seconds"))
        self.output_audio_seconds += _seconds(usage.get("output_audio_seconds"))
        self.input_tokens += _count(usage.get("input_tokens"))
        self.output_tokens += _count(usage.get("output_tokens"))
        details = usage.get("input_token_details")
        if isinstance(details, dict):
            self.input_text += _count(details.get("text_tokens"))
            self.input_audio += _count(details.get("audio_tokens"))
            self.input_cached += _count(details.get("cached_tokens"))
            cached = details.get("cached_tokens_details")
            if isinstance(cached, dict):
                self.input_cached_audio += _count(cached.get("audio_tokens"))
        details = usage.get("output_token_details")
        if isinstance(details, dict):
            self.output_text += _count(details.get("text_tokens"))
            self.output_audio += _count(details.get("audio_tokens"))

    def details(self) -> JSON:
        """The split the ledger keeps beside the totals."""
        details: JSON = {
            "turns": self.turns,
            "input_text_tokens": self.input_text,
            "input_audio_tokens": self.input_audio,
            "cached_tokens": self.input_cached,
            "output_text_tokens": self.output_text,
            "output_audio_tokens": self.output_audio,
        }
        if self.input_audio_seconds or self.output_audio_seconds:
            details["input_audio_seconds"] = round(self.input_audio_seconds, 3)
            details["output_audio_seconds"] = round(self.output_audio_seconds, 3)
        return details


def _count(value: Any) -> int:
    return value if value.__class__ is int and value > 0 else 0


def _seconds(value: Any) -> float:
    return float(value) if value.__class__ in (int, float) and value > 0 else 0.0
