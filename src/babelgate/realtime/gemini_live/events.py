"""What a translation step yields, the ids it hands out, and the event names of OpenAI's two realtime dialects."""

from __future__ import annotations

from dataclasses import dataclass, field

# The ids, dialects and event stamping every road that builds events shares (realtime/sequence.py).
from babelgate.realtime.sequence import BETA_NAMES, GA_NAMES, GA_ONLY, Dialect, Emitter, Event, Ids

__all__ = ["BETA_NAMES", "GA_NAMES", "GA_ONLY", "Dialect", "Emitter", "Event", "Ids", "Translated"]


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
