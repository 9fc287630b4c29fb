"""A Realtime session's loop (realtime/session.py) with a stub road: beta names for a beta client of a road that
speaks GA, usage summed per response, a client's malformed event answered and the session going on; client secrets
and the gateway's set of sessions (realtime/secrets.py, sessions.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from babelgate.errors import AuthenticationFailed, GatewayError, RateLimitExceeded
from babelgate.realtime.protocol import GA_TO_BETA, SessionUsage, beta_name, ga_name
from babelgate.realtime.secrets import ClientSecrets
from babelgate.realtime.session import Bounds, Session
from babelgate.realtime.sessions import Sessions

USAGE = {
    "input_tokens": 5,
    "output_tokens": 7,
    "input_token_details": {"text_tokens": 2, "audio_tokens": 3, "cached_tokens": 1},
    "output_token_details": {"text_tokens": 4, "audio_tokens": 3},
}


class GaRoad:
    """Answers every client event with a GA text delta and a `response.done`, as a translated road would."""

    name = "stub"
    speaks_client_names = False

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.closed = False

    async def send(self, event: dict[str, Any], raw: str) -> None:
        self.sent.append(event)
        self.events.put_nowait({"type": "response.output_text.delta", "delta": "hi"})
        self.events.put_nowait({"type": "response.done", "response": {"usage": USAGE}})

    async def receive(self) -> tuple[dict[str, Any], str] | None:
        event = await self.events.get()
        return None if event is None else (event, json.dumps(event))

    async def close(self) -> None:
        self.closed = True


class Client:
    def __init__(self, messages: list[str]) -> None:
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        for message in messages:
            self.inbox.put_nowait(message)
        self.got: list[dict[str, Any]] = []
        self.errors: list[GatewayError] = []
        self.code: int | None = None

    async def receive(self) -> str | bytes | None:
        return await self.inbox.get()

    async def send(self, text: str) -> None:
        self.got.append(json.loads(text))
        if self.got[-1]["type"] == "response.done" and sum(e["type"] == "response.done" for e in self.got) == 2:
            self.inbox.put_nowait(None)  # the client leaves after its second answer

    async def send_error_event(self, error: GatewayError) -> None:
        self.errors.append(error)

    async def close(self, code: int) -> None:
        self.code = code


def _session(road: GaRoad, client: Client, *, beta: bool, usage: SessionUsage) -> Session:
    async def done(turn: dict[str, Any]) -> None:
        pass

    return Session(road, client, Bounds(60, 60, 1 << 20), beta=beta, usage=usage, response_done=done)


@pytest.mark.parametrize("beta", [False, True])
async def test_a_road_that_speaks_ga_is_renamed_for_a_beta_client_and_usage_is_summed(beta: bool) -> None:
    road, usage = GaRoad(), SessionUsage()
    client = Client(['{"type": "response.create"}', "not json", '{"type": "response.create"}'])
    ending = await _session(road, client, beta=beta, usage=usage).run()
    assert ending.client_left and road.closed and client.code is None
    kinds = [event["type"] for event in client.got]
    delta = "response.text.delta" if beta else "response.output_text.delta"
    assert kinds == [delta, "response.done", delta, "response.done"]
    assert [error.code for error in client.errors] == ["invalid_event"]  # and the session went on
    assert (usage.turns, usage.input_tokens, usage.output_tokens, usage.input_audio, usage.output_text) == (
        2,
        10,
        14,
        6,
        8,
    )


def test_every_renamed_event_has_its_way_back() -> None:
    for ga, beta in GA_TO_BETA.items():
        assert beta_name(ga) == beta and ga_name(beta) == ga
    assert beta_name("response.done") == "response.done"


def test_a_client_secret_is_kept_by_its_hash_claimed_once_and_refused_once_expired() -> None:
    secrets = ClientSecrets()
    value, grant = secrets.issue("vk_1", None, {"model": "voice"}, 60)
    assert value.startswith("ek_") and value not in repr(secrets._grants)
    assert secrets.claim(value.encode()) is grant
    with pytest.raises(AuthenticationFailed):  # claimed: no second session
        secrets.claim(value.encode())
    secrets.give_back(value.encode(), grant)  # its session was refused before it opened
    assert secrets.claim(value.encode()) is grant
    with pytest.raises(AuthenticationFailed):
        secrets.claim(b"ek_unknown")
    secrets.give_back(value.encode(), type(grant)(grant.key_id, None, {}, 0.0))  # expired since: not given back
    assert len(secrets) == 0
    later, _ = secrets.issue("vk_1", None, {}, 60)
    secrets._grants = {digest: type(grant)(g.key_id, None, {}, 0.0) for digest, g in secrets._grants.items()}
    with pytest.raises(AuthenticationFailed) as expired:
        secrets.claim(later.encode())
    assert expired.value.code == "client_secret_expired"


def test_sessions_are_counted_per_key() -> None:
    sessions = Sessions()
    first = sessions.reserve("vk_1", 2)
    sessions.reserve("vk_1", 2)
    with pytest.raises(RateLimitExceeded):
        sessions.reserve("vk_1", 2)
    sessions.reserve("vk_2", 2)
    sessions.release(first)
    sessions.reserve("vk_1", 2)


async def test_a_drain_stops_the_sessions_still_running_with_1012() -> None:
    stopped: list[int] = []

    class Running:
        def stop(self, error: GatewayError, code: int) -> None:
            stopped.append(code)
            sessions.discard(self)

    sessions = Sessions()
    sessions.add(Running())
    await sessions.drain(0.05)
    assert stopped == [1012] and sessions.draining and len(sessions) == 0
