"""The per-session state of the OpenAI-realtime-on-Gemini-Live translator: plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from babelgate.realtime.gemini_live.audio import GEMINI_INPUT_RATE, GEMINI_OUTPUT_RATE, FromPcm, ToPcm
from babelgate.realtime.gemini_live.events import Emitter, Ids
from babelgate.realtime.gemini_live.settings import Settings
from babelgate.realtime.gemini_live.usage import Usage
from babelgate.realtime.sequence import Part, ResponseState

__all__ = ["LiveState", "Part", "ResponseState", "UserTurn"]


@dataclass(slots=True)
class UserTurn:
    """The user's spoken turn: `started` once Gemini shows it heard speech, `committed` once it is an item."""

    item_id: str
    start_ms: int
    committed: bool = False
    transcript: str = ""
    unsent: str = ""  # transcript heard before the item existed, sent as one delta when it does


@dataclass(slots=True)
class LiveState:
    settings: Settings
    ids: Ids
    emit: Emitter
    session_id: str
    setup_sent: bool = False
    announce_on_setup: bool = False  # a `session.update` made the setup: `setupComplete` answers it
    to_gemini: ToPcm = field(init=False)
    from_gemini: FromPcm = field(init=False)
    # Manual turns: audio held (already converted, so a commit costs nothing) until commit, so that clear works.
    manual_audio: bytearray = field(default_factory=bytearray)
    manual_bytes: int = 0  # the client's bytes held, for OpenAI's cap on the buffer
    input_bytes: int = 0  # client-format audio bytes appended since the session started
    turn_start_bytes: int = 0
    user: UserTurn | None = None
    pending_text: bool = False  # client content sent without `turnComplete`
    reply_coming: bool = False  # a turn Gemini answers by itself (activityEnd, toolResponse) is in flight
    # Gemini answers by itself what an OpenAI client asks for with its next `response.create` (a committed turn, a
    # tool's result): that request is this answer, even if Gemini gave it before the request came.
    answered_unasked: bool = False
    response: ResponseState | None = None
    discarding: bool = False  # the client cancelled: drop Gemini's output until its turn ends
    last_item_id: str | None = None
    call_names: dict[str, str] = field(default_factory=dict)  # call id → function name, for toolResponse
    turn_usage: Usage | None = None  # Gemini's counts for the turn so far: each `usageMetadata` replaces the last
    turn_reported: Usage = field(default_factory=Usage)  # what of them earlier responses of the turn reported
    usage: Usage = field(default_factory=Usage)

    def __post_init__(self) -> None:
        self.to_gemini = ToPcm(self.settings.input_format, GEMINI_INPUT_RATE)
        self.from_gemini = FromPcm(GEMINI_OUTPUT_RATE, self.settings.output_format)

    @property
    def modalities(self) -> tuple[str, ...]:
        return self.settings.output_modalities

    def audio_tail(self) -> bytes:
        return self.from_gemini.flush()

    def response_usage(self) -> Usage | None:
        """The turn's tokens not yet reported by an earlier response of it (a turn with a function call in it
        is two OpenAI responses: before the call and after its result)."""
        if self.turn_usage is None:
            return None
        usage = self.turn_usage.minus(self.turn_reported)
        self.turn_reported = self.turn_usage
        return usage

    def fold_usage(self) -> None:
        """At the end of Gemini's turn: its usage into the session's totals."""
        if self.turn_usage is not None:
            self.usage.add(self.turn_usage)
        self.turn_usage, self.turn_reported = None, Usage()
