"""OpenAI realtime client events → Gemini Live client messages (and the acknowledgements the client gets here,
since Gemini has no such events)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final

from babelgate.realtime.gemini_live.audio import GEMINI_INPUT_RATE, ToPcm, duration_ms
from babelgate.realtime.gemini_live.events import Event, Translated
from babelgate.realtime.gemini_live.response import close_response
from babelgate.realtime.gemini_live.state import LiveState, UserTurn

MAX_MANUAL_AUDIO: Final = 15 * 1024 * 1024  # OpenAI's own cap on the input audio buffer
_CHUNK: Final = GEMINI_INPUT_RATE * 2  # a manual turn goes upstream a second of audio per message
_INPUT_MIME: Final = f"audio/pcm;rate={GEMINI_INPUT_RATE}"
_RESPONSE_FIELDS_HERE: Final = frozenset({"conversation", "metadata"})


def _audio_message(pcm: bytes) -> Event:
    return {"realtimeInput": {"audio": {"mimeType": _INPUT_MIME, "data": base64.b64encode(pcm).decode()}}}


def _refuse(state: LiveState, event: Event, message: str, code: str) -> Translated:
    about = event.get("event_id") if isinstance(event.get("event_id"), str) else None
    return Translated(client=[state.emit.error(message, code=code, about=about)], warnings=[message])


def _note(state: LiveState, event: Event, message: str) -> Translated:
    """Done, but not all of it: the client is told with a non-fatal `error` of type `gateway_warning`."""
    about = event.get("event_id") if isinstance(event.get("event_id"), str) else None
    error = state.emit.error(message, code="not_translated", kind="gateway_warning", about=about)
    return Translated(client=[error], warnings=[message])


def append_audio(state: LiveState, event: Event) -> Translated:
    try:
        data = base64.b64decode(event.get("audio") or "", validate=True)
    except (binascii.Error, ValueError):
        return _refuse(state, event, "input_audio_buffer.append: audio is not valid base64", "invalid_value")
    if state.settings.server_vad:
        state.input_bytes += len(data)
        pcm = state.to_gemini.feed(data)
        return Translated(upstream=[_audio_message(pcm)] if pcm else [])
    if state.manual_bytes + len(data) > MAX_MANUAL_AUDIO:
        return _refuse(state, event, "the input audio buffer is full (15 MiB); commit or clear it", "buffer_full")
    state.manual_bytes += len(data)
    state.manual_audio += state.to_gemini.feed(data)
    return Translated()


def commit_audio(state: LiveState, event: Event) -> Translated:
    if state.settings.server_vad:
        # Gemini's detection holds the turn; the end of the stream is how to make it answer what it has.
        return Translated(upstream=[{"realtimeInput": {"audioStreamEnd": True}}])
    if not state.manual_bytes:
        return _refuse(state, event, "the input audio buffer is empty", "input_audio_buffer_commit_empty")
    pcm = bytes(state.manual_audio) + state.to_gemini.flush()
    start_ms = duration_ms(state.input_bytes, state.settings.input_format)
    state.input_bytes += state.manual_bytes
    state.manual_audio.clear()
    state.manual_bytes = 0
    upstream: list[Event] = [{"realtimeInput": {"activityStart": {}}}]
    upstream += [_audio_message(pcm[at : at + _CHUNK]) for at in range(0, len(pcm), _CHUNK)]
    upstream.append({"realtimeInput": {"activityEnd": {}}})
    state.reply_coming = state.answered_unasked = True
    state.user = UserTurn(item_id=state.ids.new("item"), start_ms=start_ms, committed=True)
    return Translated(upstream=upstream, client=user_audio_item(state, state.user))


def user_audio_item(state: LiveState, user: UserTurn) -> list[Event]:
    """`input_audio_buffer.committed` and the user's audio item."""
    previous = state.last_item_id
    state.last_item_id = user.item_id
    item = {
        "id": user.item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    events = state.emit.event("input_audio_buffer.committed", previous_item_id=previous, item_id=user.item_id)
    events += state.emit.event("conversation.item.added", previous_item_id=previous, item=item)
    return events + state.emit.event("conversation.item.done", previous_item_id=previous, item=item)


def clear_audio(state: LiveState, event: Event) -> Translated:
    cleared = state.emit.event("input_audio_buffer.cleared")
    if not state.settings.server_vad:
        state.manual_audio.clear()
        state.manual_bytes = 0
        state.to_gemini = ToPcm(state.settings.input_format, GEMINI_INPUT_RATE)
        return Translated(client=cleared)
    note = _note(state, event, "with server VAD the audio is already streamed to Gemini, which cannot unhear it")
    return Translated(client=cleared).extend(note)


def _part(state: LiveState, content: dict[str, Any]) -> dict[str, Any] | str:
    """One content item as a Gemini part, or why it cannot be one."""
    kind = content.get("type")
    if kind in ("input_text", "text", "output_text"):
        return {"text": content.get("text") or ""}
    if kind == "input_audio":
        try:
            audio = base64.b64decode(content.get("audio") or "", validate=True)
        except (binascii.Error, ValueError):
            return "input_audio: audio is not valid base64"
        if not audio:
            return {"text": content.get("transcript") or ""}
        converter = ToPcm(state.settings.input_format, GEMINI_INPUT_RATE)
        pcm = converter.feed(audio) + converter.flush()
        return {"inlineData": {"mimeType": _INPUT_MIME, "data": base64.b64encode(pcm).decode()}}
    if kind == "input_image":
        url = content.get("image_url") or ""
        head, _, data = url.partition(",")
        if head.startswith("data:") and head.endswith(";base64"):
            return {"inlineData": {"mimeType": head[5:-7], "data": data}}
        return "input_image needs a base64 data: URL"
    return f"content of type {kind!r} is not supported"


def create_item(state: LiveState, event: Event) -> Translated:
    item = event.get("item")
    if not isinstance(item, dict):
        return _refuse(state, event, "conversation.item.create needs an item", "missing_required_parameter")
    item = {"object": "realtime.item", **item, "id": item.get("id") or state.ids.new("item")}
    kind, role = item.get("type"), item.get("role")
    out = Translated()
    if kind == "function_call_output":
        call_id = item.get("call_id") or ""
        response: dict[str, Any] = {"id": call_id, "response": _tool_result(item.get("output"))}
        if call_id in state.call_names:
            response["name"] = state.call_names.pop(call_id)
        out.upstream.append({"toolResponse": {"functionResponses": [response]}})
        state.reply_coming = state.answered_unasked = True  # Gemini goes on from a tool response by itself
    elif kind == "message" and role in ("user", "assistant"):
        parts: list[dict[str, Any]] = []
        for content in item.get("content") or []:
            part = _part(state, content) if isinstance(content, dict) else "content items must be objects"
            if isinstance(part, str):
                return _refuse(state, event, f"conversation.item.create: {part}", "invalid_value")
            parts.append(part)
        turn = {"role": "user" if role == "user" else "model", "parts": parts}
        out.upstream.append({"clientContent": {"turns": [turn], "turnComplete": False}})
        state.pending_text = True
    elif kind == "message" and role == "system":
        return _refuse(
            state, event, "Gemini Live takes instructions only at setup: system messages cannot be added", "unsupported"
        )
    else:
        return _refuse(state, event, f"conversation items of type {kind!r} cannot be added on Gemini", "unsupported")
    item.setdefault("status", "completed")
    asked = event.get("previous_item_id")
    if asked and asked != state.last_item_id:
        out.warnings.append("conversation.item.create: Gemini adds to the end, previous_item_id is not followed")
    previous = asked or state.last_item_id
    state.last_item_id = item["id"]
    out.client += state.emit.event("conversation.item.added", previous_item_id=previous, item=item)
    out.client += state.emit.event("conversation.item.done", previous_item_id=previous, item=item)
    return out


def _tool_result(output: Any) -> dict[str, Any]:
    """A function's output as Gemini's `response` object: a JSON object as is, anything else under `output`."""
    if isinstance(output, str):
        try:
            parsed = json.loads(output)
        except ValueError:
            return {"output": output}
        return parsed if isinstance(parsed, dict) else {"output": parsed}
    return {"output": output}


def create_response(state: LiveState, event: Event) -> Translated:
    params: dict[str, Any] = event["response"] if isinstance(event.get("response"), dict) else {}
    out = Translated()
    if state.response is not None:
        text = "a response is in progress: wait for its response.done or cancel it"
        return _refuse(state, event, text, "conversation_already_has_active_response")
    if params.get("conversation") == "none":
        text = "out-of-band responses (conversation: none) are not possible on Gemini"
        return _refuse(state, event, text, "unsupported")
    ignored = sorted(set(params) - _RESPONSE_FIELDS_HERE)
    if ignored:
        out.extend(_note(state, event, f"per-response settings are not possible on Gemini Live: {', '.join(ignored)}"))
    if state.pending_text or not (state.reply_coming or state.answered_unasked):
        out.upstream.append({"clientContent": {"turnComplete": True}})
        state.pending_text, state.reply_coming = False, True
    state.answered_unasked = False
    return out


def cancel_response(state: LiveState, event: Event) -> Translated:
    if state.response is None:
        return _refuse(state, event, "there is no response in progress to cancel", "response_cancel_not_active")
    # Gemini has no cancel: the response ends here for the client and the rest of Gemini's turn is dropped.
    state.discarding = True
    return Translated(client=close_response(state, "cancelled", "client_cancelled"))


def truncate_item(state: LiveState, event: Event) -> Translated:
    out = Translated(
        client=state.emit.event(
            "conversation.item.truncated",
            item_id=event.get("item_id") or "",
            content_index=event.get("content_index") or 0,
            audio_end_ms=event.get("audio_end_ms") or 0,
        )
    )
    out.warnings.append("conversation.item.truncate acknowledged; Gemini keeps its own record of what it said")
    return out
