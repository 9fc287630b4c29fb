"""Round-robin over upstream keys (providers/key_pool.py), and the pool's verdict on a request's key
(providers/transport.send_checked): a 429 rests it, a 401/403 takes it out, and the error says whether
another key of the pool is free (`other_key_free`, which the router reads)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from babelgate.errors import GatewayError, UpstreamAuthFailed, UpstreamRateLimited
from babelgate.providers.base import CallNotes
from babelgate.providers.key_pool import KeyPool
from tests.unit.test_openai_provider import KEY_A, KEY_B, StubClient, StubResponse, body, provider


def test_round_robin() -> None:
    pool = KeyPool(["a", "b", "c"])
    assert [pool.items[pool.pick()] for _ in range(7)] == ["a", "b", "c", "a", "b", "c", "a"]
    assert len(pool) == 3


def test_single_entry() -> None:
    pool = KeyPool([{"Authorization": "Bearer k"}])
    assert pool.pick() == pool.pick() == 0


def test_empty_pool_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^a key pool needs at least one entry$"):
        KeyPool([])


def _refusal(status: int) -> StubResponse:
    return StubResponse(status, orjson.dumps({"error": {"message": "no"}}), headers={"retry-after": "30"})


async def _failed(client: StubClient, **config: Any) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        await provider(client, **config).relay("chat", body(), "gpt-4o", CallNotes())
    return caught.value


def _key_sent(client: StubClient, n: int) -> str:
    authorization: str = client.sent[n]["headers"]["Authorization"]
    return authorization.removeprefix("Bearer ")


async def test_a_429_rests_the_key_and_says_another_is_free() -> None:
    client = StubClient(_refusal(429), _refusal(429))
    chosen = provider(client, api_keys=[KEY_A, KEY_B])
    verdicts = []
    for _ in range(2):
        with pytest.raises(UpstreamRateLimited) as caught:
            await chosen.relay("chat", body(), "gpt-4o", CallNotes())
        verdicts.append(caught.value.other_key_free)
    assert verdicts == [True, False]  # then both rest
    assert [_key_sent(client, 0), _key_sent(client, 1)] == [KEY_A, KEY_B]
    assert [state["state"] for state in chosen.key_pool.states()] == ["cooling_down", "cooling_down"]


async def test_a_lone_key_has_no_other() -> None:
    error = await _failed(StubClient(_refusal(429)))
    assert isinstance(error, UpstreamRateLimited) and error.other_key_free is False


async def test_a_rejected_key_is_out_and_the_other_is_free() -> None:
    client = StubClient(_refusal(401))
    chosen = provider(client, api_keys=[KEY_A, KEY_B])
    with pytest.raises(UpstreamAuthFailed) as caught:
        await chosen.relay("chat", body(), "gpt-4o", CallNotes())
    assert caught.value.other_key_free is True
    assert [state["state"] for state in chosen.key_pool.states()] == ["rejected", "ok"]


async def test_any_other_failure_leaves_the_keys_alone() -> None:
    error = await _failed(StubClient(_refusal(500)), api_keys=[KEY_A, KEY_B])
    assert error.other_key_free is False
