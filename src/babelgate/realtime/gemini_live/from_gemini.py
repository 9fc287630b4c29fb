"""Gemini Live server messages → OpenAI realtime server events."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final

from babelgate.realtime.gemini_live.audio import GEMINI_OUTPUT_RATE, AudioFormatError, duration_ms, mime_format
from babelgate.realtime.gemini_live.events import Event, Translated
from babelgate.realtime.gemini_live.response import (
    audio_delta,
    close_response,
    function_call,
    open_response,
    text_delta,
)
from babelgate.realtime.gemini_live.state import LiveState, UserTurn
from babelgate.realtime.gemini_live.to_gemini import user_audio_item
from babelgate.realtime.gemini_live.usage import Usage


def _get(message: dict[str, Any], camel: str) -> Any:
    """A field in either spelling: Gemini sends camelCase, a proxy or SDK dump may not."""
    if camel in message:
        return message[camel]
    snake = "".join(f"_{letter.lower()}" if letter.isupper() else letter for letter in camel)
    return message.get(snake)


def setup_complete(state: LiveState) -> Translated:
    if not state.announce_on_setup:
        return Translated()
    state.announce_on_setup = False
    session = state.settings.openai(state.session_id, state.emit.dialect)
    return Translated(client=state.emit.event("session.updated", session=session))


def _speech_started(state: LiveState) -> list[Event]:
    """The user's turn, first heard (Gemini says nothing of speech starting: its first sign of the turn is it)."""
    if state.user is not None or not state.settings.server_vad or state.input_bytes == state.turn_start_bytes:
        return []
    fmt = state.settings.input_format
    state.user = UserTurn(item_id=state.ids.new("item"), start_ms=duration_ms(state.turn_start_bytes, fmt))
    started = {"audio_start_ms": state.user.start_ms, "item_id": state.user.item_id}
    return state.emit.event("input_audio_buffer.speech_started", **started)


def _commit_user(state: LiveState) -> list[Event]:
    """Before the model answers: the user's turn ends and becomes an item, as OpenAI's server VAD would have it."""
    events = _speech_started(state)
    user = state.user
    if user is None or user.committed:
        return events
    user.committed = True
    state.turn_start_bytes = state.input_bytes
    end_ms = duration_ms(state.input_bytes, state.settings.input_format)
    events += state.emit.event("input_audio_buffer.speech_stopped", audio_end_ms=end_ms, item_id=user.item_id)
    events += user_audio_item(state, user)
    return events + _transcript_delta(state, user, "")


def _transcript_delta(state: LiveState, user: UserTurn, text: str) -> list[Event]:
    user.transcript += text
    if not user.committed:
        user.unsent += text
        return []
    text, user.unsent = user.unsent + text, ""
    if not text:
        return []
    return state.emit.event(
        "conversation.item.input_audio_transcription.delta", item_id=user.item_id, content_index=0, delta=text
    )


def _transcript_done(state: LiveState) -> list[Event]:
    user = state.user
    if user is None or not user.committed:
        return []
    state.user = None
    if state.settings.transcription is None:
        return []
    end_ms = duration_ms(state.input_bytes, state.settings.input_format)
    seconds = max(end_ms - user.start_ms, 0) / 1000
    return state.emit.event(
        "conversation.item.input_audio_transcription.completed",
        item_id=user.item_id,
        content_index=0,
        transcript=user.transcript,
        usage={"type": "duration", "seconds": seconds},
    )


def _model_output(state: LiveState) -> list[Event]:
    """What comes before the model's output: the user's turn committed."""
    return _commit_user(state)


def _model_turn(state: LiveState, turn: dict[str, Any], out: Translated) -> None:
    for part in _get(turn, "parts") or []:
        if not isinstance(part, dict):
            continue
        blob = _get(part, "inlineData")
        if isinstance(blob, dict):
            mime = _get(blob, "mimeType") or ""
            try:
                fmt = mime_format(mime, GEMINI_OUTPUT_RATE)
                pcm = base64.b64decode(_get(blob, "data") or "", validate=True)
            except (AudioFormatError, binascii.Error, ValueError) as error:
                out.warnings.append(f"Gemini sent inline data the client cannot be given: {error}")
                continue
            if fmt.encoding != "pcm16" or not state.settings.audio_out:
                out.warnings.append(f"Gemini sent audio ({mime}) the client did not ask for: dropped")
                continue
            out.client += _model_output(state) + audio_delta(state, pcm, fmt.rate)
        elif isinstance(part.get("text"), str):
            if part.get("thought"):
                continue  # thoughts are the model's own notes, which OpenAI's realtime shape has no place for
            if state.settings.audio_out:
                # An audio answer's words come as outputTranscription; text beside the audio is not spoken.
                out.warnings.append("Gemini sent text in an audio response: not part of the spoken answer, dropped")
                continue
            out.client += _model_output(state) + text_delta(state, part["text"], transcript=False)
        else:
            names = ", ".join(sorted(part))
            out.warnings.append(f"Gemini model part with {names} has no OpenAI realtime event: dropped")


_CONTENT_READ: Final = frozenset(
    {"modelTurn", "turnComplete", "interrupted", "inputTranscription", "outputTranscription"}
    | {"generationComplete", "turnCompleteReason", "waitingForInput"}  # nothing for the client in these
)


def _server_content(state: LiveState, content: dict[str, Any], out: Translated) -> None:
    for key in sorted(content):
        camel = key.split("_")[0] + "".join(word.title() for word in key.split("_")[1:])
        if camel not in _CONTENT_READ:
            out.warnings.append(f"Gemini serverContent.{key} has no OpenAI realtime event: dropped")
    heard = _get(content, "inputTranscription")
    if isinstance(heard, dict):
        out.client += _speech_started(state)
        if state.user is not None:
            out.client += _transcript_delta(state, state.user, _get(heard, "text") or "")
            if _get(heard, "finished"):  # Gemini heard the whole utterance: the user's turn is over
                out.client += _commit_user(state) + _transcript_done(state)
    if _get(content, "interrupted"):
        # The user spoke over the model: their earlier turn is over and a new one has begun.
        out.client += _transcript_done(state) + _speech_started(state)
        was_discarding, state.discarding = state.discarding, False
        if not was_discarding:
            out.client += close_response(state, "cancelled", "turn_detected")
        return
    if not state.discarding:
        turn = _get(content, "modelTurn")
        if isinstance(turn, dict):
            _model_turn(state, turn, out)
        said = _get(content, "outputTranscription")
        if isinstance(said, dict) and _get(said, "text"):
            if state.settings.audio_out:
                out.client += _model_output(state) + text_delta(state, _get(said, "text"), transcript=True)
            else:
                out.warnings.append("Gemini sent an audio transcript in a text response: dropped")
    if _get(content, "turnComplete"):
        if state.discarding:
            state.discarding = False
        else:
            out.client += _commit_user(state) + open_if_empty(state)
            out.client += close_response(state, "completed")
        out.client += _transcript_done(state)
        state.fold_usage()
        state.reply_coming = False


def open_if_empty(state: LiveState) -> list[Event]:
    """A turn Gemini ended without output still gets its (empty) response, as a client that asked waits for it."""
    return open_response(state) if state.response is None and state.reply_coming else []


def _tool_call(state: LiveState, call: dict[str, Any], out: Translated) -> None:
    if state.discarding:
        # The client will never answer a call it was not shown; Gemini is told, not left waiting for it.
        responses = [
            {"id": _get(each, "id"), "name": _get(each, "name"), "response": {"error": "cancelled by the client"}}
            for each in _get(call, "functionCalls") or []
        ]
        out.upstream.append({"toolResponse": {"functionResponses": responses}})
        out.warnings.append("Gemini called a function after the client cancelled the response: answered cancelled")
        return
    out.client += _model_output(state)
    for each in _get(call, "functionCalls") or []:
        call_id = _get(each, "id") or state.ids.new("call")
        name = _get(each, "name") or ""
        state.call_names[call_id] = name
        arguments = json.dumps(_get(each, "args") or {}, ensure_ascii=False, separators=(",", ":"))
        out.client += function_call(state, call_id, name, arguments)
    # Gemini waits for the tool responses without ending its turn; an OpenAI client waits for `response.done`.
    out.client += close_response(state, "completed")


def server_message(state: LiveState, message: dict[str, Any]) -> Translated:
    out = Translated()
    usage = _get(message, "usageMetadata")
    if isinstance(usage, dict):
        state.turn_usage = Usage.from_gemini(usage)  # first: it usually rides on the message that ends the turn
    if _get(message, "setupComplete") is not None:
        out.extend(setup_complete(state))
    content = _get(message, "serverContent")
    if isinstance(content, dict):
        _server_content(state, content, out)
    call = _get(message, "toolCall")
    if isinstance(call, dict):
        _tool_call(state, call, out)
    cancelled = _get(message, "toolCallCancellation")
    if isinstance(cancelled, dict):
        ids = ", ".join(_get(cancelled, "ids") or [])
        text = f"Gemini withdrew the function calls {ids}: their results are no longer wanted"
        out.client.append(state.emit.error(text, code="tool_call_cancelled", kind="gateway_warning"))
        out.warnings.append(text)
    away = _get(message, "goAway")
    if isinstance(away, dict):
        text = f"Gemini will end this session in {_get(away, 'timeLeft') or 'a short while'}; reconnect to go on"
        out.client.append(state.emit.error(text, code="session_ending", kind="server_error"))
        out.warnings.append(text)
    known = {"usageMetadata", "setupComplete", "serverContent", "toolCall", "toolCallCancellation", "goAway"}
    for key in sorted(message):
        camel = key.split("_")[0] + "".join(word.title() for word in key.split("_")[1:])
        if camel not in known:
            out.warnings.append(f"Gemini message field {key!r} has no OpenAI realtime event: dropped")
    return out
