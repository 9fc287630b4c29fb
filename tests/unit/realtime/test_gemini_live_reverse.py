"""The reverse pair, for a Gemini Live door on OpenAI realtime models: Gemini client messages → OpenAI client
events, OpenAI server events → Gemini server messages, each checked against the SDKs' types; and a round trip
through both translators."""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

from babelgate.frontends.gemini_live.translate import LiveToOpenAI
from babelgate.realtime.gemini_live import OpenAIToLive, Translated
from tests.unit.realtime.live_checks import gemini_client_message, gemini_server_message, openai_client_event


def _tone(rate: int, seconds: float) -> bytes:
    count = int(rate * seconds)
    return struct.pack(f"<{count}h", *(round(8000 * math.sin(2 * math.pi * 300 * n / rate)) for n in range(count)))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Run:
    def __init__(self) -> None:
        self.translator = LiveToOpenAI(tag="r")
        self.upstream: list[dict[str, Any]] = []
        self.client: list[dict[str, Any]] = []
        self.warnings: list[str] = []

    def _keep(self, out: Translated) -> Translated:
        for event in out.upstream:
            openai_client_event(event)
        for message in out.client:
            gemini_server_message(message)
        self.upstream += out.upstream
        self.client += out.client
        self.warnings += out.warnings
        return out

    def send(self, message: dict[str, Any]) -> Translated:
        gemini_client_message(message)
        return self._keep(self.translator.client_message(message))

    def hear(self, kind: str, **fields: Any) -> Translated:
        return self._keep(self.translator.server_event({"type": kind, "event_id": "evt", **fields}))


# As google-genai's converters would not write it, but Google's parser takes it: every field in snake_case.
SETUP = {
    "setup": {
        "model": "models/gpt-realtime",
        "generation_config": {
            "response_modalities": ["AUDIO"],
            "speech_config": {"voice_config": {"prebuilt_voice_config": {"voice_name": "Puck"}}},
            "max_output_tokens": 500,
        },
        "system_instruction": {"parts": [{"text": "Answer briefly."}]},
        "tools": [
            {
                "function_declarations": [
                    {
                        "name": "get_weather",
                        "description": "The weather in a city.",
                        "parameters": {"type": "OBJECT", "properties": {"city_name": {"type": "STRING"}}},
                    }
                ]
            }
        ],
        "realtime_input_config": {
            "automatic_activity_detection": {
                "start_of_speech_sensitivity": "START_SENSITIVITY_LOW",
                "silence_duration_ms": 600,
            }
        },
        "input_audio_transcription": {},
        "output_audio_transcription": {},
    }
}
USAGE = {
    "total_tokens": 90,
    "input_tokens": 60,
    "output_tokens": 30,
    "input_token_details": {"text_tokens": 20, "audio_tokens": 40, "cached_tokens": 10},
    "output_token_details": {"text_tokens": 6, "audio_tokens": 24},
}


def _started() -> Run:
    run = Run()
    update = run.send(SETUP).upstream[0]
    session = update["session"]
    assert update["type"] == "session.update" and run.warnings == []
    assert session["audio"]["output"]["voice"] == "echo"
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "create_response": True,
        "interrupt_response": True,
        "threshold": 0.7,
        "silence_duration_ms": 600,
    }
    assert session["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe"}
    assert session["tools"][0]["parameters"] == {"type": "object", "properties": {"city_name": {"type": "string"}}}
    assert session["instructions"] == "Answer briefly." and session["max_output_tokens"] == 500
    assert run.translator.model == "models/gpt-realtime"
    assert run.hear("session.created", session={"type": "realtime"}).client == []
    assert run.hear("session.updated", session={"type": "realtime"}).client == [{"setupComplete": {}}]
    return run


def test_a_spoken_turn_with_a_tool_call_barge_in_and_usage() -> None:
    run = _started()
    speech = _tone(16000, 0.2)
    for at in range(0, len(speech), 3333):
        run.send(
            {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": _b64(speech[at : at + 3333])}}}
        )
    sent = sum(len(base64.b64decode(e["audio"])) for e in run.upstream if e["type"] == "input_audio_buffer.append")
    assert abs(sent - 24000 * 0.2 * 2) <= 4
    assert run.hear("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u1").client == []
    run.hear("input_audio_buffer.speech_stopped", audio_end_ms=200, item_id="u1")
    run.hear("input_audio_buffer.committed", item_id="u1")
    heard = run.hear("conversation.item.input_audio_transcription.delta", item_id="u1", delta="Weather in Paris?")
    assert heard.client == [{"serverContent": {"inputTranscription": {"text": "Weather in Paris?"}}}]
    run.hear("conversation.item.input_audio_transcription.completed", item_id="u1", transcript="Weather in Paris?")
    run.hear("response.created", response={"id": "resp_1", "status": "in_progress"})
    where = {"response_id": "resp_1", "item_id": "i1", "output_index": 0, "content_index": 0}
    audio = run.hear("response.output_audio.delta", **where, delta=_b64(_tone(24000, 0.05))).client[0]
    assert audio["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["mimeType"] == "audio/pcm;rate=24000"
    said = run.hear("response.output_audio_transcript.delta", **where, delta="Checking.").client
    assert said == [{"serverContent": {"outputTranscription": {"text": "Checking."}}}]
    call = run.hear(
        "response.function_call_arguments.done",
        response_id="resp_1",
        item_id="i2",
        output_index=1,
        call_id="call_1",
        name="get_weather",
        arguments='{"city_name":"Paris"}',
    ).client
    assert call == [
        {"toolCall": {"functionCalls": [{"id": "call_1", "name": "get_weather", "args": {"city_name": "Paris"}}]}}
    ]
    # The client answers the call before OpenAI's response is done: its response.create waits for response.done.
    answer = run.send(
        {"toolResponse": {"functionResponses": [{"id": "call_1", "name": "get_weather", "response": {"c": 21}}]}}
    )
    assert [e["type"] for e in answer.upstream] == ["conversation.item.create"]
    assert answer.upstream[0]["item"] == {"type": "function_call_output", "call_id": "call_1", "output": '{"c":21}'}
    done = run.hear("response.done", response={"id": "resp_1", "status": "completed", "usage": USAGE})
    assert done.client[0] == {"serverContent": {"generationComplete": True}}
    assert done.client[1]["serverContent"] == {"turnComplete": True}
    assert done.client[1]["usageMetadata"] == {
        "promptTokenCount": 60,
        "responseTokenCount": 30,
        "totalTokenCount": 90,
        "cachedContentTokenCount": 10,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 20}, {"modality": "AUDIO", "tokenCount": 40}],
        "responseTokensDetails": [{"modality": "TEXT", "tokenCount": 6}, {"modality": "AUDIO", "tokenCount": 24}],
    }
    assert [e["type"] for e in done.upstream] == ["response.create"]
    # The next answer is cut short by the user.
    run.hear("response.created", response={"id": "resp_2", "status": "in_progress"})
    run.hear("response.output_audio.delta", **{**where, "response_id": "resp_2"}, delta=_b64(b"\x00\x00" * 10))
    barge = run.hear("input_audio_buffer.speech_started", audio_start_ms=900, item_id="u2")
    assert barge.client == [{"serverContent": {"interrupted": True}}]
    cancelled = {"type": "cancelled", "reason": "turn_detected"}
    ended = run.hear("response.done", response={"id": "resp_2", "status": "cancelled", "status_details": cancelled})
    assert ended.client == [{"serverContent": {"turnComplete": True}}]
    assert run.warnings == []
    assert run.translator.usage.input_tokens == 60 and run.translator.usage.output_audio == 24


def test_manual_turns_text_and_client_content() -> None:
    run = Run()
    setup = {"setup": {"model": "m", "realtimeInputConfig": {"automaticActivityDetection": {"disabled": True}}}}
    session = run.send(setup).upstream[0]["session"]
    assert session["audio"]["input"]["turn_detection"] is None
    run.hear("session.updated", session={"type": "realtime"})
    run.send({"realtimeInput": {"activityStart": {}}})
    run.send({"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=8000", "data": _b64(_tone(8000, 0.05))}}})
    end = run.send({"realtimeInput": {"activityEnd": {}}})
    assert [e["type"] for e in end.upstream][-2:] == ["input_audio_buffer.commit", "response.create"]
    text = run.send({"realtimeInput": {"text": "And tomorrow?"}})
    assert [e["type"] for e in text.upstream] == ["conversation.item.create", "response.create"]
    turns = [
        {"role": "user", "parts": [{"text": "Hi"}, {"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}}]},
        {"role": "model", "parts": [{"text": "Hello!"}]},
    ]
    content = run.send({"clientContent": {"turns": turns, "turnComplete": True}})
    items = [e["item"] for e in content.upstream if e["type"] == "conversation.item.create"]
    assert items[0]["content"][1] == {"type": "input_image", "image_url": "data:image/png;base64,iVBORw=="}
    assert items[1] == {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello!"}]}
    assert content.upstream[-1]["type"] == "response.create"
    assert run.warnings == []


def test_what_cannot_be_translated_is_in_the_warnings() -> None:
    run = Run()
    early = run.send({"realtimeInput": {"text": "hi"}})
    assert early.upstream == [] and "before setup" in early.warnings[0]
    setup = {
        "setup": {
            "model": "m",
            "generationConfig": {
                "temperature": 0.3,
                "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Sulafat"}}},
            },
            "tools": [{"googleSearch": {}}],
            "sessionResumption": {},
        }
    }
    out = run.send(setup)
    assert out.upstream[0]["session"]["audio"]["output"]["voice"] == "marin"
    said = " ".join(out.warnings)
    for word in ("temperature", "Sulafat", "googleSearch", "sessionResumption"):
        assert word in said
    assert run.send(setup).warnings  # a second setup
    video = run.send({"realtimeInput": {"video": {"mimeType": "image/jpeg", "data": "AAAA"}}})
    assert video.upstream == [] and video.warnings
    assert run.hear("error", error={"type": "invalid_request_error", "message": "bad"}).warnings
    assert run.hear("some.future.event").warnings


def test_round_trip_through_both_translators() -> None:
    """A Gemini client's messages through `LiveToOpenAI` then `OpenAIToLive` come back as Gemini messages of the
    same meaning; Gemini's answer through `OpenAIToLive` then `LiveToOpenAI` likewise."""
    door, road = LiveToOpenAI(tag="a"), OpenAIToLive("gemini-live-2.5-flash-preview", tag="b")
    road.opening()

    def up(message: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for event in door.client_message(message).upstream:
            out += road.client_event(event).upstream
        return out

    def down(message: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for event in road.server_message(message).client:
            out += door.server_event(event).client
        return out

    setup = up(SETUP)[0]["setup"]
    assert setup["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"] == "Puck"
    assert setup["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert setup["realtimeInputConfig"]["automaticActivityDetection"]["silenceDurationMs"] == 600
    assert down({"setupComplete": {}}) == [{"setupComplete": {}}]
    pcm = _tone(16000, 0.1)
    sent = up({"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": _b64(pcm)}}})
    back = b"".join(base64.b64decode(m["realtimeInput"]["audio"]["data"]) for m in sent)
    assert abs(len(back) - len(pcm)) <= 4  # 16 kHz → 24 kHz → 16 kHz
    answer = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": _b64(_tone(24000, 0.05))}}
    got = down({"serverContent": {"modelTurn": {"parts": [answer]}, "outputTranscription": {"text": "Sunny."}}})
    assert [next(iter(m["serverContent"])) for m in got] == ["modelTurn", "outputTranscription"]
    call = down({"toolCall": {"functionCalls": [{"id": "f1", "name": "get_weather", "args": {"city_name": "Rome"}}]}})
    assert call[0] == {
        "toolCall": {"functionCalls": [{"id": "f1", "name": "get_weather", "args": {"city_name": "Rome"}}]}
    }
    result = up({"toolResponse": {"functionResponses": [{"id": "f1", "name": "get_weather", "response": {"c": 30}}]}})
    assert result == [
        {"toolResponse": {"functionResponses": [{"id": "f1", "response": {"c": 30}, "name": "get_weather"}]}}
    ]


def test_a_manual_turn_starting_over_an_answer_cancels_it() -> None:
    run = Run()
    run.send({"setup": {"model": "m", "realtimeInputConfig": {"automaticActivityDetection": {"disabled": True}}}})
    run.hear("session.updated", session={"type": "realtime"})
    run.hear("response.created", response={"id": "resp_1", "status": "in_progress"})
    barge = run.send({"realtimeInput": {"activityStart": {}}})
    assert [e["type"] for e in barge.upstream] == ["response.cancel"]
    assert barge.client == [{"serverContent": {"interrupted": True}}]


def test_url_safe_base64_as_google_genai_sends_bytes_is_read() -> None:
    run = Run()
    run.send({"setup": {"model": "m"}})
    run.hear("session.updated", session={"type": "realtime"})
    pcm = bytes(range(256)) * 4  # every byte value: both alphabets' last two letters appear in its base64
    safe = base64.urlsafe_b64encode(pcm).decode()
    assert "-" in safe and "_" in safe
    sent = run.send({"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=24000", "data": safe}}})
    assert base64.b64decode(sent.upstream[0]["audio"]) == pcm
    image = base64.urlsafe_b64encode(b"\xfb\xff\xfe").decode()
    turn = {"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": image}}]}
    item = run.send({"clientContent": {"turns": [turn]}}).upstream[0]["item"]
    assert item["content"][0]["image_url"] == "data:image/png;base64," + base64.b64encode(b"\xfb\xff\xfe").decode()
    assert run.warnings == []
