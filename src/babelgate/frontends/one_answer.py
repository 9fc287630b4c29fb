"""What the stream encoders of one-answer frontends (Responses, Anthropic Messages) share: they
follow choice 0's deltas and keep the usage and finish reason their last events report."""

from __future__ import annotations

from typing import Any

from babelgate.schema.chat import Usage
from babelgate.schema.chunks import ChatChunk, Delta

JSON = dict[str, Any]


class OneAnswerEncoder:
    usage: Usage | None = None
    finish_reason: str | None = None

    def feed(self, chunk: ChatChunk) -> list[JSON]:
        """The events one chunk makes (the other choices of an `n > 1` stream never reach these
        frontends, which have no `n`)."""
        events: list[JSON] = []
        if chunk.usage is not None:
            self.usage = chunk.usage
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            self._delta(choice.delta, events)
            if choice.finish_reason is not None:
                self.finish_reason = choice.finish_reason
        return events

    def _delta(self, delta: Delta, events: list[JSON]) -> None:
        raise NotImplementedError
