"""Round-robin over upstream keys (providers/key_pool.py), and the pool's verdict on a request's key
(providers/transport.send_checked): a 429 rests it, a 401/403 takes it out, and the error says whether
another key of the pool is free (`other_key_free`, which the router reads)."""

from __future__ import annotations

from typing import Any, Final

import orjson
import pytest

from babelgate.config import ProviderConfig, ServerConfig
from babelgate.errors import GatewayError, UpstreamAuthFailed, UpstreamRateLimited
from babelgate.http import UpstreamClient
from babelgate.providers import build_provider
from babelgate.providers.base import CallNotes
from babelgate.providers.key_pool import KeyPool, KeyPools
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


# Each provider type in the shapes that build key pools of their own: a cloud's roads to partner models each
# have one (Vertex with a project, Azure's two roads), a bearer-keyed Bedrock has one per key set.
SHAPES: Final = {
    "openai": {"api_keys": ("k1", "k2")},
    "anthropic": {"api_keys": ("k1",)},
    "gemini": {"api_keys": ("k1",)},
    "mistral": {"api_keys": ("k1",)},
    "bedrock": {"api_keys": ("k1",), "region": "us-east-1"},
    "bedrock-signed": {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret", "region": "us-east-1"},
    "vertex": {"project": "p", "location": "us-east5"},
    "vertex-express": {"api_keys": ("k1",)},
    "azure": {"api_keys": ("k1",), "base_url": "https://resource.openai.azure.com"},
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_provider_names_every_key_pool_it_built(shape: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway sets the cool-down and shares the rests of the pools `key_pools()` names (assembly/upstreams.py):
    a pool a provider built and did not name would keep the default cool-down and never hear another instance."""
    built: list[KeyPool[Any]] = []
    original = KeyPool.__init__

    def recording(pool: KeyPool[Any], *args: Any, **kwargs: Any) -> None:
        original(pool, *args, **kwargs)
        built.append(pool)

    monkeypatch.setattr(KeyPool, "__init__", recording)
    kind = shape.partition("-")[0]
    made = build_provider(kind, ProviderConfig(type=kind, **SHAPES[shape]), ServerConfig(), UpstreamClient())
    assert built and sorted(map(id, made.key_pools())) == sorted(map(id, built)), shape
    assert made.key_pool in made.key_pools()


def test_a_gateways_pools_hear_of_rests_and_learn_them_by_provider() -> None:
    pools = KeyPools()
    mine, other = KeyPool(["a", "b"], ["…aaaa", "…bbbb"], provider="p"), KeyPool(["c"], provider="q")
    heard: list[tuple[str, str]] = []
    pools.rest_listeners.append(lambda provider, label, _until: heard.append((provider, label)))
    pools.adopt(mine)
    pools.adopt(other)
    mine.rest(1, 30)
    assert heard == [("p", "…bbbb")]
    assert pools.of("p") == [mine] and pools.of("q") == [other]
    unadopted = KeyPool(["d"], provider="p")
    unadopted.rest(0, 30)  # another gateway's pool: nobody here hears of it
    assert heard == [("p", "…bbbb")] and unadopted not in pools.of("p")
