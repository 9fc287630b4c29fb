"""A whole OpenAI realtime session on a Gemini Live model, scripted both ways: the Gemini messages the client's
events make, and the OpenAI events Gemini's messages make, each checked against the SDKs' types."""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

import pytest

from babelgate.realtime.gemini_live import OpenAIToLive, Translated, to_gemini
from tests.unit.realtime.live_checks import gemini_client_message
from tests.unit.realtime.session_script import check_stream, types


def _tone(rate: int, seconds: float) -> bytes:
    count = int(rate * seconds)
    return struct.pack(f"<{count}h", *(round(8000 * math.sin(2 * math.pi * 300 * n / rate)) for n in range(count)))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Run:
    """Feeds a translator and keeps every event and message, checking the upstream ones as they come."""

    def __init__(self, translator: OpenAIToLive) -> None:
        self.translator = translator
        self.client: list[dict[str, Any]] = []
        self.upstream: list[dict[str, Any]] = []
        self.warnings: list[str] = []

    def _keep(self, out: Translated) -> Translated:
        for message in out.upstream:
            gemini_client_message(message)
        self.client += out.client
        self.upstream += out.upstream
        self.warnings += out.warnings
        return out

    def send(self, event: dict[str, Any]) -> Translated:
        return self._keep(self.translator.client_event(event))

    def hear(self, message: dict[str, Any]) -> Translated:
        return self._keep(self.translator.server_message(message))


SESSION = {
    "type": "realtime",
    "instructions": "Answer briefly.",
    "output_modalities": ["audio"],
    "audio": {
        "input": {"format": {"type": "audio/pcm", "rate": 24000}, "transcription": {"model": "gpt-4o-transcribe"}},
        "output": {"voice": "alloy", "format": {"type": "audio/pcm", "rate": 24000}},
    },
    "tools": [
        {
            "type": "function",
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }
    ],
    "tool_choice": "auto",
    "max_output_tokens": 800,
}
USAGE = {
    "promptTokenCount": 120,
    "responseTokenCount": 60,
    "totalTokenCount": 180,
    "cachedContentTokenCount": 20,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 70}, {"modality": "AUDIO", "tokenCount": 50}],
    "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 55}, {"modality": "TEXT", "tokenCount": 5}],
}


def _session(dialect: str) -> Run:
    run = Run(OpenAIToLive("gemini-live-2.5-flash-preview", dialect=dialect, tag="t"))  # type: ignore[arg-type]
    run._keep(run.translator.opening())
    update = SESSION if dialect == "ga" else _beta_session()
    setup = run.send({"type": "session.update", "session": update})
    assert len(setup.upstream) == 1 and setup.warnings == []
    body = setup.upstream[0]["setup"]
    assert body["model"] == "models/gemini-live-2.5-flash-preview"
    assert body["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"] == "Kore"
    assert body["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert body["systemInstruction"] == {"parts": [{"text": "Answer briefly."}]}
    assert body["inputAudioTranscription"] == {} and body["outputAudioTranscription"] == {}
    assert run.hear({"setupComplete": {}}).client[0]["type"] == "session.updated"
    return run


def _beta_session() -> dict[str, Any]:
    return {
        "modalities": ["audio", "text"],
        "instructions": "Answer briefly.",
        "voice": "alloy",
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm16",
        "input_audio_transcription": {"model": "whisper-1"},
        "turn_detection": {"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 500},
        "tools": SESSION["tools"],
        "tool_choice": "auto",
        "max_response_output_tokens": 800,
    }


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_a_spoken_turn_with_a_tool_call_and_usage(dialect: str) -> None:
    run = _session(dialect)
    # The user speaks: 24 kHz audio in odd-sized chunks goes up as 16 kHz.
    speech = _tone(24000, 0.3)
    for at in range(0, len(speech), 4801):
        run.send({"type": "input_audio_buffer.append", "audio": _b64(speech[at : at + 4801])})
    sent = sum(len(base64.b64decode(m["realtimeInput"]["audio"]["data"])) for m in run.upstream if "realtimeInput" in m)
    assert abs(sent - 16000 * 0.3 * 2) <= 4
    assert {m["realtimeInput"]["audio"]["mimeType"] for m in run.upstream if "realtimeInput" in m} == {
        "audio/pcm;rate=16000"
    }
    run.hear({"serverContent": {"inputTranscription": {"text": "What's the weather"}}})
    run.hear({"serverContent": {"inputTranscription": {"text": " in Paris?"}}})
    # The model starts to answer, then calls a function.
    answer = _tone(24000, 0.1)
    audio = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": _b64(answer)}}
    run.hear({"serverContent": {"modelTurn": {"parts": [audio]}, "outputTranscription": {"text": "Let me check."}}})
    call = {"id": "fc_1", "name": "get_weather", "args": {"city": "Paris"}}
    run.hear({"toolCall": {"functionCalls": [call]}})
    # The client runs it and asks for the answer.
    result = {"type": "function_call_output", "call_id": "fc_1", "output": '{"celsius": 21}'}
    out = run.send({"type": "conversation.item.create", "item": result})
    assert out.upstream == [
        {"toolResponse": {"functionResponses": [{"id": "fc_1", "response": {"celsius": 21}, "name": "get_weather"}]}}
    ]
    assert run.send({"type": "response.create"}).upstream == []  # Gemini goes on from the tool response itself
    run.hear({"serverContent": {"modelTurn": {"parts": [audio]}}})
    run.hear({"serverContent": {"outputTranscription": {"text": "It's 21 degrees."}}})
    run.hear({"serverContent": {"generationComplete": True}})
    run.hear({"serverContent": {"turnComplete": True}, "usageMetadata": USAGE})

    check_stream(run.client, beta=dialect == "beta")
    assert run.warnings == []
    beta = dialect == "beta"
    added = "conversation.item.created" if beta else "conversation.item.added"
    done = [] if beta else ["conversation.item.done"]
    audio_delta = "response.audio.delta" if beta else "response.output_audio.delta"
    transcript_delta = "response.audio_transcript.delta" if beta else "response.output_audio_transcript.delta"
    message_done = [
        "response.audio.done" if beta else "response.output_audio.done",
        "response.audio_transcript.done" if beta else "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        *done,
    ]
    assert types(run.client) == [
        "session.created",
        "session.updated",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        added,
        *done,
        "conversation.item.input_audio_transcription.delta",
        "response.created",
        "response.output_item.added",
        added,
        "response.content_part.added",
        audio_delta,
        transcript_delta,
        *message_done,
        "response.output_item.added",
        added,
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        *done,
        "response.done",
        added,  # the function's output
        *done,
        "response.created",
        "response.output_item.added",
        added,
        "response.content_part.added",
        audio_delta,
        transcript_delta,
        *message_done,
        "response.done",
        "conversation.item.input_audio_transcription.completed",
    ]
    by_type = {event["type"]: event for event in run.client}
    assert by_type["conversation.item.input_audio_transcription.delta"]["delta"] == "What's the weather in Paris?"
    completed = by_type["conversation.item.input_audio_transcription.completed"]
    assert completed["transcript"] == "What's the weather in Paris?"
    assert completed["item_id"] == by_type["input_audio_buffer.committed"]["item_id"]
    arguments = by_type["response.function_call_arguments.done"]
    assert (arguments["call_id"], arguments["name"], arguments["arguments"]) == (
        "fc_1",
        "get_weather",
        '{"city":"Paris"}',
    )
    final = [event for event in run.client if event["type"] == "response.done"][-1]["response"]
    assert final["status"] == "completed"
    assert final["output"][0]["content"][0]["transcript"] == "It's 21 degrees."
    assert final["usage"] == {
        "total_tokens": 180,
        "input_tokens": 120,
        "output_tokens": 60,
        "input_token_details": {"text_tokens": 70, "audio_tokens": 50, "image_tokens": 0, "cached_tokens": 20},
        "output_token_details": {"text_tokens": 5, "audio_tokens": 55},
    }
    assert run.translator.usage.input_tokens == 120 and run.translator.usage.output_audio == 55
    # The model's audio reaches the client at the client's rate, whole.
    deltas = [e for e in run.client if e["type"] == audio_delta]
    assert sum(len(base64.b64decode(e["delta"])) for e in deltas) == 2 * len(answer)


def test_manual_turns_text_output_and_g711() -> None:
    run = Run(OpenAIToLive("gemini-2.0-flash-live-001", tag="m"))
    run._keep(run.translator.opening())
    session = {
        "type": "realtime",
        "output_modalities": ["text"],
        "audio": {"input": {"format": {"type": "audio/pcmu"}, "turn_detection": None}},
    }
    run.send({"type": "session.update", "session": session})
    body = run.upstream[0]["setup"]
    assert body["realtimeInputConfig"] == {"automaticActivityDetection": {"disabled": True}}
    assert body["generationConfig"]["responseModalities"] == ["TEXT"]
    assert "outputAudioTranscription" not in body
    run.hear({"setupComplete": {}})
    assert run.send({"type": "input_audio_buffer.commit", "event_id": "c0"}).client[0]["error"]["event_id"] == "c0"
    mulaw = bytes([0xFF, 0x7F] * 400)  # 0.1 s at 8 kHz
    assert run.send({"type": "input_audio_buffer.append", "audio": _b64(mulaw)}).upstream == []  # held to commit
    run.send({"type": "input_audio_buffer.clear"})
    run.send({"type": "input_audio_buffer.append", "audio": _b64(mulaw)})
    committed = run.send({"type": "input_audio_buffer.commit"})
    assert [next(iter(m["realtimeInput"])) for m in committed.upstream] == ["activityStart", "audio", "activityEnd"]
    assert len(base64.b64decode(committed.upstream[1]["realtimeInput"]["audio"]["data"])) == 1600 * 2
    assert run.send({"type": "response.create"}).upstream == []  # activityEnd already asked for the answer
    run.hear({"serverContent": {"modelTurn": {"parts": [{"text": "Hel"}, {"text": "lo."}]}}})
    run.hear({"serverContent": {"turnComplete": True}})
    check_stream(run.client)
    assert "input_audio_buffer.cleared" in types(run.client)
    texts = [e["delta"] for e in run.client if e["type"] == "response.output_text.delta"]
    assert texts == ["Hel", "lo."]
    done = [e for e in run.client if e["type"] == "response.output_text.done"]
    assert done[0]["text"] == "Hello."


def test_text_items_then_response_create_complete_the_turn() -> None:
    run = Run(OpenAIToLive("gemini-live-2.5-flash-preview", tag="x"))
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi there"}]}
    out = run.send({"type": "conversation.item.create", "item": user})
    assert "setup" in out.upstream[0]  # the first event brings the setup with it
    assert out.upstream[1] == {
        "clientContent": {"turns": [{"role": "user", "parts": [{"text": "Hi there"}]}], "turnComplete": False}
    }
    assert run.send({"type": "response.create"}).upstream == [{"clientContent": {"turnComplete": True}}]
    check_stream(run.client)


def test_barge_in_and_client_cancel() -> None:
    run = _session("ga")
    run.send({"type": "input_audio_buffer.append", "audio": _b64(_tone(24000, 0.1))})
    audio = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": _b64(_tone(24000, 0.05))}}
    run.hear({"serverContent": {"modelTurn": {"parts": [audio]}}})
    run.send({"type": "input_audio_buffer.append", "audio": _b64(_tone(24000, 0.1))})
    barge = run.hear({"serverContent": {"interrupted": True}})
    assert types(barge.client)[:2] == [
        "conversation.item.input_audio_transcription.completed",  # the turn the model was answering
        "input_audio_buffer.speech_started",
    ]
    done = barge.client[-1]
    assert done["type"] == "response.done"
    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    assert done["response"]["output"][0]["status"] == "incomplete"
    # The next answer is cancelled by the client: Gemini's rest of the turn is dropped.
    run.hear({"serverContent": {"modelTurn": {"parts": [audio]}}})
    cancelled = run.send({"type": "response.cancel"})
    assert (
        cancelled.upstream == [] and cancelled.client[-1]["response"]["status_details"]["reason"] == "client_cancelled"
    )
    assert run.hear({"serverContent": {"modelTurn": {"parts": [audio]}}}).client == []
    ended = run.hear({"serverContent": {"turnComplete": True}})
    assert types(ended.client) == ["conversation.item.input_audio_transcription.completed"]  # only the user's
    check_stream(run.client)
    assert run.send({"type": "response.cancel"}).client[0]["error"]["code"] == "response_cancel_not_active"


def test_what_cannot_be_translated_is_said() -> None:
    run = _session("ga")
    refused = run.send(
        {"type": "session.update", "event_id": "u1", "session": {"audio": {"output": {"voice": "echo"}}}}
    )
    error = refused.client[0]["error"]
    assert (error["code"], error["event_id"]) == ("session_update_not_supported", "u1")
    assert "voice" in error["message"] and refused.upstream == []
    formats = run.send({"type": "session.update", "session": {"audio": {"output": {"format": {"type": "audio/pcma"}}}}})
    assert types(formats.client) == ["session.updated"]  # converted here: may change at any time
    for event in (
        {"type": "conversation.item.delete", "item_id": "x"},
        {"type": "output_audio_buffer.clear"},
        {"type": "no.such.event"},
        {"type": "conversation.item.create", "item": {"type": "message", "role": "system", "content": []}},
        {"type": "response.create", "response": {"conversation": "none"}},
    ):
        out = run.send(event)
        assert out.client and out.client[0]["type"] == "error" and out.warnings, event
    noted = run.send({"type": "response.create", "response": {"instructions": "Shout."}})
    assert (
        noted.client[0]["error"]["type"] == "gateway_warning" and "instructions" in noted.client[0]["error"]["message"]
    )
    away = run.hear({"goAway": {"timeLeft": "10s"}})
    assert away.client[0]["error"]["code"] == "session_ending" and "10s" in away.client[0]["error"]["message"]
    unknown = run.hear({"voiceActivity": {"voiceActivityType": "ACTIVITY_START"}})
    assert unknown.warnings
    check_stream(run.client)


def test_unsupported_session_fields_warn_at_setup() -> None:
    run = Run(OpenAIToLive("gemini-live-2.5-flash-preview", tag="w"))
    session = {
        "type": "realtime",
        "tool_choice": "required",
        "audio": {"input": {"noise_reduction": {"type": "near_field"}}},
        "prompt": {"id": "p"},
        "tools": [{"type": "mcp", "server_label": "x"}],
    }
    out = run.send({"type": "session.update", "session": session})
    messages = " ".join(out.warnings)
    for word in ("prompt", "noise_reduction", "mcp", "tool_choice"):
        assert word in messages
    assert all(event["error"]["type"] == "gateway_warning" for event in out.client)
    check_stream(run.client)


def test_vad_settings_map_to_gemini_detection() -> None:
    vad = {"type": "server_vad", "threshold": 0.8, "prefix_padding_ms": 200, "silence_duration_ms": 700}
    out = OpenAIToLive("m", turn_detection=vad).setup()
    config = out.upstream[0]["setup"]["realtimeInputConfig"]
    assert config == {
        "automaticActivityDetection": {
            "disabled": False,
            "startOfSpeechSensitivity": "START_SENSITIVITY_LOW",
            "prefixPaddingMs": 200,
            "silenceDurationMs": 700,
        }
    }
    semantic = {"type": "semantic_vad", "eagerness": "high", "interrupt_response": False}
    config = OpenAIToLive("m", turn_detection=semantic).setup().upstream[0]["setup"]["realtimeInputConfig"]
    assert config["automaticActivityDetection"]["endOfSpeechSensitivity"] == "END_SENSITIVITY_HIGH"
    assert config["activityHandling"] == "NO_INTERRUPTION"
    gemini_client_message(out.upstream[0])
    assert OpenAIToLive("m", voice="Puck").setup().upstream[0]["setup"]["generationConfig"]["speechConfig"] == {
        "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Puck"}}
    }


def test_one_response_at_a_time_and_calls_after_a_cancel_are_answered_upstream() -> None:
    run = _session("ga")
    run.send({"type": "input_audio_buffer.append", "audio": _b64(_tone(24000, 0.1))})
    run.hear({"serverContent": {"inputTranscription": {"text": "Hi", "finished": True}}})
    audio = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": _b64(_tone(24000, 0.02))}}
    run.hear({"serverContent": {"modelTurn": {"parts": [audio]}}})
    busy = run.send({"type": "response.create"})
    assert busy.upstream == [] and busy.client[0]["error"]["code"] == "conversation_already_has_active_response"
    run.send({"type": "response.cancel"})
    call = {"id": "fc_9", "name": "get_weather", "args": {"city": "Oslo"}}
    late = run.hear({"toolCall": {"functionCalls": [call]}})
    assert late.client == []
    assert late.upstream == [
        {
            "toolResponse": {
                "functionResponses": [
                    {"id": "fc_9", "name": "get_weather", "response": {"error": "cancelled by the client"}}
                ]
            }
        }
    ]
    assert run.hear({"serverContent": {"groundingMetadata": {}, "turnComplete": True}}).warnings
    check_stream(run.client)
    # The user's transcript was complete when Gemini said it was finished, before the model's answer.
    completed = types(run.client).index("conversation.item.input_audio_transcription.completed")
    assert completed < types(run.client).index("response.created")


def test_a_turn_split_by_a_function_call_reports_its_tokens_once() -> None:
    run = _session("ga")
    audio = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": _b64(_tone(24000, 0.02))}}
    before = {"promptTokenCount": 100, "responseTokenCount": 10, "totalTokenCount": 110}
    run.hear({"serverContent": {"modelTurn": {"parts": [audio]}}})
    call = {"id": "fc_1", "name": "get_weather", "args": {}}
    first = run.hear({"toolCall": {"functionCalls": [call]}, "usageMetadata": before})
    assert first.client[-1]["response"]["usage"]["total_tokens"] == 110
    run.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "fc_1", "output": "ok"},
        }
    )
    run.hear({"serverContent": {"modelTurn": {"parts": [audio]}}})
    after = {"promptTokenCount": 130, "responseTokenCount": 25, "totalTokenCount": 155}
    second = run.hear({"serverContent": {"turnComplete": True}, "usageMetadata": after})
    usage = second.client[-1]["response"]["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (30, 15)  # only what came after the call
    assert (run.translator.usage.input_tokens, run.translator.usage.output_tokens) == (130, 25)
    check_stream(run.client)


def test_output_in_the_modality_the_client_did_not_ask_for_is_dropped_with_a_warning() -> None:
    run = _session("ga")  # audio
    text = run.hear({"serverContent": {"modelTurn": {"parts": [{"text": "aside"}, {"text": "plan", "thought": True}]}}})
    assert text.client == [] and len(text.warnings) == 1
    texting = Run(OpenAIToLive("m", output_modalities=["text"], tag="z"))
    audio = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": _b64(b"\x00\x00")}}
    heard = texting.hear({"serverContent": {"modelTurn": {"parts": [audio]}, "outputTranscription": {"text": "x"}}})
    assert heard.client == [] and len(heard.warnings) == 2


def test_output_format_changes_mid_session_are_converted_here() -> None:
    run = _session("ga")
    alaw = {"audio": {"output": {"format": {"type": "audio/pcma"}}}}
    assert types(run.send({"type": "session.update", "session": alaw}).client) == ["session.updated"]
    audio = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": _b64(_tone(24000, 0.1))}}
    run.hear({"serverContent": {"modelTurn": {"parts": [audio]}}})
    run.hear({"serverContent": {"turnComplete": True}})
    deltas = [e["delta"] for e in run.client if e["type"] == "response.output_audio.delta"]
    assert sum(len(base64.b64decode(delta)) for delta in deltas) == 800  # 0.1 s of 8 kHz A-law
    check_stream(run.client)


def test_a_manual_buffer_holds_what_openai_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(to_gemini, "MAX_MANUAL_AUDIO", 100)
    run = Run(OpenAIToLive("m", turn_detection=None, tag="b"))
    assert run.send({"type": "input_audio_buffer.append", "audio": _b64(bytes(80))}).client == []
    full = run.send({"type": "input_audio_buffer.append", "audio": _b64(bytes(40))})
    assert full.client[0]["error"]["code"] == "buffer_full"
    bad = run.send({"type": "input_audio_buffer.append", "audio": "not base64!"})
    assert bad.client[0]["error"]["code"] == "invalid_value"


def test_a_response_create_after_a_tool_result_asks_for_the_answer_gemini_gives_by_itself() -> None:
    """Gemini goes on from a tool's result by itself; the client then asks for that answer with `response.create`.
    However soon Gemini's answer ends, that request is the answer: no new turn goes up for it."""
    run = _session("ga")
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather?"}]}
    run.send({"type": "conversation.item.create", "item": user})
    run.send({"type": "response.create"})
    call = {"id": "fc_1", "name": "get_weather", "args": {"city": "Paris"}}
    run.hear({"toolCall": {"functionCalls": [call]}})
    output = {"type": "function_call_output", "call_id": "fc_1", "output": '{"sky": "sunny"}'}
    assert [sorted(m) for m in run.send({"type": "conversation.item.create", "item": output}).upstream] == [
        ["toolResponse"]
    ]
    run.hear({"serverContent": {"modelTurn": {"parts": [{"text": "Sunny."}]}}})
    run.hear({"serverContent": {"turnComplete": True}, "usageMetadata": USAGE})  # before the client asked
    assert run.send({"type": "response.create"}).upstream == []
    assert run.send({"type": "response.create"}).upstream == [{"clientContent": {"turnComplete": True}}]
