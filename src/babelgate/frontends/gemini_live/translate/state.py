"""The per-session state of the Gemini-Live-on-OpenAI-realtime translator: plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from babelgate.realtime.gemini_live.audio import Resampler
from babelgate.realtime.gemini_live.events import Ids
from babelgate.realtime.gemini_live.usage import Usage


@dataclass(slots=True)
class ReverseState:
    ids: Ids
    model: str | None = None  # the setup's `model`, for the caller's routing
    setup_pending: bool = False  # `setupComplete` waits for OpenAI's `session.updated`
    setup_done: bool = False
    input_transcripts: bool = False
    output_transcripts: bool = False
    input_rate: int | None = None
    resampler: Resampler | None = None
    response_active: bool = False
    response_create_held: bool = False  # asked for while a response was still running: sent on its `response.done`
    response_had_content: bool = False
    transcribed_items: set[str] = field(default_factory=set)  # items whose transcript came as deltas
    usage: Usage = field(default_factory=Usage)
