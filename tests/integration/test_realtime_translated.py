"""OpenAI's Realtime API on /v1/realtime, translated to Gemini's Live API for a model on a `gemini` or `vertex`
provider (a fake Gemini Live upstream: tests/fakes/gemini_live.py): the official SDK's `realtime.connect()`,
audio both ways at their rates, transcripts, a function call, usage in the ledger, beta names, an upstream that
drops, a budget, and a fallback to a relayed deployment."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from babelgate.realtime.protocol import GA_TO_BETA
from tests.conftest import GEMINI_KEY, UPSTREAM_KEY, GatewayFactory
from tests.fakes.cloud_tokens import TokenRegistry
from tests.fakes.gemini_live import (
    HEARD,
    SAID_FIRST,
    SAID_LAST,
    SPOKEN,
    VERTEX_PATH,
    FakeGeminiLive,
    frequency,
    sine,
)
from tests.fakes.google_credentials import ACCOUNT, CLOUD_PLATFORM, FakeGoogleOAuth, service_account_key
from tests.fakes.openai_realtime import FakeRealtime
from tests.fakes.servers import LoopThread, RunningApp
from tests.integration.test_realtime import _ending, _run, _until, _usage, answered_until_the_end
from tests.integration.test_virtual_keys import MASTER, _create
from tests.waiting import eventually

EXPRESS_KEY = "AQ.Ab8RN6fake-express-mode-key-0123456789"
UPSTREAM_MODEL = "gemini-live-2.5-flash-preview"
CONFIG = """
providers:
  gem: {{type: gemini, base_url: "{live}", api_key: env:GEMINI_API_KEY, list_models: false}}
  gem-down: {{type: gemini, base_url: "http://127.0.0.1:9", api_key: env:GEMINI_API_KEY, list_models: false}}
  gx: {{type: vertex, api_key: env:VERTEX_KEY, base_url: "{live}"}}
  rt: {{type: openai, base_url: "{relay}", api_key: env:OPENAI_API_KEY, list_models: false}}
models:
  gemini-voice: {{provider: gem, model: {model}, price: {{input: 1, output: 4}}}}
  vertex-voice: {{provider: gx, model: gemini-live-2.5-flash}}
  pricey: {{provider: gem, model: {model}, price: {{input: 1000000, output: 1000000}}}}
  relayed: {{provider: rt, model: gpt-realtime}}
  gemini-first:
    deployments:
      - {{provider: gem-down, model: {model}}}
    fallbacks: [relayed]
"""
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def _servers(loop_thread: LoopThread) -> Iterator[tuple[FakeGeminiLive, FakeRealtime, FakeGoogleOAuth, TokenRegistry]]:
    registry = TokenRegistry()
    live = FakeGeminiLive(
        api_keys=frozenset({GEMINI_KEY, EXPRESS_KEY}),
        bearer=lambda token: registry.check(token, CLOUD_PLATFORM) is None,
    )
    relay, oauth = FakeRealtime(UPSTREAM_KEY), FakeGoogleOAuth(registry)
    for server in (live, relay, oauth):
        loop_thread.run(server.start())
    yield live, relay, oauth, registry
    for server in (live, relay, oauth):
        loop_thread.run(server.stop())


@pytest.fixture
def live(_servers: tuple[FakeGeminiLive, FakeRealtime, FakeGoogleOAuth, TokenRegistry]) -> Iterator[FakeGeminiLive]:
    fake, relay, oauth, registry = _servers
    for each in (fake, relay, oauth, registry):
        each.reset()
    yield fake
    assert fake.violations == [], "the gateway sent what Gemini Live refuses"
    assert relay.violations == []


@pytest.fixture
def relay(_servers: tuple[FakeGeminiLive, FakeRealtime, FakeGoogleOAuth, TokenRegistry]) -> FakeRealtime:
    return _servers[1]


def _gateway(
    make_gateway: GatewayFactory, live: FakeGeminiLive, relay: FakeRealtime, store: Path | None = None
) -> RunningApp:
    env = {"BABELGATE_MASTER_KEY": MASTER, "GEMINI_API_KEY": GEMINI_KEY, "VERTEX_KEY": EXPRESS_KEY}
    if store is not None:
        env["BABELGATE_STORE_URL"] = f"sqlite:{store}"
    return make_gateway(CONFIG.format(live=live.base_url, relay=relay.base_url, model=UPSTREAM_MODEL), env=env)


def _ws(gateway: RunningApp, model: str) -> str:
    return gateway.url.replace("http://", "ws://") + f"/v1/realtime?model={model}"


async def _response(connection: Any) -> list[Any]:
    events = []
    async for event in connection:
        events.append(event)
        if event.type == "response.done":
            return events
    raise AssertionError("the session ended before response.done")


async def _voice_session(gateway: RunningApp, key: str, model: str) -> tuple[Any, list[Any], list[Any]]:
    """A spoken question (0.5 s of a 440 Hz tone at 24 kHz), a function call answered, the spoken answer."""
    spoken = sine(24_000, 440.0, 0.5)
    client = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10)
    async with client.realtime.connect(model=model) as connection:
        created = await connection.recv()
        assert created.type == "session.created" and created.session.model == model  # type: ignore[union-attr]
        await connection.session.update(
            session={
                "type": "realtime",
                "instructions": "Be brief.",
                "audio": {
                    "input": {"turn_detection": None, "transcription": {"model": "whisper-1"}},
                    "output": {"voice": "marin"},
                },
                "tools": [WEATHER],  # type: ignore[list-item]
            }
        )
        updated = await connection.recv()
        assert updated.type == "session.updated" and updated.session.model == model  # type: ignore[union-attr]
        for at in range(0, len(spoken), 4800):
            await connection.input_audio_buffer.append(audio=base64.b64encode(spoken[at : at + 4800]).decode())
        await connection.input_audio_buffer.commit()
        first = await _response(connection)
        call = first[-1].response.output[-1]
        assert (call.type, call.name, call.call_id) == ("function_call", "get_weather", "fc_1")
        assert json.loads(call.arguments) == {"city": "Paris"}
        await connection.conversation.item.create(
            item={"type": "function_call_output", "call_id": call.call_id, "output": '{"sky": "sunny"}'}
        )
        await connection.response.create()
        second = await _response(connection)
    return spoken, first, second


def _audio(events: list[Any]) -> bytes:
    return b"".join(base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta")


def _said(events: list[Any]) -> str:
    return "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")


def test_a_gemini_model_speaks_through_the_translated_road_and_the_ledger_keeps_its_tokens(
    make_gateway: GatewayFactory, live: FakeGeminiLive, relay: FakeRealtime, tmp_path: Path
) -> None:
    gateway = _gateway(make_gateway, live, relay, store=tmp_path / "ledger.db")
    key = _create(gateway)["key"]
    spoken, first, second = _run(_voice_session(gateway, key, "gemini-voice"))

    (seen,) = live.connections
    assert seen.path.endswith("GenerativeService.BidiGenerateContent")
    assert seen.headers["x-goog-api-key"] == GEMINI_KEY and "authorization" not in seen.headers
    assert key not in json.dumps(seen.headers)
    setup = seen.setup
    assert setup["model"] == f"models/{UPSTREAM_MODEL}"
    assert setup["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert setup["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"] == "Despina"
    assert setup["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    # The client's 24 kHz audio arrives at 16 kHz, the same tone.
    assert seen.mime_types == {"audio/pcm;rate=16000"}
    assert len(seen.audio) / len(spoken) == pytest.approx(16 / 24, abs=0.01)
    assert frequency(bytes(seen.audio), 16_000) == pytest.approx(440, rel=0.05)
    # Gemini's 24 kHz audio arrives as it was; transcripts both ways.
    assert _audio(first) == SPOKEN and _audio(second) == SPOKEN
    assert _said(first) == SAID_FIRST and _said(second) == SAID_LAST
    heard = [e for e in first if e.type == "conversation.item.input_audio_transcription.completed"]
    assert [e.transcript for e in heard] == [HEARD]
    responses = [m["toolResponse"] for m in seen.messages if "toolResponse" in m]
    assert responses == [{"functionResponses": [{"id": "fc_1", "name": "get_weather", "response": {"sky": "sunny"}}]}]
    # Usage: the call's counts in the first response, the rest of the turn in the second.
    assert (first[-1].response.usage.input_tokens, first[-1].response.usage.output_tokens) == (100, 50)
    assert (second[-1].response.usage.input_tokens, second[-1].response.usage.output_tokens) == (60, 40)
    # The row is settled once the session's call ends, which may be just after the client saw the close.
    assert eventually(lambda: any(r["route"] == "realtime" for r in _usage(gateway, "?group_by=route")))
    (row,) = [r for r in _usage(gateway, "?group_by=route") if r["route"] == "realtime"]
    assert (row["requests"], row["prompt_tokens"], row["completion_tokens"]) == (1, 160, 90)
    assert row["cost_usd"] == pytest.approx((160 * 1 + 90 * 4) / 1e6)
    database = sqlite3.connect(tmp_path / "ledger.db")
    (record,) = database.execute("SELECT route, status, realtime FROM babelgate_ledger WHERE route = 'realtime'")
    database.close()
    assert record[:2] == ("realtime", 200)
    details = json.loads(record[2])
    assert details.pop("seconds") > 0
    assert details == {
        "road": "translated",
        "turns": 2,
        "input_text_tokens": 70,
        "input_audio_tokens": 90,
        "cached_tokens": 0,
        "output_text_tokens": 0,
        "output_audio_tokens": 90,
    }


def test_a_vertex_model_in_express_mode_takes_the_same_road(
    make_gateway: GatewayFactory, live: FakeGeminiLive, relay: FakeRealtime
) -> None:
    gateway = _gateway(make_gateway, live, relay)
    _, first, second = _run(_voice_session(gateway, _create(gateway)["key"], "vertex-voice"))
    (seen,) = live.connections
    assert seen.path == VERTEX_PATH and seen.headers["x-goog-api-key"] == EXPRESS_KEY
    assert seen.setup["model"] == "publishers/google/models/gemini-live-2.5-flash"
    # Vertex's `candidatesTokenCount` read as Gemini's `responseTokenCount`.
    assert first[-1].response.usage.output_tokens + second[-1].response.usage.output_tokens == 90


@pytest.mark.parametrize("model", ["gemini-voice", "vertex-voice"])
def test_a_commit_with_server_vad_ends_the_audio_stream_where_the_upstream_has_the_message(
    make_gateway: GatewayFactory, live: FakeGeminiLive, relay: FakeRealtime, model: str
) -> None:
    gateway = _gateway(make_gateway, live, relay)
    spoken = sine(24_000, 440.0, 0.2)

    async def scenario() -> list[dict[str, Any]]:
        headers = {"Authorization": "Bearer " + _create(gateway)["key"]}
        async with connect(_ws(gateway, model), additional_headers=headers, open_timeout=10) as ws:
            await _until(ws, "session.created")
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(spoken).decode()}))
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            if model == "vertex-voice":  # no end of stream there: the turn is ended by asking for the answer
                await ws.send(json.dumps({"type": "response.create"}))
            return await _until(ws, "response.done")

    events = _run(scenario())
    assert events[-1]["response"]["status"] == "completed"
    (seen,) = live.connections
    ended = [m for m in seen.messages if "audioStreamEnd" in (m.get("realtimeInput") or {})]
    assert len(ended) == (1 if model == "gemini-voice" else 0)
    assert len(seen.audio) == len(spoken) * 2 // 3


def test_a_vertex_model_with_google_credentials_signs_with_a_bearer_token(
    make_gateway: GatewayFactory,
    live: FakeGeminiLive,
    _servers: tuple[FakeGeminiLive, FakeRealtime, FakeGoogleOAuth, TokenRegistry],
    tmp_path: Path,
) -> None:
    _, _, oauth, registry = _servers
    key_file = tmp_path / "service-account.json"
    oauth.accounts[ACCOUNT] = service_account_key(key_file, oauth.token_uri)
    gateway = make_gateway(
        "providers:\n"
        f"  gcp: {{type: vertex, project: my-project, location: us-central1, base_url: '{live.base_url}',"
        f" credentials_file: '{key_file}'}}\n"
        "models:\n"
        "  voice: {provider: gcp, model: gemini-live-2.5-flash}\n"
    )

    async def scenario() -> list[dict[str, Any]]:
        async with connect(_ws(gateway, "voice"), open_timeout=10) as ws:
            await _until(ws, "session.created")
            await ws.send(json.dumps({"type": "response.create"}))
            return await _until(ws, "response.done")

    events = _run(scenario())
    assert events[-1]["response"]["usage"]["total_tokens"] == 250
    (seen,) = live.connections
    assert seen.path == VERTEX_PATH and "x-goog-api-key" not in seen.headers
    assert seen.headers["authorization"].removeprefix("Bearer ") in registry.used
    assert (
        seen.setup["model"]
        == "projects/my-project/locations/us-central1/publishers/google/models/gemini-live-2.5-flash"
    )


def test_a_beta_client_gets_beta_names_from_the_translated_road(
    make_gateway: GatewayFactory, live: FakeGeminiLive, relay: FakeRealtime
) -> None:
    gateway = _gateway(make_gateway, live, relay)

    async def scenario() -> list[dict[str, Any]]:
        headers = {"Authorization": "Bearer " + _create(gateway)["key"], "OpenAI-Beta": "realtime=v1"}
        async with connect(_ws(gateway, "gemini-voice"), additional_headers=headers, open_timeout=10) as ws:
            created = (await _until(ws, "session.created"))[-1]
            assert "modalities" in created["session"] and created["session"]["model"] == "gemini-voice"
            await ws.send(
                json.dumps(
                    {
                        "type": "conversation.item.create",
                        "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
                    }
                )
            )
            await ws.send(json.dumps({"type": "response.create"}))
            return await _until(ws, "response.done")

    kinds = {event["type"] for event in _run(scenario())}
    assert {"conversation.item.created", "response.audio.delta", "response.audio_transcript.delta"} <= kinds
    assert not kinds & {*GA_TO_BETA, "conversation.item.done"}
    (seen,) = live.connections
    assert seen.messages[1]["clientContent"]["turns"] == [{"role": "user", "parts": [{"text": "Hi"}]}]


def test_a_gemini_upstream_that_drops_ends_the_session_with_an_error_and_1011(
    make_gateway: GatewayFactory, live: FakeGeminiLive, relay: FakeRealtime
) -> None:
    gateway = _gateway(make_gateway, live, relay)
    live.drop_after_audio = True

    async def scenario() -> tuple[list[dict[str, Any]], int | None]:
        headers = {"Authorization": "Bearer " + _create(gateway)["key"]}
        async with connect(_ws(gateway, "gemini-voice"), additional_headers=headers, open_timeout=10) as ws:
            await _until(ws, "session.created")
            await ws.send(json.dumps({"type": "response.create"}))
            return await _ending(ws)

    events, code = _run(scenario())
    assert "response.output_audio.delta" in {event["type"] for event in events}
    assert events[-1]["type"] == "error" and events[-1]["error"]["code"] == "upstream_closed"
    assert code == 1011


def test_a_setup_gemini_refuses_ends_the_session_with_its_words_scrubbed(
    make_gateway: GatewayFactory, live: FakeGeminiLive, relay: FakeRealtime
) -> None:
    gateway = _gateway(make_gateway, live, relay)
    live.refuse_setup = (1008, f"models/nope is not found for bidiGenerateContent (key {GEMINI_KEY})")

    async def scenario() -> tuple[list[dict[str, Any]], int | None]:
        headers = {"Authorization": "Bearer " + _create(gateway)["key"]}
        async with connect(_ws(gateway, "gemini-voice"), additional_headers=headers, open_timeout=10) as ws:
            await _until(ws, "session.created")
            await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "instructions": "x"}}))
            return await _ending(ws)

    events, code = _run(scenario())
    error = events[-1]["error"]
    assert "is not found for bidiGenerateContent" in error["message"] and GEMINI_KEY not in json.dumps(events)
    assert code == 1011


def test_a_spent_budget_ends_a_translated_session_at_response_done(
    make_gateway: GatewayFactory, live: FakeGeminiLive, relay: FakeRealtime
) -> None:
    gateway = _gateway(make_gateway, live, relay)
    key = _create(gateway, budget_usd=1, budget_period="day")["key"]

    events, code = _run(answered_until_the_end(_ws(gateway, "pricey"), key))
    assert events[-2]["type"] == "response.done"
    assert events[-1]["type"] == "error" and events[-1]["error"]["code"] == "budget_exceeded"
    assert code == 1008


def test_a_gemini_deployment_that_cannot_connect_falls_back_to_a_relayed_one(
    make_gateway: GatewayFactory, live: FakeGeminiLive, relay: FakeRealtime, tmp_path: Path
) -> None:
    gateway = _gateway(make_gateway, live, relay, store=tmp_path / "ledger.db")

    async def scenario() -> dict[str, Any]:
        headers = {"Authorization": "Bearer " + _create(gateway)["key"]}
        async with connect(_ws(gateway, "gemini-first"), additional_headers=headers, open_timeout=10) as ws:
            return (await _until(ws, "session.created"))[-1]

    assert _run(scenario())["type"] == "session.created"
    assert len(relay.connections) == 1 and live.connections == []
    assert eventually(lambda: _roads(tmp_path / "ledger.db") == ["relay"])


def _roads(store: Path) -> list[str]:
    database = sqlite3.connect(store)
    try:
        rows = list(database.execute("SELECT realtime FROM babelgate_ledger WHERE route = 'realtime'"))
    except sqlite3.OperationalError:  # not written yet
        return []
    finally:
        database.close()
    return [json.loads(row[0])["road"] for row in rows]


def test_a_refused_handshake_is_the_attempts_failure(
    make_gateway: GatewayFactory, live: FakeGeminiLive, relay: FakeRealtime
) -> None:
    gateway = _gateway(make_gateway, live, relay)
    live.refuse_status = 503
    headers = {"Authorization": "Bearer " + _create(gateway)["key"]}
    with pytest.raises(InvalidStatus) as refused:
        _run(connect(_ws(gateway, "gemini-voice"), additional_headers=headers, open_timeout=10))
    assert refused.value.response.status_code == 503
    assert live.connections == []
