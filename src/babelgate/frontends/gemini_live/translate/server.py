"""OpenAI realtime server events → Gemini Live server messages."""

from __future__ import annotations

import json
from typing import Any, Final

from babelgate.frontends.gemini_live.translate.state import ReverseState
from babelgate.realtime.gemini_live.audio import OPENAI_RATE
from babelgate.realtime.gemini_live.events import GA_NAMES, Event, Translated
from babelgate.realtime.gemini_live.usage import Usage

# Events whose news a Gemini client gets otherwise, or not at all: nothing to send for them.
_QUIET: Final = frozenset(
    {
        "session.created",
        "conversation.created",
        "conversation.item.added",
        "conversation.item.created",
        "conversation.item.done",
        "conversation.item.retrieved",
        "conversation.item.truncated",
        "conversation.item.deleted",
        "conversation.item.input_audio_transcription.segment",
        "input_audio_buffer.committed",
        "input_audio_buffer.cleared",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.timeout_triggered",
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_text.done",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.function_call_arguments.delta",
        "rate_limits.updated",
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
        "output_audio_buffer.cleared",
    }
)
_AUDIO_MIME: Final = f"audio/pcm;rate={OPENAI_RATE}"


def _content(**fields: Any) -> Event:
    return {"serverContent": fields}


def server_event(state: ReverseState, event: dict[str, Any]) -> Translated:
    kind = str(event.get("type", ""))
    kind = GA_NAMES.get(kind, kind)
    out = Translated()
    if kind == "session.updated":
        if state.setup_pending:
            state.setup_pending, state.setup_done = False, True
            out.client.append({"setupComplete": {}})
    elif kind == "response.created":
        state.response_active, state.response_had_content = True, False
    elif kind == "response.output_audio.delta":
        state.response_had_content = True
        part = {"inlineData": {"mimeType": _AUDIO_MIME, "data": event.get("delta", "")}}
        out.client.append(_content(modelTurn={"role": "model", "parts": [part]}))
    elif kind == "response.output_text.delta":
        state.response_had_content = True
        out.client.append(_content(modelTurn={"role": "model", "parts": [{"text": event.get("delta", "")}]}))
    elif kind == "response.output_audio_transcript.delta":
        if state.output_transcripts and event.get("delta"):
            out.client.append(_content(outputTranscription={"text": event["delta"]}))
    elif kind == "conversation.item.input_audio_transcription.delta":
        if state.input_transcripts and event.get("delta"):
            state.transcribed_items.add(str(event.get("item_id")))
            out.client.append(_content(inputTranscription={"text": event["delta"]}))
    elif kind == "conversation.item.input_audio_transcription.completed":
        streamed = str(event.get("item_id")) in state.transcribed_items
        state.transcribed_items.discard(str(event.get("item_id")))
        if state.input_transcripts and not streamed and event.get("transcript"):
            out.client.append(_content(inputTranscription={"text": event["transcript"], "finished": True}))
    elif kind == "input_audio_buffer.speech_started":
        if state.response_active:
            out.client.append(_content(interrupted=True))  # the user spoke over the model: Gemini's barge-in
    elif kind == "response.function_call_arguments.done":
        out.extend(_tool_call(event))
    elif kind == "response.done":
        out.extend(_response_done(state, event.get("response") or {}))
    elif kind == "error":
        error = event.get("error") or {}
        out.warnings.append(f"OpenAI realtime error {error.get('code') or error.get('type')}: {error.get('message')}")
    elif kind == "conversation.item.input_audio_transcription.failed":
        out.warnings.append(f"input transcription failed: {(event.get('error') or {}).get('message')}")
    elif kind not in _QUIET:
        out.warnings.append(f"OpenAI realtime event {kind!r} has no Gemini Live message: dropped")
    return out


def _tool_call(event: dict[str, Any]) -> Translated:
    try:
        args = json.loads(event.get("arguments") or "{}")
    except ValueError:
        return Translated(warnings=[f"function call {event.get('name')!r} came with arguments that are not JSON"])
    call = {
        "id": event.get("call_id", ""),
        "name": event.get("name", ""),
        "args": args if isinstance(args, dict) else {"value": args},  # Gemini's args are always an object
    }
    return Translated(client=[{"toolCall": {"functionCalls": [call]}}])


def _response_done(state: ReverseState, response: dict[str, Any]) -> Translated:
    out = Translated()
    state.response_active = False
    usage = Usage.from_openai(response["usage"]) if isinstance(response.get("usage"), dict) else None
    if usage is not None:
        state.usage.add(usage)
    status = response.get("status")
    if status in ("failed", "incomplete"):
        out.warnings.append(f"OpenAI response {status}: {response.get('status_details')}")
    if state.response_had_content or status != "completed":
        if status == "completed":
            out.client.append(_content(generationComplete=True))
        message: Event = _content(turnComplete=True)
    else:
        message = {}  # a response of function calls only: Gemini's turn goes on after the tool responses
    if usage is not None:
        message["usageMetadata"] = usage.gemini()
    if message:
        out.client.append(message)
    if state.response_create_held:
        state.response_create_held = False
        out.upstream.append({"type": "response.create", "event_id": state.ids.new("event")})
    return out
