"""Two gateways in one process (`create_app` twice, as a test or an application embedding two does), each on a
socket of its own and called with the official client, share nothing: a key resting or refused on one is not on
the other, nor is its cool-down; a virtual key, a limit or a budget of one is unknown to the other; closing one
leaves the other serving; reloading one leaves the other as it was."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from babelgate.config import Config
from tests.conftest import checked_openai, start_gateway, started_openai, stop_gateway
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.scripted import Reply
from tests.fakes.servers import LoopThread, RunningApp

MASTERS = ("master-key-of-the-first-0123456789", "master-key-of-the-second-0123456789")
# Tails of letters no metric or timestamp spells (a key shows in /health by its last four characters).
FIRST_KEYS = ("sk-first-pool-one-QWXA", "sk-first-pool-two-QWXB")
SECOND_KEYS = ("sk-second-pool-one-ZKVA", "sk-second-pool-two-ZKVB")
SIDE_KEY = "sk-second-side-key-MNBV"
RELOADED_KEY = "sk-first-reloaded-key-HJPT"
FIRST_COOLDOWN, SECOND_COOLDOWN = 30.0, 0.3  # seconds a key rests after a 429 without Retry-After
HI = [{"role": "user", "content": "Hi"}]


def _first(fake: FakeOpenAI, keys: tuple[str, ...] = FIRST_KEYS, cooldown: float = FIRST_COOLDOWN) -> Config:
    return Config.model_validate(
        {
            "store": {"url": "memory"},
            "server": {"master_key": MASTERS[0]},
            "providers": {"pooled": {"type": "openai", "base_url": fake.base_url, "api_keys": keys}},
            "models": {"chat": {"provider": "pooled", "model": "gpt-4o-mini", "limits": {"rpm": 2}}},
            "routing": {"key_cooldown": cooldown},
        }
    )


def _second(fake: FakeOpenAI) -> Config:
    """A provider of the same name as the first's, on another upstream with other keys, and one of its own."""
    return Config.model_validate(
        {
            "store": {"url": "memory"},
            "server": {"master_key": MASTERS[1]},
            "providers": {
                "pooled": {"type": "openai", "base_url": fake.base_url, "api_keys": SECOND_KEYS},
                "side": {"type": "openai", "base_url": fake.base_url, "api_key": SIDE_KEY},
            },
            "models": {
                "chat": {"provider": "pooled", "model": "gpt-4o"},
                "side-chat": {"provider": "side", "model": "gpt-4o-mini"},
                # Each request of the fake (9 prompt tokens) costs $9: one spends the team's budget.
                "pricey": {"provider": "pooled", "model": "gpt-4o-mini", "price": {"input": 1000000, "output": 0}},
            },
            "routing": {"key_cooldown": SECOND_COOLDOWN},
            "teams": {"frugal": {"budget_usd": 5}},
        }
    )


@pytest.fixture(scope="module")
def _other_upstream(loop_thread: LoopThread) -> Iterator[FakeOpenAI]:
    yield from started_openai(loop_thread)


@pytest.fixture
def other_upstream(_other_upstream: FakeOpenAI) -> Iterator[FakeOpenAI]:
    yield from checked_openai(_other_upstream)


class Pair:
    """The two gateways, serving; `close` stops one before the test ends."""

    def __init__(self, loop_thread: LoopThread, first: Config, second: Config) -> None:
        self.loop_thread = loop_thread
        self.running: list[RunningApp] = []
        self.first = start_gateway(loop_thread, first, self.running)
        self.second = start_gateway(loop_thread, second, self.running)

    def close(self, gateway: RunningApp) -> None:
        self.running.remove(gateway)
        stop_gateway(self.loop_thread, gateway)

    def stop(self) -> None:
        for gateway in self.running:
            stop_gateway(self.loop_thread, gateway)


@pytest.fixture
def pair(loop_thread: LoopThread, upstream: FakeOpenAI, other_upstream: FakeOpenAI) -> Iterator[Pair]:
    started = Pair(loop_thread, _first(upstream), _second(other_upstream))
    yield started
    started.stop()


def _client(gateway: RunningApp, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10)


def _chat(gateway: RunningApp, model: str = "chat", key: str = "unused") -> str:
    with _client(gateway, key) as client:
        answer = client.chat.completions.create(model=model, messages=HI)  # type: ignore[arg-type]
    return answer.choices[0].message.content or ""


def _refused(gateway: RunningApp, model: str = "chat", key: str = "unused") -> openai.APIStatusError:
    with _client(gateway, key) as client, pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=model, messages=HI)  # type: ignore[arg-type]
    return caught.value


def _keys(gateway: RunningApp, provider: str = "pooled") -> dict[str, str]:
    """The provider's keys by their last four characters, and each one's state, as /health shows them."""
    health = httpx.get(gateway.url + "/health", timeout=10).json()
    (found,) = [p for p in health["providers"] if p["name"] == provider]
    return {key["key"]: key["state"] for key in found["keys"]}


def _rests(gateway: RunningApp, model: str, provider: str) -> float:
    """How many times a key of `provider` started to rest after a 429, serving `model` (/metrics)."""
    metrics = httpx.get(gateway.url + "/metrics", timeout=10).text
    line = f'babelgate_routing_events_total{{event="key_cooldowns",model="{model}",provider="{provider}"}} '
    return sum(float(row.removeprefix(line)) for row in metrics.splitlines() if row.startswith(line))


def _tail(key: str) -> str:
    return "…" + key[-4:]


def _sent_with(fake: FakeOpenAI) -> list[str]:
    return [
        r.headers["Authorization"].removeprefix("Bearer ")
        for r in fake.received
        if r.path.endswith("/chat/completions")
    ]


def _until(condition: Callable[[], bool], what: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _created(gateway: RunningApp, master: str, **fields: Any) -> str:
    """A new virtual key's secret: the gateway requires keys from then on."""
    created = _admin(gateway, master, "POST", **fields)
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


def _admin(gateway: RunningApp, master: str, method: str = "GET", **body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {master}"}
    if method == "POST":
        return httpx.post(gateway.url + "/admin/keys", json=body, headers=headers, timeout=10)
    return httpx.get(gateway.url + "/admin/keys", headers=headers, timeout=10)


def _rate_limited() -> Reply:
    return Reply(status=429, json={"error": {"message": "slow down", "type": "rate_limit_error"}})


def _unauthorized() -> Reply:
    return Reply(status=401, json={"error": {"message": "bad key", "type": "invalid_request_error"}})


def test_a_key_resting_or_refused_on_one_gateway_is_not_on_the_other(
    pair: Pair, upstream: FakeOpenAI, other_upstream: FakeOpenAI
) -> None:
    first, second = pair.first, pair.second
    upstream.script(_rate_limited())  # the first's first key rests for the first's cool-down
    assert _chat(first) == "Hello!"  # at once with its other key
    resting = _sent_with(upstream)[0]
    other_upstream.script(_unauthorized())  # the second's: one key refused
    assert _chat(second) == "Hello!"
    rejected = _sent_with(other_upstream)[0]
    other_upstream.script(_rate_limited())  # and its side key rests, for the second's cool-down
    assert _refused(second, "side-chat").status_code == 429  # a lone key: the upstream's 429 is the answer
    assert _rests(second, "side-chat", "side") == 1
    _until(lambda: _keys(second, "side") == {_tail(SIDE_KEY): "ok"}, "the second's key outlived its cool-down")
    # The second's cool-down is over; the first's key rests on, for the first's own.
    assert _keys(first)[_tail(resting)] == "cooling_down"
    assert sorted(_keys(first).values()) == ["cooling_down", "ok"]  # the second's refusal is not the first's
    assert _keys(second)[_tail(rejected)] == "rejected"
    assert sorted(_keys(second).values()) == ["ok", "rejected"]  # the first's rest is not the second's
    assert set(_sent_with(upstream)) <= set(FIRST_KEYS)
    assert set(_sent_with(other_upstream)) <= {*SECOND_KEYS, SIDE_KEY}
    first_pool = first.app.runtime.providers["pooled"].key_pool
    assert first_pool.cooldown == FIRST_COOLDOWN  # the second, built after it, set its own pools' only


def test_a_virtual_key_a_limit_or_a_budget_of_one_gateway_is_unknown_to_the_other(pair: Pair) -> None:
    first, second = pair.first, pair.second
    mine = _created(first, MASTERS[0], label="first's", rpm=1)
    theirs = _created(second, MASTERS[1], label="second's", team="frugal")
    spare = _created(second, MASTERS[1], label="second's spare")
    assert _chat(first, key=mine) == "Hello!"
    limited = _refused(first, key=mine)
    assert limited.status_code == 429 and limited.code == "rate_limit_exceeded"  # its limit, on the first
    assert _refused(second, key=mine).status_code == 401  # unknown to the second
    assert _admin(second, MASTERS[0]).status_code == 401  # and so is the first's master key
    assert _chat(second, "pricey", key=theirs) == "Hello!"  # $9 of the team's $5: spent
    spent = _refused(second, "pricey", key=theirs)
    assert spent.status_code == 429 and spent.code == "budget_exceeded"
    assert _refused(first, key=theirs).status_code == _refused(first, key=spare).status_code == 401
    assert [key["label"] for key in _admin(first, MASTERS[0]).json()["data"]] == ["first's"]
    assert sorted(key["label"] for key in _admin(second, MASTERS[1]).json()["data"]) == ["second's", "second's spare"]
    # The first's model allows two requests a minute; the second's model of the same name has no limit.
    assert [_chat(second, key=spare) for _ in range(3)] == ["Hello!"] * 3


def test_closing_one_gateway_leaves_the_other_serving(pair: Pair) -> None:
    first, second = pair.first, pair.second
    assert _chat(first) == _chat(second) == "Hello!"
    pair.close(first)
    with pytest.raises(httpx.ConnectError):
        httpx.get(first.url + "/health", timeout=10)
    assert _chat(second) == "Hello!"
    assert httpx.get(second.url + "/health", timeout=10).json()["status"] == "ok"
    key = _created(second, MASTERS[1], label="after the first closed")  # its store and key ring are open
    assert _chat(second, key=key) == "Hello!"


def test_reloading_one_gateway_leaves_the_other_as_it_was(
    pair: Pair, loop_thread: LoopThread, upstream: FakeOpenAI, other_upstream: FakeOpenAI
) -> None:
    first, second = pair.first, pair.second
    other_upstream.script(_unauthorized())
    assert _chat(second) == "Hello!"
    rejected = _sent_with(other_upstream)[0]
    models_before = httpx.get(second.url + "/v1/models", timeout=10).json()

    async def reload() -> None:  # as SIGHUP does, on the gateway's loop
        first.app.app.swap(_first(upstream, keys=(RELOADED_KEY,), cooldown=60.0))

    loop_thread.run(reload())
    assert _keys(first) == {_tail(RELOADED_KEY): "ok"}
    upstream.received.clear()
    assert _chat(first) == "Hello!" and _sent_with(upstream) == [RELOADED_KEY]
    # The second kept its config, its keys' states and its cool-down.
    assert httpx.get(second.url + "/v1/models", timeout=10).json() == models_before
    assert _keys(second)[_tail(rejected)] == "rejected"
    other_upstream.script(_rate_limited())
    assert _refused(second).status_code == 429  # its last key rests: no other is free
    assert _rests(second, "chat", "pooled") == 1
    _until(lambda: "ok" in _keys(second).values(), "the second's key rests for the first's new cool-down")
    assert _chat(second) == "Hello!"
