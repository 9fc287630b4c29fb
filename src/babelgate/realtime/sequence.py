"""The server-event sequence of one OpenAI realtime response, for every road that builds its own events (the
Gemini Live translation, the voice cascade): `response.created`, each output item's `output_item.added` /
`conversation.item.added` / `content_part.added`, the deltas, and the `*.done` events down to `response.done`;
with the ids a session hands out and the event names of OpenAI's two realtime dialects. Pure: no I/O."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

Dialect = Literal["ga", "beta"]
Event = dict[str, Any]
Status = Literal["completed", "cancelled", "incomplete", "failed"]

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


@dataclass(slots=True)
class Part:
    """The content part of the assistant message being streamed: audio (with its transcript) or text."""

    kind: Literal["audio", "text"]
    text: str = ""


@dataclass(slots=True)
class ResponseState:
    id: str
    output: list[dict[str, Any]] = field(default_factory=list)  # finished items, for `response.done`
    message_id: str | None = None
    message_index: int = 0
    part: Part | None = None


class Stage(Protocol):
    """The session state a road keeps that the sequence reads and writes."""

    ids: Ids
    emit: Emitter
    session_id: str
    response: ResponseState | None
    last_item_id: str | None

    @property
    def modalities(self) -> tuple[str, ...]:
        """The session's output modalities."""
        ...

    def audio_tail(self) -> bytes:
        """What the road's output audio converter still holds, in the client's format, when an audio part ends."""
        ...


def _response_object(state: Stage, response: ResponseState, status: str) -> dict[str, Any]:
    body: dict[str, Any] = {"id": response.id, "object": "realtime.response", "status": status, "output": []}
    if state.emit.dialect == "beta":
        body["modalities"] = ["audio", "text"] if "audio" in state.modalities else ["text"]
    else:
        body["output_modalities"] = list(state.modalities)
        body["conversation_id"] = state.session_id
    return body


def open_response(state: Stage) -> list[Event]:
    """`response.created`, unless a response is open already."""
    if state.response is not None:
        return []
    state.response = ResponseState(id=state.ids.new("resp"))
    return state.emit.event("response.created", response=_response_object(state, state.response, "in_progress"))


def item_events(state: Stage, item: dict[str, Any], *, done: bool) -> list[Event]:
    """`conversation.item.added` (or `.done`) for an item, after the last item the client heard of."""
    previous = state.last_item_id
    state.last_item_id = item["id"]
    if done:
        return state.emit.event("conversation.item.done", previous_item_id=previous, item=item)
    return state.emit.event("conversation.item.added", previous_item_id=previous, item=item)


def _content(state: Stage, part: Part) -> dict[str, Any]:
    beta = state.emit.dialect == "beta"
    if part.kind == "audio":
        return {"type": "audio" if beta else "output_audio", "transcript": part.text}
    return {"type": "text" if beta else "output_text", "text": part.text}


def _message(state: Stage, response: ResponseState, status: str) -> dict[str, Any]:
    content = [_content(state, response.part)] if response.part is not None else []
    return {
        "id": response.message_id,
        "object": "realtime.item",
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def where(response: ResponseState) -> dict[str, Any]:
    """The fields that place a delta: its response, item, output and content indexes."""
    return {
        "response_id": response.id,
        "item_id": response.message_id,
        "output_index": response.message_index,
        "content_index": 0,
    }


def message_part(state: Stage, kind: Literal["audio", "text"]) -> list[Event]:
    """Opens the response, its assistant message and its content part, as far as not open yet."""
    events = open_response(state)
    response = state.response
    assert response is not None
    if response.message_id is None:
        response.message_id = state.ids.new("item")
        response.message_index = len(response.output)
        item = _message(state, response, "in_progress")
        events += state.emit.event(
            "response.output_item.added", response_id=response.id, output_index=response.message_index, item=item
        )
        events += item_events(state, item, done=False)
    if response.part is None:
        response.part = Part(kind)
        part: dict[str, Any] = {"type": "audio", "transcript": ""} if kind == "audio" else {"type": "text", "text": ""}
        events += state.emit.event("response.content_part.added", **where(response), part=part)
    return events


def audio_out(state: Stage, audio: bytes) -> list[Event]:
    """Audio already in the client's format as `response.output_audio.delta`, its part opened as needed."""
    events = message_part(state, "audio")
    if audio:
        assert state.response is not None
        delta = base64.b64encode(audio).decode()
        events += state.emit.event("response.output_audio.delta", **where(state.response), delta=delta)
    return events


def text_delta(state: Stage, text: str, *, transcript: bool) -> list[Event]:
    """Model text: the audio's transcript, or the text of a text response."""
    if not text:
        return []
    events = message_part(state, "audio" if transcript else "text")
    response = state.response
    assert response is not None and response.part is not None
    assert transcript == (response.part.kind == "audio")  # the callers keep to the session's one modality
    response.part.text += text
    kind = "response.output_audio_transcript.delta" if transcript else "response.output_text.delta"
    return events + state.emit.event(kind, **where(response), delta=text)


def close_message(state: Stage, status: Literal["completed", "incomplete"]) -> list[Event]:
    response = state.response
    if response is None or response.message_id is None:
        return []
    tail = state.audio_tail()
    part = response.part
    events: list[Event] = []
    if part is not None:
        at = where(response)
        if part.kind == "audio":
            if tail:
                events += state.emit.event("response.output_audio.delta", **at, delta=base64.b64encode(tail).decode())
            events += state.emit.event("response.output_audio.done", **at)
            events += state.emit.event("response.output_audio_transcript.done", **at, transcript=part.text)
            done_part: dict[str, Any] = {"type": "audio", "transcript": part.text}
        else:
            events += state.emit.event("response.output_text.done", **at, text=part.text)
            done_part = {"type": "text", "text": part.text}
        events += state.emit.event("response.content_part.done", **at, part=done_part)
    item = _message(state, response, status)
    events += state.emit.event(
        "response.output_item.done", response_id=response.id, output_index=response.message_index, item=item
    )
    events += item_events(state, item, done=True)
    response.output.append(item)
    response.message_id, response.part = None, None
    return events


def function_call(state: Stage, call_id: str, name: str, arguments: str) -> list[Event]:
    """One function call as a whole `function_call` output item."""
    events = close_message(state, "completed") + open_response(state)
    response = state.response
    assert response is not None
    index = len(response.output)
    item: dict[str, Any] = {
        "id": state.ids.new("item"),
        "object": "realtime.item",
        "type": "function_call",
        "status": "in_progress",
        "name": name,
        "call_id": call_id,
        "arguments": "",
    }
    events += state.emit.event("response.output_item.added", response_id=response.id, output_index=index, item=item)
    events += item_events(state, item, done=False)
    at = {"response_id": response.id, "item_id": item["id"], "output_index": index, "call_id": call_id}
    events += state.emit.event("response.function_call_arguments.delta", **at, delta=arguments)
    events += state.emit.event("response.function_call_arguments.done", **at, name=name, arguments=arguments)
    item = {**item, "status": "completed", "arguments": arguments}
    events += state.emit.event("response.output_item.done", response_id=response.id, output_index=index, item=item)
    events += item_events(state, item, done=True)
    response.output.append(item)
    return events


def close_response(
    state: Stage, status: Status, reason: str | None = None, usage: dict[str, Any] | None = None
) -> list[Event]:
    """Every open part and item done, then `response.done` (with the response's `usage` when known)."""
    response = state.response
    if response is None:
        return []
    events = close_message(state, "completed" if status == "completed" else "incomplete")
    body = _response_object(state, response, status)
    body["output"] = response.output
    if status != "completed" or reason is not None:
        body["status_details"] = {"type": status, "reason": reason}
    if usage is not None:
        body["usage"] = usage
    state.response = None
    return events + state.emit.event("response.done", response=body)
