"""The event sequence of one OpenAI realtime response as Gemini's turn streams in: `response.created`, each
output item's `output_item.added` / `conversation.item.added` / `content_part.added`, the deltas, and the
`*.done` events down to `response.done`."""

from __future__ import annotations

import base64
from typing import Any, Literal

from babelgate.realtime.gemini_live.events import Event
from babelgate.realtime.gemini_live.state import LiveState, Part, ResponseState

Status = Literal["completed", "cancelled", "incomplete", "failed"]


def _response_object(state: LiveState, response: ResponseState, status: str) -> dict[str, Any]:
    settings = state.settings
    body: dict[str, Any] = {"id": response.id, "object": "realtime.response", "status": status, "output": []}
    if state.emit.dialect == "beta":
        body["modalities"] = ["audio", "text"] if settings.audio_out else ["text"]
    else:
        body["output_modalities"] = list(settings.output_modalities)
        body["conversation_id"] = state.session_id
    return body


def open_response(state: LiveState) -> list[Event]:
    """`response.created`, unless a response is open already."""
    if state.response is not None:
        return []
    state.response = ResponseState(id=state.ids.new("resp"))
    return state.emit.event("response.created", response=_response_object(state, state.response, "in_progress"))


def _item_events(state: LiveState, item: dict[str, Any], *, done: bool) -> list[Event]:
    previous = state.last_item_id
    state.last_item_id = item["id"]
    if done:
        return state.emit.event("conversation.item.done", previous_item_id=previous, item=item)
    return state.emit.event("conversation.item.added", previous_item_id=previous, item=item)


def _content(state: LiveState, part: Part) -> dict[str, Any]:
    beta = state.emit.dialect == "beta"
    if part.kind == "audio":
        return {"type": "audio" if beta else "output_audio", "transcript": part.text}
    return {"type": "text" if beta else "output_text", "text": part.text}


def _message(state: LiveState, response: ResponseState, status: str) -> dict[str, Any]:
    content = [_content(state, response.part)] if response.part is not None else []
    return {
        "id": response.message_id,
        "object": "realtime.item",
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def _where(response: ResponseState) -> dict[str, Any]:
    return {
        "response_id": response.id,
        "item_id": response.message_id,
        "output_index": response.message_index,
        "content_index": 0,
    }


def message_part(state: LiveState, kind: Literal["audio", "text"]) -> list[Event]:
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
        events += _item_events(state, item, done=False)
    if response.part is None:
        response.part = Part(kind)
        part: dict[str, Any] = {"type": "audio", "transcript": ""} if kind == "audio" else {"type": "text", "text": ""}
        events += state.emit.event("response.content_part.added", **_where(response), part=part)
    return events


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
        events += state.emit.event("response.output_audio.delta", **_where(state.response), delta=delta)
    return events


def _flush_audio(state: LiveState) -> list[Event]:
    tail = state.from_gemini.flush()
    response = state.response
    if not tail or response is None or response.part is None or response.part.kind != "audio":
        return []
    return state.emit.event("response.output_audio.delta", **_where(response), delta=base64.b64encode(tail).decode())


def text_delta(state: LiveState, text: str, *, transcript: bool) -> list[Event]:
    """Model text: the audio's transcript, or the text of a text response."""
    if not text:
        return []
    events = message_part(state, "audio" if transcript else "text")
    response = state.response
    assert response is not None and response.part is not None
    assert transcript == (response.part.kind == "audio")  # the callers keep to the session's one modality
    response.part.text += text
    kind = "response.output_audio_transcript.delta" if transcript else "response.output_text.delta"
    return events + state.emit.event(kind, **_where(response), delta=text)


def close_message(state: LiveState, status: Literal["completed", "incomplete"]) -> list[Event]:
    response = state.response
    if response is None or response.message_id is None:
        return []
    events = _flush_audio(state)
    part = response.part
    if part is not None:
        where = _where(response)
        if part.kind == "audio":
            events += state.emit.event("response.output_audio.done", **where)
            events += state.emit.event("response.output_audio_transcript.done", **where, transcript=part.text)
            done_part: dict[str, Any] = {"type": "audio", "transcript": part.text}
        else:
            events += state.emit.event("response.output_text.done", **where, text=part.text)
            done_part = {"type": "text", "text": part.text}
        events += state.emit.event("response.content_part.done", **where, part=done_part)
    item = _message(state, response, status)
    events += state.emit.event(
        "response.output_item.done", response_id=response.id, output_index=response.message_index, item=item
    )
    events += _item_events(state, item, done=True)
    response.output.append(item)
    response.message_id, response.part = None, None
    return events


def function_call(state: LiveState, call_id: str, name: str, arguments: str) -> list[Event]:
    """One Gemini function call as a whole `function_call` output item."""
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
    events += _item_events(state, item, done=False)
    where = {"response_id": response.id, "item_id": item["id"], "output_index": index, "call_id": call_id}
    events += state.emit.event("response.function_call_arguments.delta", **where, delta=arguments)
    events += state.emit.event("response.function_call_arguments.done", **where, name=name, arguments=arguments)
    item = {**item, "status": "completed", "arguments": arguments}
    events += state.emit.event("response.output_item.done", response_id=response.id, output_index=index, item=item)
    events += _item_events(state, item, done=True)
    response.output.append(item)
    return events


def close_response(state: LiveState, status: Status, reason: str | None = None) -> list[Event]:
    """Every open part and item done, then `response.done` (with the turn's usage where Gemini gave it)."""
    response = state.response
    if response is None:
        return []
    events = close_message(state, "completed" if status == "completed" else "incomplete")
    body = _response_object(state, response, status)
    body["output"] = response.output
    if status != "completed" or reason is not None:
        body["status_details"] = {"type": status, "reason": reason}
    usage = state.response_usage()
    if usage is not None:
        body["usage"] = usage.openai()
    state.response = None
    return events + state.emit.event("response.done", response=body)
