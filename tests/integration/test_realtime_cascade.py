"""The voice cascade on /v1/realtime: a chat model without a realtime API served as a voice agent (server VAD,
transcription, the chat model streamed, speech sentence by sentence), driven by the official SDK's realtime client,
with the chat, transcription and speech models on the fake OpenAI upstream (and a Claude model on the fake
Anthropic one)."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import sqlite3
import struct
from pathlib import Path
from typing import Any

import openai
import pytest
from websockets.asyncio.client import connect

from tests.conftest import ANTHROPIC_KEY, GatewayFactory
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_audio import TRANSCRIPT, fake_speech
from tests.fakes.openai_upstream import FakeOpenAI, text_stream, tool_call_stream
from tests.fakes.scripted import Reply
from tests.fakes.servers import LoopThread, RunningApp
from tests.integration.test_realtime import _run
from tests.integration.test_virtual_keys import MASTER, _create
from tests.waiting import eventually

CONFIG = """
providers:
  up: {{type: openai, base_url: "{base}", api_key: env:OPENAI_API_KEY, list_models: false}}
models:
  talker:
    provider: up
    model: gpt-4o-mini
    price: {{input: 1, output: 2}}
    defaults: {{max_tokens: 77}}
    realtime: {{transcription: ears, speech: mouth, voice: marin}}
  manual-talker:
    provider: up
    model: gpt-4o-mini
    realtime: {{transcription: ears, speech: mouth, turn_detection: null}}
  ears: {{provider: up, model: gpt-4o-transcribe, defaults: {{language: en}}}}
  mouth: {{provider: up, model: gpt-4o-mini-tts, defaults: {{speed: 1.25}}}}
"""
RATE = 24000
FIRST, SECOND = "Hello there, friend.", "The weather is sunny today."


def tone(ms: int, amplitude: int = 8000) -> bytes:
    """A 440 Hz sine: speech, as an energy detector hears it."""
    count = RATE * ms // 1000
    return struct.pack(f"<{count}h", *(int(amplitude * math.sin(2 * math.pi * 440 * n / RATE)) for n in range(count)))


def silence(ms: int) -> bytes:
    return bytes(RATE * ms // 1000 * 2)


def _gateway(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, extra: str = "", store: Path | None = None
) -> RunningApp:
    env = {"BABELGATE_MASTER_KEY": MASTER}
    if store is not None:
        env["BABELGATE_STORE_URL"] = f"sqlite:{store}"
    return make_gateway(CONFIG.format(base=upstream.base_url) + extra, env=env)


def _client(gateway: RunningApp) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=_create(gateway)["key"], max_retries=0, timeout=10)


async def _speak(connection: Any, audio: bytes) -> None:
    for start in range(0, len(audio), 4800):  # 100 ms appends, as a microphone sends them
        await connection.input_audio_buffer.append(audio=base64.b64encode(audio[start : start + 4800]).decode())


async def _until(connection: Any, kind: str, seen: list[Any] | None = None) -> list[Any]:
    """Events up to and including the first of `kind`."""
    events = [] if seen is None else seen
    while True:
        event = await asyncio.wait_for(connection.recv(), 10)
        events.append(event)
        if event.type == kind:
            return events


def _audio(events: list[Any]) -> bytes:
    return b"".join(base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta")


def _gated(gate: asyncio.Event) -> Reply:
    """Two sentences, the second held until the test opens the gate."""
    reply = Reply(
        stream=text_stream(["Hello there, ", "friend. ", "The weather ", "is sunny today."], include_usage=True)
    )  # type: ignore[arg-type]
    reply.gate, reply.gate_at = gate, 3
    return reply


def _ledger(path: Path) -> list[Any]:
    database = sqlite3.connect(path)
    try:
        query = (
            "SELECT status, prompt_tokens, completion_tokens, realtime FROM babelgate_ledger WHERE route = 'realtime'"
        )
        return list(database.execute(query))
    except sqlite3.OperationalError:  # not written yet
        return []
    finally:
        database.close()


def _paths(upstream: FakeOpenAI) -> list[str]:
    return [r.path for r in upstream.received]


def test_a_spoken_turn_is_heard_transcribed_answered_and_spoken_sentence_by_sentence(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, loop_thread: LoopThread, tmp_path: Path
) -> None:
    gateway = _gateway(make_gateway, upstream, store=tmp_path / "ledger.db")
    gate = asyncio.Event()
    upstream.chat_responder = lambda body: _gated(gate)

    async def scenario() -> tuple[list[Any], list[Any]]:
        async with _client(gateway).realtime.connect(model="talker") as connection:
            created = await connection.recv()
            assert created.type == "session.created" and created.session.model == "talker"  # type: ignore[union-attr]
            await connection.session.update(session={"type": "realtime", "instructions": "Be brief."})
            await _until(connection, "session.updated")
            await _speak(connection, silence(500) + tone(600) + silence(800))
            heard = await _until(connection, "response.output_audio.delta")
            # The first sentence is spoken while the chat stream is held before the second: open it now.
            loop_thread.loop.call_soon_threadsafe(gate.set)
            answered = await _until(connection, "response.done")
            return heard, answered

    heard, answered = _run(scenario())
    kinds = [e.type for e in heard]
    assert kinds[:3] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ]
    started = heard[0]
    assert started.audio_start_ms == 200  # the prefix padding (300 ms) reaches back before the tone
    transcribed = next(e for e in heard if e.type == "conversation.item.input_audio_transcription.completed")
    assert transcribed.transcript == TRANSCRIPT and transcribed.item_id == started.item_id
    assert kinds.index("conversation.item.input_audio_transcription.completed") < kinds.index("response.created")
    events = heard + answered
    assert _audio(events) == fake_speech(FIRST, "pcm") + fake_speech(SECOND, "pcm")
    transcript = [e.delta for e in events if e.type == "response.output_audio_transcript.delta"]
    assert transcript == [FIRST, " " + SECOND]
    done = answered[-1].response
    assert done.status == "completed"
    assert done.output[0].content[0].transcript == f"{FIRST} {SECOND}"
    assert done.usage.input_tokens == 9 and done.usage.output_tokens == 3
    # What went upstream: the turn as a WAV, the conversation to the chat model, each sentence to the speech model.
    upload = next(r for r in upstream.received if r.path == "/v1/audio/transcriptions").json
    assert upload["model"] == "gpt-4o-transcribe" and upload["file"]["data"][:4] == b"RIFF"
    assert upload["language"] == "en"  # each model's defaults apply, as on its own route
    chat = next(r for r in upstream.received if r.path == "/v1/chat/completions").json
    assert chat["stream"] is True and chat["model"] == "gpt-4o-mini" and chat["max_tokens"] == 77
    assert chat["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": TRANSCRIPT}]
    spoken = [r.json for r in upstream.received if r.path == "/v1/audio/speech"]
    assert [(s["input"], s["voice"], s["response_format"], s["speed"]) for s in spoken] == [
        (FIRST, "marin", "pcm", 1.25),
        (SECOND, "marin", "pcm", 1.25),
    ]
    assert eventually(lambda: _ledger(tmp_path / "ledger.db"))
    (record,) = _ledger(tmp_path / "ledger.db")
    assert record[:3] == (200, 9, 3)
    details = json.loads(record[3])
    assert details["road"] == "cascade" and details["turns"] == 1
    assert details["input_audio_seconds"] > 0.6 and details["output_audio_seconds"] > 0.5


def test_text_only_output_skips_speech(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = _gateway(make_gateway, upstream)
    upstream.chat_responder = lambda body: Reply(stream=text_stream(["Hi ", "there."]))  # type: ignore[arg-type]

    async def scenario() -> list[Any]:
        async with _client(gateway).realtime.connect(model="talker") as connection:
            await _until(connection, "session.created")
            await connection.session.update(session={"type": "realtime", "output_modalities": ["text"]})
            await _until(connection, "session.updated")
            await connection.conversation.item.create(
                item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello?"}]}
            )
            await connection.response.create()
            return await _until(connection, "response.done")

    events = _run(scenario())
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == ["Hi ", "there."]
    assert not any(e.type.startswith("response.output_audio") for e in events)
    assert events[-1].response.output[0].content[0].text == "Hi there."
    assert "/v1/audio/speech" not in _paths(upstream)


def test_a_function_call_round_trip(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = _gateway(make_gateway, upstream)
    replies = iter(
        [
            Reply(stream=tool_call_stream([("call_7", "get_weather", ['{"city":', '"Paris"}'])])),  # type: ignore[arg-type]
            Reply(stream=text_stream(["It is sunny."])),  # type: ignore[arg-type]
        ]
    )
    upstream.chat_responder = lambda body: next(replies)
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }

    async def scenario() -> tuple[list[Any], list[Any]]:
        async with _client(gateway).realtime.connect(model="talker") as connection:
            await _until(connection, "session.created")
            await connection.session.update(session={"type": "realtime", "tools": [tool], "tool_choice": "auto"})
            await _until(connection, "session.updated")
            await connection.conversation.item.create(
                item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather?"}]}
            )
            await connection.response.create()
            first = await _until(connection, "response.done")
            await connection.conversation.item.create(
                item={"type": "function_call_output", "call_id": "call_7", "output": '{"sky": "clear"}'}
            )
            await connection.response.create()
            second = await _until(connection, "response.done")
            return first, second

    first, second = _run(scenario())
    arguments = next(e for e in first if e.type == "response.function_call_arguments.done")
    assert (arguments.name, arguments.call_id, arguments.arguments) == ("get_weather", "call_7", '{"city":"Paris"}')
    (call,) = first[-1].response.output
    assert (call.type, call.name, call.call_id) == ("function_call", "get_weather", "call_7")
    assert second[-1].response.output[0].content[0].transcript == "It is sunny."
    chats = [r.json for r in upstream.received if r.path == "/v1/chat/completions"]
    assert chats[0]["tools"][0]["function"]["name"] == "get_weather" and chats[0]["tool_choice"] == "auto"
    assert chats[1]["messages"] == [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_7",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_7", "content": '{"sky": "clear"}'},
    ]


def test_new_speech_while_an_answer_is_spoken_cancels_it(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, loop_thread: LoopThread
) -> None:
    gateway = _gateway(make_gateway, upstream)
    gate = asyncio.Event()
    upstream.chat_responder = lambda body: _gated(gate)

    async def scenario() -> list[Any]:
        try:
            async with _client(gateway).realtime.connect(model="talker") as connection:
                await _until(connection, "session.created")
                await _speak(connection, tone(600) + silence(800))
                await _until(connection, "response.output_audio.delta")
                await _speak(connection, tone(300))  # the user talks over the answer
                return await _until(connection, "response.done")
        finally:
            loop_thread.loop.call_soon_threadsafe(gate.set)

    events = _run(scenario())
    kinds = [e.type for e in events]
    assert "input_audio_buffer.speech_started" in kinds
    done = events[-1].response
    assert (done.status, done.status_details.reason) == ("cancelled", "turn_detected")
    # Cut where it was: the model remembers only the sentence that was spoken.
    assert done.output[0].status == "incomplete" and done.output[0].content[0].transcript == FIRST


def test_response_cancel_ends_the_answer_cancelled(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, loop_thread: LoopThread
) -> None:
    gateway = _gateway(make_gateway, upstream)
    gate = asyncio.Event()
    upstream.chat_responder = lambda body: _gated(gate)

    async def scenario() -> list[Any]:
        try:
            async with _client(gateway).realtime.connect(model="talker") as connection:
                await _until(connection, "session.created")
                await connection.conversation.item.create(
                    item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Talk."}]}
                )
                await connection.response.create()
                await _until(connection, "response.output_audio.delta")
                await connection.response.cancel()
                return await _until(connection, "response.done")
        finally:
            loop_thread.loop.call_soon_threadsafe(gate.set)

    done = _run(scenario())[-1].response
    assert (done.status, done.status_details.reason) == ("cancelled", "client_cancelled")


def test_a_transcription_that_fails_is_an_error_event_and_the_session_goes_on(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    gateway = _gateway(make_gateway, upstream)
    error = {"error": {"message": "The server is overloaded.", "type": "server_error", "param": None, "code": None}}
    upstream.script(Reply(status=500, json=error))  # the first call upstream is the transcription

    async def scenario() -> tuple[list[Any], list[Any]]:
        async with _client(gateway).realtime.connect(model="manual-talker") as connection:
            await _until(connection, "session.created")
            await _speak(connection, tone(400))
            await connection.input_audio_buffer.commit()
            failed = await _until(connection, "error")
            await connection.conversation.item.create(
                item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello?"}]}
            )
            await connection.response.create()
            return failed, await _until(connection, "response.done")

    failed, answered = _run(scenario())
    kinds = [e.type for e in failed]
    assert "input_audio_buffer.speech_started" not in kinds  # manual turns: no VAD
    assert "conversation.item.input_audio_transcription.failed" in kinds
    assert failed[-1].error.code == "transcription_failed" and "ears" in failed[-1].error.message
    assert answered[-1].response.status == "completed"
    chat = next(r for r in upstream.received if r.path == "/v1/chat/completions").json
    assert chat["messages"] == [{"role": "user", "content": "Hello?"}]  # the untranscribed turn says nothing


def test_a_claude_model_runs_as_a_cascade_by_the_server_default(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, anthropic_upstream: FakeAnthropic
) -> None:
    extra = """
  claude:
    provider: anthropic
    model: claude-sonnet-4-6
realtime: {transcription: ears, speech: mouth, voice: coral}
"""
    config = CONFIG.replace(
        "models:\n",
        f"  anthropic: {{{{type: anthropic, base_url: {anthropic_upstream.base_url},"
        " api_key: env:ANTHROPIC_API_KEY}}\nmodels:\n",
    )
    gateway = make_gateway(
        config.format(base=upstream.base_url) + extra,
        env={"BABELGATE_MASTER_KEY": MASTER, "ANTHROPIC_API_KEY": ANTHROPIC_KEY},
    )

    async def scenario() -> list[Any]:
        async with _client(gateway).realtime.connect(model="claude") as connection:
            await _until(connection, "session.created")
            await connection.conversation.item.create(
                item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
            )
            await connection.response.create()
            return await _until(connection, "response.done")

    events = _run(scenario())
    assert events[-1].response.status == "completed"
    assert _audio(events) == fake_speech("Hello!", "pcm")
    assert [r.json["voice"] for r in upstream.received if r.path == "/v1/audio/speech"] == ["coral"]


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("{transcription: nope, speech: mouth}", "models.talker.realtime.transcription: 'nope' does not resolve"),
        ("{transcription: ears}", "models.talker.realtime: the voice cascade needs speech"),
        ("{transcription: ears, speech: claude}", "models.talker.realtime.speech: 'claude' is served by"),
    ],
)
def test_the_cascade_models_are_checked_when_the_config_loads(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, block: str, message: str
) -> None:
    config = f"""
providers:
  up: {{type: openai, base_url: "{upstream.base_url}", api_key: env:OPENAI_API_KEY}}
  anthropic: {{type: anthropic, api_key: env:OPENAI_API_KEY}}
models:
  talker: {{provider: up, model: gpt-4o-mini, realtime: {block}}}
  ears: {{provider: up, model: gpt-4o-transcribe}}
  mouth: {{provider: up, model: gpt-4o-mini-tts}}
  claude: {{provider: anthropic, model: claude-sonnet-4-6}}
"""
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        make_gateway(config)


def test_a_beta_client_gets_beta_names_and_g711_audio(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = _gateway(make_gateway, upstream)
    url = gateway.url.replace("http://", "ws://") + "/v1/realtime?model=talker"

    async def scenario() -> list[dict[str, Any]]:
        headers = {"Authorization": "Bearer " + _create(gateway)["key"], "OpenAI-Beta": "realtime=v1"}
        async with connect(url, additional_headers=headers, open_timeout=10) as ws:
            events = [json.loads(await ws.recv())]
            await ws.send(json.dumps({"type": "session.update", "session": {"output_audio_format": "g711_ulaw"}}))
            item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
            await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
            await ws.send(json.dumps({"type": "response.create"}))
            while events[-1]["type"] != "response.done":
                events.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            return events

    events = _run(scenario())
    assert events[0]["type"] == "session.created" and events[0]["session"]["modalities"] == ["audio", "text"]
    kinds = {event["type"] for event in events}
    assert {"conversation.item.created", "response.audio.delta", "response.audio_transcript.delta"} <= kinds
    assert not any(kind.startswith(("response.output_audio", "response.output_text")) for kind in kinds)
    assert "conversation.item.done" not in kinds
    audio = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta")
    assert len(audio) == len(fake_speech("Hello!", "pcm")) // 6  # 24 kHz PCM16 → 8 kHz μ-law: a sixth of the bytes
