"""The Gemini Live door: google-genai's `client.aio.live.connect` through the gateway, on a model relayed to the fake
OpenAI Realtime upstream (tests/fakes/openai_realtime.py), translated both ways; its refusals as close frames.

google-genai's Live client always connects with `wss://` when it has an API key, so the gateway is reached here
through a TLS front (a byte pipe behind a certificate of tests/fakes/pki.py), as it would be behind a proxy."""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
import ssl
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types

from babelgate.realtime.gemini_live.audio import resample
from tests.conftest import GEMINI_KEY, GatewayFactory
from tests.fakes.gemini_live import SAID_FIRST, SAID_LAST, SPOKEN, FakeGeminiLive
from tests.fakes.openai_realtime import PCM, USAGE, FakeRealtime
from tests.fakes.pki import make_pki
from tests.fakes.servers import LoopThread, RunningApp
from tests.fakes.tls_front import TlsFront
from tests.integration.test_realtime import _realtime, fake
from tests.integration.test_virtual_keys import MASTER, _create

__all__ = ["_realtime", "fake"]  # the fixtures, shared with the /v1/realtime door's tests
from tests.waiting import eventually

MODEL = "voice"
UPSTREAM_MODEL = "gpt-realtime-2025-08-28"
CONFIG = """
providers:
  rt: {{type: openai, base_url: "{base}", api_key: env:OPENAI_API_KEY, list_models: false}}
  gem: {{type: gemini, base_url: "{live}", api_key: env:GEMINI_API_KEY, list_models: false}}
models:
  voice: {{provider: rt, model: gpt-realtime-2025-08-28, price: {{input: 4, output: 16}}}}
  other-voice: {{provider: rt, model: gpt-realtime-mini}}
  flash-live: {{provider: gem, model: gemini-live-2.5-flash-preview}}
"""
# 100 ms of a 440 Hz tone at 16 kHz, 16-bit little-endian: what a microphone gives google-genai.
PCM16K = b"".join(struct.pack("<h", round(8000 * math.sin(2 * math.pi * 440 * n / 16000))) for n in range(1600))
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="The weather in a city.",
    parameters=types.Schema(type=types.Type.OBJECT, properties={"city": types.Schema(type=types.Type.STRING)}),
)


@pytest.fixture(scope="module")
def _live(loop_thread: LoopThread) -> Iterator[FakeGeminiLive]:
    fake = FakeGeminiLive(api_keys=frozenset({GEMINI_KEY}))
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


@pytest.fixture
def live(_live: FakeGeminiLive) -> Iterator[FakeGeminiLive]:
    _live.reset()
    yield _live
    assert _live.violations == [], "the gateway sent what Gemini Live refuses"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_pki(tmp_path_factory.mktemp("pki"))


class Door:
    """A gateway and its TLS front."""

    def __init__(self, gateway: RunningApp, front: TlsFront, ca: str) -> None:
        self.gateway = gateway
        self.front = front
        self.ca = ca

    def client(self, key: str, api_version: str = "v1beta") -> genai.Client:
        trusted = ssl.create_default_context(cafile=self.ca)
        options = types.HttpOptions(
            base_url=self.front.url, api_version=api_version, timeout=10_000, async_client_args={"ssl": trusted}
        )
        return genai.Client(api_key=key, http_options=options)


@pytest.fixture
def door(
    make_gateway: GatewayFactory,
    fake: FakeRealtime,
    live: FakeGeminiLive,
    loop_thread: LoopThread,
    pki: dict[str, str],
    tmp_path: Path,
) -> Iterator[Door]:
    env = {"BABELGATE_MASTER_KEY": MASTER, "BABELGATE_STORE_URL": f"sqlite:{tmp_path / 'ledger.db'}"}
    env["GEMINI_API_KEY"] = GEMINI_KEY
    gateway = make_gateway(CONFIG.format(base=fake.base_url, live=live.base_url), env=env)
    front = TlsFront(gateway.port, pki["server"])
    loop_thread.run(front.start())
    yield Door(gateway, front, pki["ca"])
    loop_thread.run(front.stop())


def _run(scenario: Any) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(30):
            return await scenario

    return asyncio.run(bounded())


async def _turn(session: Any) -> list[types.LiveServerMessage]:
    """The messages of one model turn, up to its `turn_complete`."""
    return [message async for message in session.receive()]


async def _refusal(door: Door, key: str, model: str, api_version: str = "v1beta") -> errors.APIError:
    client = door.client(key, api_version)
    try:
        async with client.aio.live.connect(model=model, config=types.LiveConnectConfig()):
            pass
    except errors.APIError as error:
        return error
    raise AssertionError("the session opened")


def test_audio_text_and_a_tool_call_through_google_genai_and_one_ledger_row(
    door: Door, fake: FakeRealtime, tmp_path: Path
) -> None:
    key = _create(door.gateway)["key"]
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        system_instruction="Be brief.",
        output_audio_transcription=types.AudioTranscriptionConfig(),
        tools=[types.Tool(function_declarations=[WEATHER])],
    )

    async def scenario() -> tuple[list[types.LiveServerMessage], list[types.LiveServerMessage]]:
        async with door.client(key).aio.live.connect(model=MODEL, config=config) as session:
            await session.send_realtime_input(audio=types.Blob(data=PCM16K, mime_type="audio/pcm;rate=16000"))
            await session.send_realtime_input(audio_stream_end=True)
            committed = await asyncio.to_thread(
                eventually,
                lambda: any(e["type"] == "input_audio_buffer.commit" for c in fake.connections for e in c.events),
            )
            assert committed
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text="Weather in Oslo?")]), turn_complete=True
            )
            first = await _turn(session)
            call = next(m.tool_call for m in first if m.tool_call is not None)
            assert call.function_calls is not None
            (asked,) = call.function_calls
            assert (asked.id, asked.name, asked.args) == ("call_1", "get_weather", {"city": "Oslo"})
            await session.send_tool_response(
                function_responses=[types.FunctionResponse(id=asked.id, name=asked.name, response={"celsius": -3})]
            )
            second = await _turn(session)
        return first, second

    first, second = _run(scenario())
    parts = [
        p
        for m in first
        if m.server_content and m.server_content.model_turn
        for p in m.server_content.model_turn.parts or []
    ]
    assert [p.text for p in parts if p.text] == ["Hello"]
    blobs = [p.inline_data for p in parts if p.inline_data is not None]
    assert {b.mime_type for b in blobs} == {"audio/pcm;rate=24000"}
    assert b"".join(b.data or b"" for b in blobs) == PCM  # the model's 24 kHz PCM, byte for byte
    transcript = [
        m.server_content.output_transcription.text
        for m in first
        if m.server_content and m.server_content.output_transcription
    ]
    assert transcript == ["Hello"]
    last = first[-1]
    assert last.server_content is not None and last.server_content.turn_complete
    assert last.usage_metadata is not None
    assert (last.usage_metadata.prompt_token_count, last.usage_metadata.response_token_count) == (120, 180)
    assert second[-1].server_content is not None and second[-1].server_content.turn_complete
    assert not any(m.tool_call for m in second)  # the tool's answer went up: the model answered it

    (seen,) = fake.connections
    assert seen.path == f"/v1/realtime?model={UPSTREAM_MODEL}" and key not in json.dumps(seen.headers)
    setup = seen.events[0]
    assert setup["type"] == "session.update" and setup["session"]["instructions"] == "Be brief."
    assert [tool["name"] for tool in setup["session"]["tools"]] == ["get_weather"]
    assert bytes(seen.audio) == resample(PCM16K, 16000, 24000)  # 16 kHz in, 24 kHz upstream
    kinds = [e["type"] for e in seen.events[1:] if e["type"] != "input_audio_buffer.append"]
    assert kinds == [
        "input_audio_buffer.commit",
        "conversation.item.create",
        "response.create",
        "conversation.item.create",
        "response.create",
    ]
    output = seen.events[-2]["item"]
    assert output == {"type": "function_call_output", "call_id": "call_1", "output": '{"celsius":-3}'}

    def row() -> Any:
        database = sqlite3.connect(tmp_path / "ledger.db")
        try:
            return database.execute(
                "SELECT route, status, prompt_tokens, completion_tokens, realtime FROM babelgate_ledger"
            ).fetchall()
        finally:
            database.close()

    assert eventually(lambda: len(row()) == 1)
    ((route, status, prompt, completion, realtime),) = row()
    assert (route, status, prompt, completion) == (
        "realtime",
        200,
        2 * USAGE["input_tokens"],
        2 * USAGE["output_tokens"],
    )
    details = json.loads(realtime)
    assert (details["road"], details["door"], details["turns"]) == ("relay", "gemini-live", 2)


def test_a_gemini_live_client_on_a_gemini_model_through_the_translated_road(
    door: Door, live: FakeGeminiLive, tmp_path: Path
) -> None:
    """Gemini Live in, Gemini Live out, through the session every door shares (its limits, guardrails, ledger)."""
    key = _create(door.gateway)["key"]
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        system_instruction="Be brief.",
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )

    async def scenario() -> list[types.LiveServerMessage]:
        async with door.client(key).aio.live.connect(model="flash-live", config=config) as session:
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]), turn_complete=True
            )
            return await _turn(session)

    turn = _run(scenario())
    parts = [
        p
        for m in turn
        if m.server_content and m.server_content.model_turn
        for p in m.server_content.model_turn.parts or []
    ]
    audio = b"".join(p.inline_data.data or b"" for p in parts if p.inline_data is not None)
    assert audio == SPOKEN * 2  # Gemini's 24 kHz PCM, through both translations, byte for byte
    said = "".join(
        m.server_content.output_transcription.text or ""
        for m in turn
        if m.server_content and m.server_content.output_transcription
    )
    assert said == SAID_FIRST + SAID_LAST
    assert turn[-1].server_content is not None and turn[-1].server_content.turn_complete
    (seen,) = live.connections
    setup = seen.setup
    assert setup["model"] == "models/gemini-live-2.5-flash-preview" and key not in json.dumps(seen.headers)
    assert setup["systemInstruction"]["parts"][0]["text"] == "Be brief."
    asked = [m["clientContent"] for m in seen.messages if "clientContent" in m]
    assert asked[0]["turns"][0]["parts"][0]["text"] == "Weather in Paris?"


@pytest.mark.parametrize(
    ("case", "code", "words"),
    [
        ("bad key", 1007, "API key"),
        ("unknown model", 1008, "nowhere"),
        ("model not allowed", 1008, "other-voice"),
    ],
)
def test_refusals_close_the_socket_with_a_code_and_reason_google_genai_raises(
    door: Door, fake: FakeRealtime, case: str, code: int, words: str
) -> None:
    key = _create(door.gateway, models=[MODEL, "flash-live"])["key"]
    model = {"unknown model": "nowhere", "model not allowed": "other-voice"}.get(case, MODEL)
    error = _run(_refusal(door, "sk-wrong" if case == "bad key" else key, model))
    assert error.code == code
    assert words.lower() in str(error.details).lower()
    assert fake.connections == []


def test_an_upstream_that_drops_closes_the_session_with_1011(door: Door, fake: FakeRealtime) -> None:
    fake.drop_after_responses = 1
    key = _create(door.gateway)["key"]

    async def scenario() -> errors.APIError:
        async with door.client(key).aio.live.connect(model=MODEL) as session:
            await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="Hi")]))
            try:
                while True:
                    await _turn(session)
            except errors.APIError as error:
                return error

    error = _run(scenario())
    assert error.code == 1011
    assert "closed the session" in str(error.details)


def test_a_client_secret_opens_a_session_as_google_genai_s_ephemeral_token(door: Door, fake: FakeRealtime) -> None:
    key = _create(door.gateway, models=[MODEL])["key"]
    response = httpx.post(
        door.gateway.url + "/v1/realtime/client_secrets",
        json={"session": {"type": "realtime", "model": MODEL}},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    secret = response.json()["value"]

    async def scenario() -> list[types.LiveServerMessage]:
        client = door.client("auth_tokens/" + secret, api_version="v1alpha")
        async with client.aio.live.connect(model=MODEL) as session:
            await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="Hi")]))
            return await _turn(session)

    with pytest.warns(errors.ExperimentalWarning):
        messages = _run(scenario())
    assert messages[-1].server_content is not None and messages[-1].server_content.turn_complete
    assert "Constrained" not in fake.connections[0].path  # the upstream sees the relayed road as ever
    with pytest.warns(errors.ExperimentalWarning):
        refused = _run(_refusal(door, "auth_tokens/ek_" + "0" * 32, MODEL, "v1alpha"))
    assert refused.code == 1007


def test_a_session_is_one_concurrent_request_for_its_whole_life(door: Door, fake: FakeRealtime) -> None:
    key = _create(door.gateway, max_concurrent=1)["key"]

    async def scenario() -> errors.APIError:
        async with door.client(key).aio.live.connect(model=MODEL):
            return await _refusal(door, key, MODEL)

    refused = _run(scenario())
    assert refused.code == 1008  # a limit is a policy's refusal, as Gemini closes for a quota
    assert len(fake.connections) == 1
