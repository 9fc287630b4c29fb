"""A Realtime session's texts through its guardrails (guardrails/), event by event.

Into the model: the client's text items (`conversation.item.create`, a `response.create`'s own input), the
session's and a response's instructions, and function-call outputs are checked before they go upstream; a block
refuses the event (an `error` event; the session goes on), a mask sends it masked. The user's speech has already
reached the model when its transcript comes back: that transcript is checked as input, a block cancels the
response it would get, a mask masks what the client is shown.

Out of the model: the text and the audio's transcript stream through the same windows as any streamed answer
(guardrails/stream.py), one response at a time, so a secret split across deltas is still caught; their `done`
events are checked whole. A block cancels the response upstream, drops what is left of it, and sends an `error`
event; the audio already played cannot be taken back. A reversible mask's placeholders are put back in the
model's text. Function-call arguments are checked whole at their `done` event. Audio itself is not read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson

from babelgate.errors import GuardrailBlocked
from babelgate.guardrails.check import Decisions, check
from babelgate.guardrails.guardrail import Guardrail
from babelgate.guardrails.paths import TextPaths, Where, paths
from babelgate.guardrails.stream import StreamGuard
from babelgate.realtime.protocol import JSON

# Where the client's texts are, by event type.
_CLIENT: Final[dict[str, Where]] = {
    "conversation.item.create": paths("item.content.*.text", "item.output"),
    "session.update": paths("session.instructions"),
    "response.create": paths("response.instructions", "response.input.*.content.*.text", "response.input.*.output"),
}
# The model's streamed texts: pieces in the deltas, whole again in the `done` events that repeat them. Each event
# goes to the stream guard inside an envelope naming its kind, so that the text and the audio's transcript (both
# a `delta`) are held and released apart, each in copies of its own events.
_ENVELOPES: Final = {
    "response.output_text.delta": "text",
    "response.output_audio_transcript.delta": "transcript",
    **dict.fromkeys(
        (
            "response.output_text.done",
            "response.output_audio_transcript.done",
            "response.function_call_arguments.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.done",
        ),
        "whole",
    ),
}
_OUTPUT: Final = TextPaths(
    input=paths(),
    pieces=paths("text.delta", "transcript.delta"),
    wholes=paths(
        *(
            f"whole.{path}"
            for path in (
                "text",
                "transcript",
                "arguments",
                "part.text",
                "part.transcript",
                "item.content.*.text",
                "item.content.*.transcript",
                "item.arguments",
                "response.output.*.content.*.text",
                "response.output.*.content.*.transcript",
                "response.output.*.arguments",
            )
        )
    ),
    framing="message",
)
_HEARD: Final = "conversation.item.input_audio_transcription.completed"
_HEARD_TEXT: Final = paths("transcript")


class RealtimeGuard:
    def __init__(self, guards: Sequence[Guardrail], decisions: Decisions, model: str, key_id: str | None) -> None:
        self.guards = guards
        self.decisions = decisions
        self.model = model
        self.key_id = key_id
        self._stream = self._new_stream()
        self._dropped: str | None = None  # the id of the response a guardrail blocked: its last events are dropped

    def _new_stream(self) -> StreamGuard:
        return StreamGuard(_OUTPUT, self.guards, self.decisions, self.model, self.key_id)

    async def client_event(self, event: JSON) -> bool:
        """Checks (and masks in place) the texts of one client event; raises GuardrailBlocked. True: changed."""
        where = _CLIENT.get(event.get("type"))  # type: ignore[arg-type]
        if where is None:
            return False
        return await check(self.guards, "input", event, where, self.decisions, self.model, self.key_id)

    async def heard(self, event: JSON) -> bool:
        """The user's speech as the model heard it (its transcript), checked as input: raises GuardrailBlocked."""
        return await check(self.guards, "input", event, _HEARD_TEXT, self.decisions, self.model, self.key_id)

    async def server_event(self, event: JSON, text: str) -> list[str]:
        """The events the client gets for one of the model's (none while a piece is held). Raises GuardrailBlocked:
        the session cancels the response, whose events are dropped from here on, its `response.done` emptied."""
        kind = event.get("type")
        if self._dropped is not None and _response_id(event) == self._dropped:
            if kind != "response.done":
                return []
            self._dropped = None
            _emptied(event)
            return [orjson.dumps(event).decode()]
        if kind == _HEARD:
            if await self.heard(event):
                return [orjson.dumps(event).decode()]
            return [text]
        envelope = _ENVELOPES.get(kind)  # type: ignore[arg-type]
        if envelope is None:
            return [text]
        try:
            frames = self._stream.feed(orjson.dumps({envelope: event}))
            if kind == "response.done":
                frames += self._stream.close()
                frames += await self._stream.finish()
                self._stream = self._new_stream()
        except GuardrailBlocked:
            self._stream = self._new_stream()
            if kind == "response.done":  # the answer is over: nothing of it left to cancel or drop
                _emptied(event)
                raise
            self._dropped = _response_id(event)
            raise
        return [orjson.dumps(next(iter(orjson.loads(frame).values()))).decode() for frame in frames]


def _emptied(event: JSON) -> None:
    """A blocked response's `response.done`, its usage kept and its output (which holds what was blocked) gone."""
    response = event.get("response")
    if isinstance(response, dict):
        response["output"], response["status"] = [], "cancelled"


def _response_id(event: JSON) -> str | None:
    found: Any = event.get("response_id")
    if found is None and isinstance(event.get("response"), dict):
        found = event["response"].get("id")
    return found if isinstance(found, str) else None
