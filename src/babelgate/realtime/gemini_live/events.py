"""What a translation step yields, the ids it hands out, and the event names of OpenAI's two realtime dialects."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Final, Literal

Dialect = Literal["ga", "beta"]
Event = dict[str, Any]


@dataclass(slots=True)
class Translated:
    """One step's output: messages for the upstream, events for the client, and what could not be translated
    (also told to the client where its protocol has a way: an `error` event)."""

    upstream: list[Event] = field(default_factory=list)
    client: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def extend(self, other: Translated) -> Translated:
        self.upstream.extend(other.upstream)
        self.client.extend(other.client)
        self.warnings.extend(other.warnings)
        return self


# GA name → beta name, for the events whose names changed at GA; everything else is spelled the same.
BETA_NAMES: Final[dict[str, str]] = {
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "conversation.item.added": "conversation.item.created",
}
GA_NAMES: Final[dict[str, str]] = {beta: ga for ga, beta in BETA_NAMES.items()}
# GA-only events a beta client has no name for (`conversation.item.created` already told it of the item).
GA_ONLY: Final = frozenset({"conversation.item.done"})


@dataclass(slots=True)
class Ids:
    """Ids of one session, `<prefix>_<tag><n>`: unique within the session by the counter, across sessions by the
    random tag (tests pass their own tag to get the same ids every run)."""

    tag: str = field(default_factory=lambda: secrets.token_hex(6))
    _next: int = 0

    def new(self, prefix: str) -> str:
        self._next += 1
        return f"{prefix}_{self.tag}{self._next:x}"


@dataclass(slots=True)
class Emitter:
    """Stamps client events with an `event_id` and spells them in the client's dialect."""

    ids: Ids
    dialect: Dialect = "ga"

    def event(self, kind: str, **fields: Any) -> list[Event]:
        """One event (none for a GA-only event in the beta dialect), `event_id` first as OpenAI sends it."""
        if self.dialect == "beta":
            if kind in GA_ONLY:
                return []
            kind = BETA_NAMES.get(kind, kind)
        return [{"event_id": self.ids.new("event"), "type": kind, **fields}]

    def error(self, message: str, *, code: str, kind: str = "invalid_request_error", about: str | None = None) -> Event:
        """An `error` event; `about` is the client event's `event_id` it answers."""
        error: Event = {"type": kind, "code": code, "message": message}
        if about is not None:
            error["event_id"] = about
        return {"event_id": self.ids.new("event"), "type": "error", "error": error}
