"""A deployment that answered 429 with `Retry-After` rests for the whole router, not only for the
request that got it: later requests go to the other deployment until the rest is over, on this
instance and (through Redis) on the others. Before, the router went on sending about half of
the next second's traffic to the resting deployment although the other one's key was free."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from babelgate.config import load_config
from babelgate.providers import PROVIDER_TYPES
from tests.conftest import CLOSED_PORT_URL, start_gateway, stop_gateway
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.scripted import Reply
from tests.fakes.servers import LoopThread, RunningApp
from tests.services import REDIS_TIMEOUT, redis_url  # noqa: F401 (a fixture)
from tests.waiting import eventually

KEYS = {"RESTING_KEY": "sk-resting-0000-AAAA", "FREE_KEY": "sk-free-1111-BBBB"}
# Equal weights: without the rest, every request had even odds of the resting deployment.
MODELS = """\
models:
  pair:
    deployments:
      - {provider: resting, model: r-model}
      - {provider: free, model: f-model}
"""
RATE_LIMITED = Reply(
    status=429,
    headers={"Retry-After": "1"},
    json={"error": {"message": "slow down", "type": "rate_limit_error", "param": None, "code": "rate_limit_exceeded"}},
)


@pytest.fixture
def fakes(loop_thread: LoopThread) -> Iterator[dict[str, FakeOpenAI]]:
    started = {name: FakeOpenAI() for name in ("resting", "free")}
    for fake in started.values():
        loop_thread.run(fake.start())
    yield started
    for fake in started.values():
        loop_thread.run(fake.stop())


@pytest.fixture
def gateways(loop_thread: LoopThread, fakes: dict[str, FakeOpenAI], tmp_path: Any) -> Iterator[Any]:
    running: list[RunningApp] = []

    def start(extra: str = "") -> RunningApp:
        path = tmp_path / f"pair{len(running)}.yaml"
        path.write_text(
            "providers:\n"
            f"  resting: {{type: openai, base_url: '{fakes['resting'].base_url}', api_key: env:RESTING_KEY}}\n"
            f"  free: {{type: openai, base_url: '{fakes['free'].base_url}', api_key: env:FREE_KEY}}\n"
            f"{MODELS}{extra}"
        )
        environ = {**KEYS, "OLLAMA_BASE_URL": CLOSED_PORT_URL, "BABELGATE_STORE_URL": "memory"}
        return start_gateway(loop_thread, load_config(path, environ, available_types=PROVIDER_TYPES), running)

    yield start
    for gateway in running:
        stop_gateway(loop_thread, gateway)


def _chats(fake: FakeOpenAI) -> int:
    return sum(1 for r in fake.received if r.path.endswith("/chat/completions"))


def _served_by(client: openai.OpenAI) -> tuple[str, float]:
    """Which deployment answered (the route header's last entry) and when the answer was back."""
    raw = client.chat.completions.with_raw_response.create(model="pair", messages=[{"role": "user", "content": "Hi"}])
    raw.parse()
    return raw.headers["x-babelgate-route"].split(", ")[-1], time.monotonic()


def _client(gateway: RunningApp) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=20)


def test_a_deployment_resting_after_retry_after_gets_no_traffic_until_it_ends(
    gateways: Any, fakes: dict[str, FakeOpenAI]
) -> None:
    gateway = gateways()
    fakes["resting"].script(RATE_LIMITED)
    with _client(gateway) as client:
        # The first request may go either way; until one meets the 429, the test sends another.
        for _ in range(40):
            sent = time.monotonic()
            route, _ = _served_by(client)
            if _chats(fakes["resting"]):
                break
        assert _chats(fakes["resting"]) == 1, "no request reached the deployment that rate-limits"
        assert route == "free/f-model=ok"  # the 429 failed over
        rest_ends = sent + 1.0  # the rest began after `sent`: it ends after this
        answers = [_served_by(client) for _ in range(20)]
        during = [route for route, back in answers if back < rest_ends]
        assert len(during) >= 5, "the machine was too slow to test within the second"  # not expected
        assert _chats(fakes["resting"]) == 1 + sum(route.startswith("resting/") for route, _ in answers)
        assert all(route == "free/f-model=ok" for route in during), during
        # Once the rest is over, the deployment serves again (equal weights: within a few requests).
        assert eventually(lambda: _served_by(client)[0] == "resting/r-model=ok", 5.0)


def test_a_rest_learned_through_redis_keeps_other_instances_away_too(
    gateways: Any,
    fakes: dict[str, FakeOpenAI],
    redis_url: str,  # noqa: F811
) -> None:
    shared = f"redis: {{url: '{redis_url}', prefix: 'bgtest-{uuid.uuid4().hex[:8]}:', timeout: {REDIS_TIMEOUT}}}\n"
    first, second = gateways(shared), gateways(shared)
    fakes["resting"].script(Reply(status=429, headers={"Retry-After": "3"}, json=RATE_LIMITED.json))
    with _client(first) as one, _client(second) as other:
        for _ in range(40):
            sent = time.monotonic()
            one.chat.completions.create(model="pair", messages=[{"role": "user", "content": "Hi"}])
            if _chats(fakes["resting"]):
                break
        assert _chats(fakes["resting"]) == 1
        # The other instance hears of the rest through Redis (its /health shows the key resting).
        assert eventually(lambda: _key_state(second, "resting") == "cooling_down", 2.0)
        answers = [_served_by(other) for _ in range(20)]
        during = [route for route, back in answers if back < sent + 3.0]
        assert len(during) >= 5
        assert all(route == "free/f-model=ok" for route in during), during


def _key_state(gateway: RunningApp, provider: str) -> str | None:
    health = httpx.get(gateway.url + "/health", timeout=5).json()
    return next((str(entry["state"]) for entry in health["providers"] if entry["name"] == provider), None)
