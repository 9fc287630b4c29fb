"""The event sequence of one OpenAI realtime response as Gemini's turn streams in: the shared sequence
(realtime/sequence.py) with Gemini's audio, which comes at its own rate and is converted to the client's format,
and Gemini's usage on `response.done`."""

from __future__ import annotations

import base64

from babelgate.realtime.gemini_live.events import Event
from babelgate.realtime.gemini_live.state import LiveState
from babelgate.realtime.sequence import (
    Status,
    close_message,
    function_call,
    message_part,
    open_response,
    text_delta,
    where,
)
from babelgate.realtime.sequence import close_response as close_sequence

__all__ = [
    "audio_delta",
    "close_message",
    "close_response",
    "function_call",
    "message_part",
    "open_response",
    "text_delta",
]


def audio_delta(state: LiveState, pcm: bytes, rate: int) -> list[Event]:
    """Gemini's audio (PCM16 at `rate`) as the client's `response.output_audio.delta`."""
    if rate != state.from_gemini.rate:
        events = _flush_audio(state)  # a new rate starts a new stream: the old one's tail first
        state.from_gemini = type(state.from_gemini)(rate, state.settings.output_format)
    else:
        events = []
    events += message_part(state, "audio")
    audio = state.from_gemini.feed(pcm)
    if audio:
        assert state.response is not None
        delta = base64.b64encode(audio).decode()
        events += state.emit.event("response.output_audio.delta", **where(state.response), delta=delta)
    return events


def _flush_audio(state: LiveState) -> list[Event]:
    tail = state.from_gemini.flush()
    response = state.response
    if not tail or response is None or response.part is None or response.part.kind != "audio":
        return []
    return state.emit.event("response.output_audio.delta", **where(response), delta=base64.b64encode(tail).decode())


def close_response(state: LiveState, status: Status, reason: str | None = None) -> list[Event]:
    """Every open part and item done, then `response.done` (with the turn's usage where Gemini gave it)."""
    if state.response is None:
        return []
    events = close_message(state, "completed" if status == "completed" else "incomplete")
    usage = state.response_usage()
    return events + close_sequence(state, status, reason, usage.openai() if usage is not None else None)
