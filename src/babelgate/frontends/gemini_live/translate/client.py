"""Gemini Live client messages (`setup`, `realtimeInput`, `clientContent`, `toolResponse`) → OpenAI realtime
client events."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final

from babelgate.frontends.gemini_live.translate.state import ReverseState
from babelgate.realtime.gemini_live.audio import (
    OPENAI_RATE,
    AudioFormatError,
    Resampler,
    mime_format,
    resample,
)
from babelgate.realtime.gemini_live.events import Event, Translated
from babelgate.realtime.gemini_live.voices import openai_voice

TRANSCRIPTION_MODEL: Final = "gpt-4o-mini-transcribe"
_GENERATION_HANDLED: Final = frozenset({"responseModalities", "speechConfig", "maxOutputTokens"})
_SETUP_HANDLED: Final = frozenset(
    {
        "model",
        "generationConfig",
        "systemInstruction",
        "tools",
        "realtimeInputConfig",
        "inputAudioTranscription",
        "outputAudioTranscription",
    }
)
# Gemini's start-of-speech sensitivity as an OpenAI VAD threshold (a higher threshold wants louder speech).
_THRESHOLD: Final = {"START_SENSITIVITY_LOW": 0.7, "START_SENSITIVITY_HIGH": 0.3}


def _b64(data: Any) -> bytes:
    """Base64 in either alphabet: google-genai sends bytes URL-safe (`-_`), as Google's JSON mapping allows."""
    return base64.b64decode(data or "", altchars=b"-_", validate=True)


def _event(state: ReverseState, kind: str, **fields: Any) -> Event:
    return {"type": kind, "event_id": state.ids.new("event"), **fields}


def _texts(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = content.get("parts") if isinstance(content, dict) else None
    return "\n".join(
        part["text"] for part in parts or [] if isinstance(part, dict) and isinstance(part.get("text"), str)
    )


def json_schema(schema: Any) -> Any:
    """Google's OpenAPI-subset schema (`type: "OBJECT"`) as JSON Schema (`type: "object"`)."""
    if isinstance(schema, list):
        return [json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out[key] = value.lower()
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: json_schema(each) for name, each in value.items()}
        elif key in ("items", "anyOf"):
            out[key] = json_schema(value)
        elif key == "nullable":
            continue  # JSON Schema says it with the type; Gemini's own `nullable` has no place in it
        else:
            out[key] = value
    return out


def _tools(tools: Any, problems: list[str]) -> list[dict[str, Any]]:
    out = []
    for tool in tools if isinstance(tools, list) else []:
        for key in sorted(set(tool) - {"functionDeclarations"}):
            problems.append(f"Gemini tool {key!r} has no OpenAI realtime equivalent, left out")
        for declaration in tool.get("functionDeclarations") or []:
            function: dict[str, Any] = {"type": "function", "name": declaration.get("name", "")}
            if declaration.get("description"):
                function["description"] = declaration["description"]
            if "parametersJsonSchema" in declaration:
                function["parameters"] = declaration["parametersJsonSchema"]
            elif "parameters" in declaration:
                function["parameters"] = json_schema(declaration["parameters"])
            out.append(function)
    return out


def _turn_detection(config: Any, problems: list[str]) -> dict[str, Any] | None:
    config = config if isinstance(config, dict) else {}
    activity = config.get("automaticActivityDetection") or {}
    if activity.get("disabled"):
        return None
    detection: dict[str, Any] = {"type": "server_vad", "create_response": True, "interrupt_response": True}
    if activity.get("startOfSpeechSensitivity") in _THRESHOLD:
        detection["threshold"] = _THRESHOLD[activity["startOfSpeechSensitivity"]]
    for name, key in (("prefixPaddingMs", "prefix_padding_ms"), ("silenceDurationMs", "silence_duration_ms")):
        if isinstance(activity.get(name), int):
            detection[key] = activity[name]
    if activity.get("endOfSpeechSensitivity") not in (None, "END_SENSITIVITY_UNSPECIFIED"):
        problems.append("endOfSpeechSensitivity has no OpenAI server VAD equivalent: silenceDurationMs sets it")
    if config.get("activityHandling") == "NO_INTERRUPTION":
        detection["interrupt_response"] = False
    if config.get("turnCoverage") not in (None, "TURN_COVERAGE_UNSPECIFIED"):
        problems.append("turnCoverage has no OpenAI realtime equivalent, ignored")
    return detection


def setup(state: ReverseState, body: dict[str, Any]) -> Translated:
    if state.setup_done or state.setup_pending:
        return Translated(warnings=["a second setup message: Gemini Live takes one, at the start"])
    problems = [
        f"setup field {key!r} has no OpenAI realtime equivalent, ignored" for key in sorted(set(body) - _SETUP_HANDLED)
    ]
    state.model = body.get("model") if isinstance(body.get("model"), str) else None
    generation = body.get("generationConfig") or {}
    problems += [
        f"generationConfig.{key} has no OpenAI realtime equivalent, ignored"
        for key in sorted(set(generation) - _GENERATION_HANDLED)
    ]
    modalities = [str(item).upper() for item in generation.get("responseModalities") or ["AUDIO"]]
    audio_out = "AUDIO" in modalities
    state.input_transcripts = isinstance(body.get("inputAudioTranscription"), dict)
    state.output_transcripts = isinstance(body.get("outputAudioTranscription"), dict)
    output: dict[str, Any] = {"format": {"type": "audio/pcm", "rate": OPENAI_RATE}}
    voice = ((generation.get("speechConfig") or {}).get("voiceConfig") or {}).get("prebuiltVoiceConfig") or {}
    if isinstance(voice.get("voiceName"), str):
        output["voice"], known = openai_voice(voice["voiceName"])
        if not known:
            problems.append(f"Gemini voice {voice['voiceName']!r} has no OpenAI counterpart: {output['voice']} speaks")
    audio_input: dict[str, Any] = {
        "format": {"type": "audio/pcm", "rate": OPENAI_RATE},
        "turn_detection": _turn_detection(body.get("realtimeInputConfig"), problems),
    }
    if state.input_transcripts:
        audio_input["transcription"] = {"model": TRANSCRIPTION_MODEL}
    session: dict[str, Any] = {
        "type": "realtime",
        "output_modalities": ["audio" if audio_out else "text"],
        "audio": {"input": audio_input, "output": output},
    }
    instructions = _texts(body.get("systemInstruction"))
    if instructions:
        session["instructions"] = instructions
    tools = _tools(body.get("tools"), problems)
    if tools:
        session["tools"], session["tool_choice"] = tools, "auto"
    if isinstance(generation.get("maxOutputTokens"), int):
        session["max_output_tokens"] = generation["maxOutputTokens"]
    state.setup_pending = True
    return Translated(upstream=[_event(state, "session.update", session=session)], warnings=problems)


def _audio(state: ReverseState, blob: Any) -> Translated:
    """A Gemini audio blob as `input_audio_buffer.append` at OpenAI's 24 kHz."""
    if not isinstance(blob, dict):
        return Translated(warnings=["realtimeInput audio without a blob"])
    try:
        fmt = mime_format(blob.get("mimeType") or "audio/pcm", 16000)
        data = _b64(blob.get("data"))
    except (AudioFormatError, binascii.Error, ValueError) as error:
        return Translated(warnings=[f"realtimeInput audio dropped: {error}"])
    if fmt.encoding != "pcm16":
        return Translated(warnings=[f"realtimeInput audio as {blob.get('mimeType')} is not PCM: dropped"])
    if state.resampler is None or state.input_rate != fmt.rate:
        state.input_rate, state.resampler = fmt.rate, Resampler(fmt.rate, OPENAI_RATE)
    pcm = state.resampler.feed(data)
    if not pcm:
        return Translated()
    return Translated(upstream=[_event(state, "input_audio_buffer.append", audio=base64.b64encode(pcm).decode())])


def _respond(state: ReverseState) -> list[Event]:
    """`response.create`, or held until the running response is done (OpenAI takes one at a time)."""
    if state.response_active:
        state.response_create_held = True
        return []
    return [_event(state, "response.create")]


def realtime_input(state: ReverseState, body: dict[str, Any]) -> Translated:
    out = Translated()
    if "audio" in body:
        out.extend(_audio(state, body["audio"]))
    for chunk in body.get("mediaChunks") or []:
        if isinstance(chunk, dict) and str(chunk.get("mimeType", "")).startswith("audio/"):
            out.extend(_audio(state, chunk))
        else:
            out.warnings.append("realtimeInput mediaChunks other than audio are not supported: dropped")
    if body.get("video") is not None:
        out.warnings.append("realtimeInput video is not supported on OpenAI realtime: dropped")
    if isinstance(body.get("text"), str) and body["text"]:
        content = [{"type": "input_text", "text": body["text"]}]
        item = {"type": "message", "role": "user", "content": content}
        out.upstream.append(_event(state, "conversation.item.create", item=item))
        out.upstream += _respond(state)
    if body.get("activityStart") is not None and state.response_active:
        # Gemini's default on a manual turn's start: the answer being spoken stops.
        out.upstream.append(_event(state, "response.cancel"))
        out.client.append({"serverContent": {"interrupted": True}})
    if body.get("activityEnd") is not None or body.get("audioStreamEnd"):
        tail = state.resampler.flush() if state.resampler is not None else b""
        if tail:
            out.upstream.append(_event(state, "input_audio_buffer.append", audio=base64.b64encode(tail).decode()))
        out.upstream.append(_event(state, "input_audio_buffer.commit"))
        if body.get("activityEnd") is not None:
            out.upstream += _respond(state)  # a manual turn's end asks for the answer, as Gemini answers it
    return out


def _content_part(part: dict[str, Any], role: str) -> dict[str, Any] | str:
    if isinstance(part.get("text"), str):
        return {"type": "input_text" if role == "user" else "output_text", "text": part["text"]}
    blob = part.get("inlineData")
    if isinstance(blob, dict) and role == "user":
        mime = str(blob.get("mimeType", ""))
        if mime.startswith("image/"):
            # A data URL's base64 is the standard alphabet: URL-safe data is spelled again in it.
            standard = str(blob.get("data", "")).replace("-", "+").replace("_", "/")
            return {"type": "input_image", "image_url": f"data:{mime};base64,{standard}"}
        if mime.startswith("audio/"):
            try:
                fmt = mime_format(mime, 16000)
                data = _b64(blob.get("data"))
            except (AudioFormatError, binascii.Error, ValueError) as error:
                return f"audio part: {error}"
            audio = resample(data, fmt.rate, OPENAI_RATE) if fmt.encoding == "pcm16" else b""
            if not audio:
                return f"audio part as {mime} is not PCM"
            return {"type": "input_audio", "audio": base64.b64encode(audio).decode()}
    return f"part with {', '.join(sorted(part))} has no OpenAI realtime equivalent"


def client_content(state: ReverseState, body: dict[str, Any]) -> Translated:
    out = Translated()
    turns = body.get("turns") or []
    for turn in [turns] if isinstance(turns, dict) else turns:
        role = "user" if turn.get("role", "user") == "user" else "assistant"
        content = []
        for part in turn.get("parts") or []:
            mapped = _content_part(part, role) if isinstance(part, dict) else "a part that is not an object"
            if isinstance(mapped, str):
                out.warnings.append(f"clientContent: {mapped}: dropped")
            else:
                content.append(mapped)
        if content:
            item = {"type": "message", "role": role, "content": content}
            out.upstream.append(_event(state, "conversation.item.create", item=item))
    if body.get("turnComplete"):
        out.upstream += _respond(state)
    return out


def tool_response(state: ReverseState, body: dict[str, Any]) -> Translated:
    out = Translated()
    for response in body.get("functionResponses") or []:
        output = json.dumps(response.get("response", {}), ensure_ascii=False, separators=(",", ":"))
        item = {"type": "function_call_output", "call_id": response.get("id") or "", "output": output}
        out.upstream.append(_event(state, "conversation.item.create", item=item))
        if not response.get("id"):
            out.warnings.append(f"functionResponse for {response.get('name')!r} has no id: OpenAI cannot match it")
    if out.upstream:
        out.upstream += _respond(state)  # Gemini goes on from tool responses by itself; OpenAI is asked to
    return out
