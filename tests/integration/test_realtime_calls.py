"""Realtime calls over WebRTC on `POST /v1/realtime/calls`, relayed to the fake OpenAI upstream's own
(tests/fakes/openai_realtime.py): the SDP offer goes up with the upstream's key and model, the SDP answer and the
call's `Location` come back; raw HTTP, the official SDK's `client.realtime.calls`, client secrets, refusals."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import UPSTREAM_KEY, GatewayFactory
from tests.fakes.openai_realtime import USAGE, FakeRealtime, answer_for
from tests.integration.test_realtime import MODEL, UPSTREAM_MODEL, _gateway, _realtime, _run, _usage, _ws, fake
from tests.integration.test_virtual_keys import _create

__all__ = ["_realtime", "fake"]  # the fixtures, shared with the WebSocket door's tests

# A browser's offer, cut to what an SDP needs (the fake checks it begins with v=0; the gateway does too).
OFFER = (
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"
)


def _post_offer(gateway: Any, key: str, query: str = f"?model={MODEL}", body: str = OFFER) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/realtime/calls" + query,
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/sdp"},
        timeout=10,
    )


def test_an_sdp_offer_is_relayed_and_the_answer_and_the_call_come_back(
    make_gateway: GatewayFactory, fake: FakeRealtime, tmp_path: Path
) -> None:
    gateway = _gateway(make_gateway, fake, store=tmp_path / "ledger.db")
    key = _create(gateway)["key"]
    response = _post_offer(gateway, key)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/sdp"
    assert response.text == answer_for(OFFER)
    (call,) = fake.calls
    assert response.headers["location"] == f"/v1/realtime/calls/{call.call_id}"
    assert call.sdp == OFFER
    assert call.session == {"type": "realtime", "model": UPSTREAM_MODEL}  # the upstream's name, not the public one
    assert call.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"  # never the caller's key upstream
    assert key not in json.dumps(call.headers)

    hung = httpx.post(
        gateway.url + response.headers["location"] + "/hangup", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert hung.status_code == 200, hung.text
    assert fake.hangups == [call.call_id]

    (row,) = [r for r in _usage(gateway, "?group_by=route") if r["route"] == "realtime"]
    assert row["requests"] == 1 and row["prompt_tokens"] == 0  # the media never pass the gateway: no tokens
    database = sqlite3.connect(tmp_path / "ledger.db")
    query = "SELECT status, model_requested, realtime FROM babelgate_ledger WHERE route = 'realtime'"
    (record,) = database.execute(query)
    database.close()
    assert record[:2] == (201, MODEL)
    assert json.loads(record[2]) == {"road": "webrtc", "call_id": call.call_id}


def test_the_sdk_creates_a_call_with_its_session_and_hangs_up(make_gateway: GatewayFactory, fake: FakeRealtime) -> None:
    gateway = _gateway(make_gateway, fake)
    key = _create(gateway)["key"]
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10) as client:
        raw = client.realtime.calls.with_raw_response.create(
            sdp=OFFER, session={"type": "realtime", "model": MODEL, "instructions": "Be brief."}
        )
        assert raw.status_code == 201
        assert raw.parse().content.decode() == answer_for(OFFER)
        call_id = raw.headers["location"].rsplit("/", 1)[-1]
        client.realtime.calls.hangup(call_id)
    (call,) = fake.calls
    assert call.content_type.startswith("multipart/form-data")
    assert call.session == {"type": "realtime", "model": UPSTREAM_MODEL, "instructions": "Be brief."}
    assert call_id == call.call_id and fake.hangups == [call_id]


def test_a_client_secret_makes_a_call_with_its_session_settings(
    make_gateway: GatewayFactory, fake: FakeRealtime
) -> None:
    gateway = _gateway(make_gateway, fake)
    key = _create(gateway)["key"]
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10) as client:
        secret = client.realtime.client_secrets.create(
            session={"type": "realtime", "model": MODEL, "instructions": "Speak French."}
        )
    response = _post_offer(gateway, secret.value, query="")  # as a browser posts it: the model is the secret's
    assert response.status_code == 201, response.text
    (call,) = fake.calls
    assert call.session == {"type": "realtime", "model": UPSTREAM_MODEL, "instructions": "Speak French."}
    # Another key does not reach the call.
    other = _create(gateway)["key"]
    refused = httpx.post(
        gateway.url + response.headers["location"] + "/hangup", headers={"Authorization": f"Bearer {other}"}, timeout=10
    )
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "call_not_found"
    assert fake.hangups == []


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("bad key", 401, "invalid_api_key"),
        ("model not allowed", 403, "model_not_allowed"),
        ("no webrtc", 400, "unsupported_capability"),
        ("no model", 400, "missing_model"),
        ("not an sdp", 400, None),
    ],
)
def test_refusals_are_openai_errors(
    make_gateway: GatewayFactory, fake: FakeRealtime, case: str, status: int, code: str | None
) -> None:
    gateway = _gateway(make_gateway, fake)
    key = _create(gateway, models=[MODEL, "claude"])["key"]
    response = {
        "bad key": lambda: _post_offer(gateway, "sk-wrong"),
        "model not allowed": lambda: _post_offer(gateway, key, "?model=other-voice"),
        "no webrtc": lambda: _post_offer(gateway, key, "?model=claude"),
        "no model": lambda: _post_offer(gateway, key, ""),
        "not an sdp": lambda: _post_offer(gateway, key, body="hello"),
    }[case]()
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"} and error["code"] == code
    if case == "not an sdp":
        assert error["param"] == "sdp"
    assert fake.calls == []


def test_an_upstream_refusal_comes_back_as_an_openai_error(make_gateway: GatewayFactory, fake: FakeRealtime) -> None:
    gateway = _gateway(make_gateway, fake)
    fake.refuse_status = 400
    response = _post_offer(gateway, _create(gateway)["key"])
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert "overloaded" in error["message"] and error["type"] == "invalid_request_error"
    with (
        openai.OpenAI(
            base_url=gateway.url + "/v1", api_key=_create(gateway)["key"], max_retries=0, timeout=10
        ) as client,
        pytest.raises(openai.BadRequestError),
    ):
        client.realtime.calls.create(sdp=OFFER, session={"type": "realtime", "model": MODEL})


def test_a_server_watches_a_call_through_its_sideband_and_the_ledger_gets_its_tokens(
    make_gateway: GatewayFactory, fake: FakeRealtime, tmp_path: Path
) -> None:
    gateway = _gateway(make_gateway, fake, store=tmp_path / "ledger.db")
    key = _create(gateway)["key"]
    location = _post_offer(gateway, key).headers["location"]
    call_id = location.rsplit("/", 1)[-1]

    async def scenario() -> list[Any]:
        client = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10)
        async with client.realtime.connect(call_id=call_id) as connection:
            created = await connection.recv()
            assert created.type == "session.created" and created.session.model == MODEL  # type: ignore[union-attr]
            await connection.response.create()
            events = []
            async for event in connection:
                events.append(event)
                if event.type == "response.done":
                    return events
        return events

    events = _run(scenario())
    assert events[-1].type == "response.done"
    (watched,) = fake.connections
    assert watched.path == f"/v1/realtime?call_id={call_id}"
    assert watched.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    sessions = [r for r in _usage(gateway, "?group_by=route") if r["route"] == "realtime"]
    assert sum(r["prompt_tokens"] for r in sessions) == USAGE["input_tokens"]  # the sideband saw the usage

    other = _create(gateway)["key"]

    async def stranger() -> None:
        await connect(
            _ws(gateway, "").replace("model=", f"call_id={call_id}"),
            additional_headers={"Authorization": f"Bearer {other}"},
            open_timeout=10,
        )

    with pytest.raises(InvalidStatus) as refused:
        _run(stranger())
    assert refused.value.response.status_code == 404
