"""What the stream encoders of one-answer frontends (Responses, Anthropic Messages) share: they
follow choice 0's deltas and keep the usage and finish reason their last events report, and frame
the events their state machine makes (each a JSON object) one by one into a StreamEncoder's bytes
(stream_encoder.py).

The event-level methods (`start_events`, `events`, `finish_events`) are the state machine; the
StreamEncoder's `start`, `feed` and `finish` are those, framed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from babelgate.schema.chat import Usage
from babelgate.schema.chunks import ChatChunk, Delta
from babelgate.streaming import encode_sse_event

JSON = dict[str, Any]
# One event → its bytes on the wire (an SSE event, or a WebSocket message).
Frame = Callable[[JSON], bytes]


def sse_event(event: JSON) -> bytes:
    """An event whose `type` is also its SSE event name (Anthropic's, Responses')."""
    return encode_sse_event(event["type"], event)


class OneAnswerEncoder:
    usage: Usage | None = None
    finish_reason: str | None = None

    def __init__(self, frame: Frame = sse_event) -> None:
        self.frame = frame

    def start(self) -> bytes:
        return self.framed(self.start_events())

    def feed(self, chunk: ChatChunk) -> bytes:
        return self.framed(self.events(chunk))

    def finish(self) -> bytes:
        return self.framed(self.finish_events())

    def framed(self, events: list[JSON]) -> bytes:
        if not events:
            return b""
        frame = self.frame
        return b"".join([frame(event) for event in events])

    def events(self, chunk: ChatChunk) -> list[JSON]:
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

    def start_events(self) -> list[JSON]:
        raise NotImplementedError

    def finish_events(self) -> list[JSON]:
        raise NotImplementedError

    def _delta(self, delta: Delta, events: list[JSON]) -> None:
        raise NotImplementedError
