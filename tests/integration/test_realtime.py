"""OpenAI's Realtime API on /v1/realtime, relayed to a fake OpenAI Realtime upstream (tests/fakes/openai_realtime.py):
the official SDK's `realtime.connect()` and raw WebSockets, client secrets, refusals, bounds, accounting."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import UPSTREAM_KEY, GatewayFactory
from tests.fakes.openai_realtime import PCM, USAGE, FakeRealtime
from tests.fakes.servers import LoopThread, RunningApp
from tests.integration.test_virtual_keys import ADMIN, MASTER, _create
from tests.waiting import eventually

MODEL = "voice"
UPSTREAM_MODEL = "gpt-realtime-2025-08-28"
CONFIG = """
providers:
  rt: {{type: openai, base_url: "{base}", api_key: env:OPENAI_API_KEY, list_models: false}}
  down: {{type: openai, base_url: "http://127.0.0.1:9/v1", api_key: env:OPENAI_API_KEY}}
  anthropic: {{type: anthropic, api_key: env:OPENAI_API_KEY}}
models:
  voice:
    provider: rt
    model: gpt-realtime-2025-08-28
    price: {{input: 4, output: 16, cached_input: 0.4, audio_input: 32, audio_output: 64}}
  pricey: {{provider: rt, model: gpt-realtime-2025-08-28, price: {{input: 1000000, output: 1000000}}}}
  other-voice: {{provider: rt, model: gpt-realtime-mini}}
  first-down:
    deployments:
      - {{provider: down, model: gpt-realtime}}
    fallbacks: [voice]
  claude: {{provider: anthropic, model: claude-sonnet-4-6}}
"""


@pytest.fixture(scope="module")
def _realtime(loop_thread: LoopThread) -> Iterator[FakeRealtime]:
    fake = FakeRealtime(UPSTREAM_KEY)
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


@pytest.fixture
def fake(_realtime: FakeRealtime) -> Iterator[FakeRealtime]:
    _realtime.reset()
    yield _realtime
    assert _realtime.violations == [], "the gateway sent what the Realtime API refuses"


def _gateway(
    make_gateway: GatewayFactory, fake: FakeRealtime, extra: str = "", store: Path | None = None
) -> RunningApp:
    env = {"BABELGATE_MASTER_KEY": MASTER}
    if store is not None:
        env["BABELGATE_STORE_URL"] = f"sqlite:{store}"
    return make_gateway(CONFIG.format(base=fake.base_url) + extra, env=env)


def _ws(gateway: RunningApp, model: str = MODEL) -> str:
    return gateway.url.replace("http://", "ws://") + f"/v1/realtime?model={model}"


def _run(scenario: Any) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(30):
            return await scenario

    return asyncio.run(bounded())


async def _until(ws: ClientConnection, kind: str) -> list[dict[str, Any]]:
    """Events up to and including the first of `kind`."""
    events = []
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), 10))
        events.append(event)
        if event["type"] == kind:
            return events


async def _ending(ws: ClientConnection) -> tuple[list[dict[str, Any]], int | None]:
    """Every event until the gateway closes the socket, and its close code."""
    events = []
    try:
        while True:
            events.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    except ConnectionClosed as closed:
        return events, closed.rcvd.code if closed.rcvd is not None else None


async def answered_until_the_end(url: str, key: str) -> tuple[list[dict[str, Any]], int | None]:
    """A session asked for one response, then read until the gateway closes it: its events and close code."""
    async with connect(url, additional_headers={"Authorization": f"Bearer {key}"}, open_timeout=10) as ws:
        await _until(ws, "session.created")
        await ws.send(json.dumps({"type": "response.create"}))
        return await _ending(ws)


def _usage(gateway: RunningApp, query: str) -> list[dict[str, Any]]:
    response = httpx.get(gateway.url + "/admin/usage" + query, headers=ADMIN, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def test_the_sdk_relays_text_audio_and_a_function_call_and_the_ledger_keeps_the_session(
    make_gateway: GatewayFactory, fake: FakeRealtime, tmp_path: Path
) -> None:
    gateway = _gateway(make_gateway, fake, store=tmp_path / "ledger.db")
    key = _create(gateway)["key"]
    spoken = bytes(reversed(PCM))

    async def scenario() -> tuple[list[Any], list[Any], bytes]:
        client = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10)
        async with client.realtime.connect(model=MODEL) as connection:
            created = await connection.recv()
            assert created.type == "session.created" and created.session.model == MODEL  # type: ignore[union-attr]
            await connection.session.update(session={"type": "realtime", "model": MODEL, "instructions": "Be brief."})
            assert (await connection.recv()).type == "session.updated"
            await connection.conversation.item.create(
                item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather?"}]}
            )
            await connection.input_audio_buffer.append(audio=base64.b64encode(spoken).decode())
            await connection.response.create()
            first = []
            async for event in connection:
                first.append(event)
                if event.type == "response.done":
                    break
            await connection.conversation.item.create(
                item={"type": "function_call_output", "call_id": "call_1", "output": '{"c": -3}'}
            )
            await connection.response.create()
            second = []
            async for event in connection:
                second.append(event)
                if event.type == "response.done":
                    break
        audio = b"".join(base64.b64decode(e.delta) for e in first if e.type == "response.output_audio.delta")
        return first, second, audio

    first, second, audio = _run(scenario())
    assert audio == PCM  # the PCM bytes arrive intact
    assert [e.type for e in first if e.type.startswith("response.output_")] == [
        "response.output_text.delta",
        "response.output_audio.delta",
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
    ]
    call = first[-1].response.output[0]
    assert (call.type, call.name, call.call_id) == ("function_call", "get_weather", "call_1")
    assert second[-1].response.output == []  # the tool's output went up: the model answers
    (seen,) = fake.connections
    assert seen.path == f"/v1/realtime?model={UPSTREAM_MODEL}"
    assert "openai-beta" not in seen.headers  # a GA client gets the GA upstream
    assert bytes(seen.audio) == spoken
    assert seen.events[0]["session"]["model"] == UPSTREAM_MODEL
    assert key not in json.dumps(seen.headers)  # never the caller's key upstream
    (row,) = [r for r in _usage(gateway, "?group_by=route") if r["route"] == "realtime"]
    assert row["requests"] == 1
    assert row["prompt_tokens"] == 2 * USAGE["input_tokens"]
    assert row["completion_tokens"] == 2 * USAGE["output_tokens"]
    assert row["cached_tokens"] == 2 * 10
    # Each response: 10 text tokens in, 10 read from the cache, 100 of audio; 30 text tokens out and 150 of audio.
    assert row["cost_usd"] == pytest.approx(2 * (10 * 4 + 10 * 0.4 + 100 * 32 + 30 * 16 + 150 * 64) / 1e6)
    database = sqlite3.connect(tmp_path / "ledger.db")
    (record,) = database.execute("SELECT route, status, realtime FROM babelgate_ledger WHERE route = 'realtime'")
    database.close()
    assert record[:2] == ("realtime", 200)
    details = json.loads(record[2])
    assert details.pop("seconds") > 0
    assert details == {
        "road": "relay",
        "turns": 2,
        "input_text_tokens": 40,
        "input_audio_tokens": 200,
        "cached_tokens": 20,
        "output_text_tokens": 60,
        "output_audio_tokens": 300,
    }
    metrics = httpx.get(gateway.url + "/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=10).text
    for sample in (
        'babelgate_realtime_turns_total{model="voice",road="relay"} 2.0',
        'babelgate_realtime_tokens_total{direction="input",modality="audio",model="voice"} 200.0',
        'babelgate_realtime_tokens_total{direction="output",modality="text",model="voice"} 60.0',
        'babelgate_realtime_sessions_opened_total{road="relay"} 1.0',
        'babelgate_realtime_sessions_closed_total{road="relay"} 1.0',
    ):
        assert sample in metrics, sample


def test_a_beta_client_gets_the_beta_protocol_and_its_event_names(
    make_gateway: GatewayFactory, fake: FakeRealtime
) -> None:
    gateway = _gateway(make_gateway, fake)

    async def scenario() -> list[dict[str, Any]]:
        headers = {"Authorization": "Bearer " + _create(gateway)["key"], "OpenAI-Beta": "realtime=v1"}
        async with connect(_ws(gateway), additional_headers=headers, open_timeout=10) as ws:
            await _until(ws, "session.created")
            await ws.send(json.dumps({"type": "response.create"}))
            return await _until(ws, "response.done")

    kinds = {event["type"] for event in _run(scenario())}
    assert {"response.text.delta", "response.audio.delta", "response.audio_transcript.delta"} <= kinds
    assert not any(kind.startswith("response.output_") for kind in kinds)
    assert fake.connections[0].headers["openai-beta"] == "realtime=v1"


def test_a_browser_signs_in_with_the_subprotocol_and_is_answered_realtime(
    make_gateway: GatewayFactory, fake: FakeRealtime
) -> None:
    gateway = _gateway(make_gateway, fake)
    key = _create(gateway)["key"]

    async def scenario() -> str | None:
        protocols: Any = ["realtime", f"openai-insecure-api-key.{key}"]
        async with connect(_ws(gateway), subprotocols=protocols, open_timeout=10) as ws:
            await _until(ws, "session.created")
            return ws.subprotocol

    assert _run(scenario()) == "realtime"


def test_the_api_key_header_signs_in_too(make_gateway: GatewayFactory, fake: FakeRealtime) -> None:
    gateway = _gateway(make_gateway, fake)

    async def scenario() -> None:
        headers = {"api-key": _create(gateway)["key"]}
        async with connect(_ws(gateway), additional_headers=headers, open_timeout=10) as ws:
            await _until(ws, "session.created")

    _run(scenario())


def test_a_client_secret_opens_a_session_with_its_settings_and_nothing_else(
    make_gateway: GatewayFactory, fake: FakeRealtime
) -> None:
    gateway = _gateway(make_gateway, fake)
    key = _create(gateway)["key"]
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10) as client:
        secret = client.realtime.client_secrets.create(
            session={"type": "realtime", "model": MODEL, "instructions": "Speak French."},
            expires_after={"anchor": "created_at", "seconds": 600},
        )
    assert secret.value.startswith("ek_") and secret.session.type == "realtime"
    assert secret.expires_at > 0

    async def scenario() -> None:
        client = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=secret.value, max_retries=0, timeout=10)
        async with client.realtime.connect(model=MODEL) as connection:
            assert (await connection.recv()).type == "session.created"
            assert (await connection.recv()).type == "session.updated"  # the secret's settings, applied

    _run(scenario())
    assert fake.connections[0].events[0]["session"]["instructions"] == "Speak French."
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=secret.value, max_retries=0, timeout=10) as client:
        with pytest.raises(openai.AuthenticationError) as refused:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
        assert "/v1/realtime" in str(refused.value)
        with pytest.raises(openai.AuthenticationError):  # nor does it make another secret
            client.realtime.client_secrets.create(session={"type": "realtime", "model": MODEL})
    with pytest.raises(InvalidStatus) as spent:  # one session per secret
        _run(connect(_ws(gateway), additional_headers={"Authorization": f"Bearer {secret.value}"}, open_timeout=10))
    assert spent.value.response.status_code == 401
    # Expired: a new secret's time moved to the past.
    later = _client_secret(gateway, key)
    secrets = gateway.app.runtime.realtime.secrets
    for digest, grant in list(secrets._grants.items()):
        secrets._grants[digest] = dataclasses.replace(grant, expires_at=0.0)
    with pytest.raises(InvalidStatus) as expired:
        _run(connect(_ws(gateway), additional_headers={"Authorization": f"Bearer {later}"}, open_timeout=10))
    assert expired.value.response.status_code == 401
    assert b"client_secret_expired" in (expired.value.response.body or b"")


def _client_secret(gateway: RunningApp, key: str, model: str = MODEL) -> str:
    made = httpx.post(
        gateway.url + "/v1/realtime/client_secrets",
        json={"session": {"type": "realtime", "model": model}},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert made.status_code == 200, made.text
    value: str = made.json()["value"]
    return value


def test_a_client_secret_refused_before_its_session_opened_is_not_spent_and_dies_with_its_key(
    make_gateway: GatewayFactory, fake: FakeRealtime
) -> None:
    gateway = _gateway(make_gateway, fake)
    key_fields = _create(gateway)
    secret = _client_secret(gateway, key_fields["key"])
    fake.refuse_status = 503  # no upstream answers: the session never opens
    with pytest.raises(InvalidStatus) as refused:
        _run(connect(_ws(gateway), additional_headers={"Authorization": f"Bearer {secret}"}, open_timeout=10))
    assert refused.value.response.status_code >= 500
    fake.refuse_status = None

    async def opens() -> None:
        async with connect(_ws(gateway), additional_headers={"Authorization": f"Bearer {secret}"}) as ws:
            await _until(ws, "session.created")

    _run(opens())  # the same secret, not spent by the refusal
    unspent = _client_secret(gateway, key_fields["key"])
    revoked = httpx.delete(gateway.url + f"/admin/keys/{key_fields['id']}", headers=ADMIN, timeout=10)
    assert revoked.status_code == 200, revoked.text
    with pytest.raises(InvalidStatus) as dead:  # its key revoked: its secrets are too
        _run(connect(_ws(gateway), additional_headers={"Authorization": f"Bearer {unspent}"}, open_timeout=10))
    assert dead.value.response.status_code == 401


def test_a_client_secret_for_a_model_the_key_may_not_use_is_refused(
    make_gateway: GatewayFactory, fake: FakeRealtime
) -> None:
    gateway = _gateway(make_gateway, fake)
    key = _create(gateway, models=[MODEL])["key"]
    response = httpx.post(
        gateway.url + "/v1/realtime/client_secrets",
        json={"session": {"type": "realtime", "model": "other-voice"}},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 403
    response = httpx.post(
        gateway.url + "/v1/realtime/client_secrets",
        json={"expires_after": {"anchor": "created_at", "seconds": 99999}},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "expires_after.seconds"


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("bad key", 401, "invalid_api_key"),
        ("unknown model", 404, "model_not_found"),
        ("model not allowed", 403, "model_not_allowed"),
        ("no realtime", 400, "unsupported_capability"),
        ("no model", 400, "missing_model"),
    ],
)
def test_refusals_are_http_answers_before_the_upgrade(
    make_gateway: GatewayFactory, fake: FakeRealtime, case: str, status: int, code: str
) -> None:
    gateway = _gateway(make_gateway, fake)
    key = _create(gateway, models=[MODEL, "claude"])["key"]
    url, presented = {
        "bad key": (_ws(gateway), "sk-wrong"),
        "unknown model": (_ws(gateway, "nope"), _create(gateway)["key"]),
        "model not allowed": (_ws(gateway, "other-voice"), key),
        "no realtime": (_ws(gateway, "claude"), key),
        "no model": (gateway.url.replace("http://", "ws://") + "/v1/realtime", key),
    }[case]
    with pytest.raises(InvalidStatus) as refused:
        _run(connect(url, additional_headers={"Authorization": f"Bearer {presented}"}, open_timeout=10))
    response = refused.value.response
    assert response.status_code == status
    assert json.loads(response.body or b"")["error"]["code"] == code
    assert fake.connections == []


def test_a_session_is_one_concurrent_request_for_its_whole_life(
    make_gateway: GatewayFactory, fake: FakeRealtime
) -> None:
    gateway = _gateway(make_gateway, fake)
    key = _create(gateway, max_concurrent=1)["key"]
    headers = {"Authorization": f"Bearer {key}"}

    async def scenario() -> int:
        async with connect(_ws(gateway), additional_headers=headers, open_timeout=10) as ws:
            await _until(ws, "session.created")
            try:
                await connect(_ws(gateway), additional_headers=headers, open_timeout=10)
            except InvalidStatus as refused:
                return refused.response.status_code
        return 0

    assert _run(scenario()) == 429

    async def again() -> None:
        async with connect(_ws(gateway), additional_headers=headers, open_timeout=10) as ws:
            await _until(ws, "session.created")

    assert eventually(lambda: _opens(again))


def _opens(scenario: Any) -> bool:
    try:
        _run(scenario())
    except InvalidStatus:
        return False
    return True


def test_a_spent_budget_ends_the_session_at_response_done(make_gateway: GatewayFactory, fake: FakeRealtime) -> None:
    gateway = _gateway(make_gateway, fake)
    key = _create(gateway, budget_usd=1, budget_period="day")["key"]

    events, code = _run(answered_until_the_end(_ws(gateway, "pricey"), key))
    assert events[-2]["type"] == "response.done"
    assert events[-1]["type"] == "error" and events[-1]["error"]["code"] == "budget_exceeded"
    assert code == 1008

    async def refused() -> None:
        await connect(_ws(gateway, "pricey"), additional_headers={"Authorization": f"Bearer {key}"}, open_timeout=10)

    assert eventually(lambda: not _opens(refused))  # settled: the next session is refused at the door


def test_an_upstream_that_drops_ends_the_session_with_an_error_and_1011(
    make_gateway: GatewayFactory, fake: FakeRealtime
) -> None:
    gateway = _gateway(make_gateway, fake)
    fake.drop_after_responses = 1

    async def scenario() -> tuple[list[dict[str, Any]], int | None]:
        headers = {"Authorization": "Bearer " + _create(gateway)["key"]}
        async with connect(_ws(gateway), additional_headers=headers, open_timeout=10) as ws:
            await _until(ws, "session.created")
            await ws.send(json.dumps({"type": "response.create"}))
            return await _ending(ws)

    events, code = _run(scenario())
    assert events[-1]["type"] == "error" and events[-1]["error"]["code"] == "upstream_closed"
    assert code == 1011


def test_the_first_deployment_that_cannot_connect_falls_back(make_gateway: GatewayFactory, fake: FakeRealtime) -> None:
    gateway = _gateway(make_gateway, fake)

    async def scenario() -> None:
        headers = {"Authorization": "Bearer " + _create(gateway)["key"]}
        async with connect(_ws(gateway, "first-down"), additional_headers=headers, open_timeout=10) as ws:
            await _until(ws, "session.created")

    _run(scenario())
    assert len(fake.connections) == 1


@pytest.mark.parametrize(
    ("bound", "event", "code", "close"),
    [
        ("idle_timeout_seconds: 0.2", None, "idle_timeout", 1000),
        ("max_session_seconds: 0.3", None, "session_expired", 1000),
        ("max_event_bytes: 1024", {"type": "input_audio_buffer.append", "audio": "A" * 2000}, "event_too_large", 1009),
    ],
)
def test_each_bound_ends_the_session_with_an_error_and_a_close(
    make_gateway: GatewayFactory, fake: FakeRealtime, bound: str, event: Any, code: str, close: int
) -> None:
    gateway = _gateway(make_gateway, fake, f"realtime: {{{bound}}}\n")

    async def scenario() -> tuple[list[dict[str, Any]], int | None]:
        headers = {"Authorization": "Bearer " + _create(gateway)["key"]}
        async with connect(_ws(gateway), additional_headers=headers, open_timeout=10) as ws:
            await _until(ws, "session.created")
            if event is not None:
                await ws.send(json.dumps(event))
            return await _ending(ws)

    events, closed = _run(scenario())
    assert events[-1]["type"] == "error" and events[-1]["error"]["code"] == code
    assert closed == close


def test_sessions_per_key_are_bounded(make_gateway: GatewayFactory, fake: FakeRealtime) -> None:
    gateway = _gateway(make_gateway, fake, "realtime: {max_sessions_per_key: 1}\n")
    headers = {"Authorization": "Bearer " + _create(gateway)["key"]}

    async def scenario() -> int:
        async with connect(_ws(gateway), additional_headers=headers, open_timeout=10) as ws:
            await _until(ws, "session.created")
            try:
                await connect(_ws(gateway), additional_headers=headers, open_timeout=10)
            except InvalidStatus as refused:
                assert json.loads(refused.response.body or b"")["error"]["code"] == "too_many_sessions"
                return refused.response.status_code
        return 0

    assert _run(scenario()) == 429


def test_a_hundred_sessions_run_side_by_side(make_gateway: GatewayFactory, fake: FakeRealtime) -> None:
    gateway = _gateway(make_gateway, fake)
    headers = {"Authorization": "Bearer " + _create(gateway)["key"]}
    opened = asyncio.Event

    async def one(ready: asyncio.Event, counter: list[int]) -> int:
        async with connect(_ws(gateway), additional_headers=headers, open_timeout=20) as ws:
            await _until(ws, "session.created")
            counter[0] += 1
            if counter[0] == 100:
                ready.set()
            await asyncio.wait_for(ready.wait(), 20)  # all 100 are open at once
            await ws.send(json.dumps({"type": "response.create"}))
            done = (await _until(ws, "response.done"))[-1]
            return int(done["response"]["usage"]["total_tokens"])

    async def scenario() -> list[int]:
        ready, counter = opened(), [0]
        return list(await asyncio.gather(*(one(ready, counter) for _ in range(100))))

    assert _run(scenario()) == [USAGE["total_tokens"]] * 100
    assert len(fake.connections) == 100


def test_a_gateway_that_stops_lets_sessions_finish_their_drain_then_closes_them_1012(
    make_gateway: GatewayFactory, fake: FakeRealtime, loop_thread: LoopThread
) -> None:
    gateway = _gateway(make_gateway, fake, "realtime: {drain_seconds: 1}\n")
    server = gateway._server
    assert server is not None

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], int | None]:
        headers = {"Authorization": "Bearer " + _create(gateway)["key"]}
        async with connect(_ws(gateway), additional_headers=headers, open_timeout=10) as ws:
            await _until(ws, "session.created")
            loop_thread.loop.call_soon_threadsafe(server.stop_now)
            await asyncio.to_thread(
                eventually, lambda: server.should_exit and bool(gateway.app.runtime.realtime.sessions.draining)
            )
            await ws.send(json.dumps({"type": "response.create"}))  # the session goes on while it drains
            answered = await _until(ws, "response.done")
            events, code = await _ending(ws)
            return answered, events, code

    answered, events, code = _run(scenario())
    assert answered[-1]["type"] == "response.done"
    assert events[-1]["type"] == "error" and events[-1]["error"]["code"] == "service_restart"
    assert code == 1012


GUARDED = """
guardrails:
  - {name: no-cards, kind: pii, entities: [credit_card], action: block}
  - {name: emails, kind: pii, entities: [email], action: mask, mask_style: reversible, stage: input}
  - {name: secrets, kind: pii, entities: [secret], action: mask, mask_style: redact, stage: output}
server:
  guardrails: [no-cards, emails, secrets]
"""
SECRET = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2


def _text_item(text: str) -> str:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return json.dumps({"type": "conversation.item.create", "item": item})


def test_a_session_s_texts_pass_the_guardrails_both_ways(make_gateway: GatewayFactory, fake: FakeRealtime) -> None:
    gateway = _gateway(make_gateway, fake, GUARDED)
    key = _create(gateway)["key"]
    half = len(SECRET) // 2
    fake.deltas = ["Key ", SECRET[:half], SECRET[half:], " ok."]

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with connect(_ws(gateway), additional_headers={"Authorization": f"Bearer {key}"}) as ws:
            await _until(ws, "session.created")
            await ws.send(_text_item("Write to ada@example.com"))
            await _until(ws, "conversation.item.added")
            await ws.send(_text_item("My card is 4111 1111 1111 1111"))
            refused = await _until(ws, "error")
            await ws.send(json.dumps({"type": "response.create"}))
            return refused, await _until(ws, "response.done")

    refused, answered = _run(scenario())
    sent = [event for event in fake.connections[-1].events if event["type"] == "conversation.item.create"]
    assert [item["item"]["content"][0]["text"] for item in sent] == ["Write to <EMAIL_1>"]  # the card never left
    assert refused[-1]["error"]["code"] == "guardrail_blocked" and refused[-1]["error"]["param"] == "no-cards"
    for kind in ("response.output_text.delta", "response.output_audio_transcript.delta"):
        pieces = [event["delta"] for event in answered if event["type"] == kind]
        assert "".join(pieces) == "Key [REDACTED] ok.", pieces
    audio = b"".join(base64.b64decode(e["delta"]) for e in answered if e["type"] == "response.output_audio.delta")
    assert audio == PCM  # audio is not read: it passes as it came
    assert SECRET[:half] not in json.dumps(answered)


def test_a_response_a_guardrail_blocks_is_cancelled_and_its_rest_dropped(
    make_gateway: GatewayFactory, fake: FakeRealtime
) -> None:
    gateway = _gateway(make_gateway, fake, GUARDED)
    key = _create(gateway)["key"]
    fake.deltas = ["Your card: 4111 1111 ", "1111 1111. Done."]

    async def scenario() -> list[dict[str, Any]]:
        async with connect(_ws(gateway), additional_headers={"Authorization": f"Bearer {key}"}) as ws:
            await _until(ws, "session.created")
            await ws.send(json.dumps({"type": "response.create"}))
            events = await _until(ws, "response.done")
            await ws.send(_text_item("still here?"))  # the session goes on
            return events + await _until(ws, "conversation.item.added")

    events = _run(scenario())
    errors = [event["error"] for event in events if event["type"] == "error"]
    assert [(error["code"], error["param"]) for error in errors] == [("guardrail_blocked", "no-cards")]
    assert "4111 1111 1111" not in json.dumps(events)
    done = next(event for event in events if event["type"] == "response.done")
    assert done["response"]["status"] == "cancelled" and done["response"]["output"] == []
    assert eventually(lambda: any(e["type"] == "response.cancel" for e in fake.connections[-1].events))
