"""A virtual key's request limits: per minute and at once, refused with 429 in the frontend's
format with OpenAI's rate-limit headers, and exact across two gateway processes through Redis."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from babelgate.errors import RateLimitExceeded
from babelgate.governance.rate_limits import Limits, RateLimiter, Scope, reset_text
from babelgate.headers import pairs
from babelgate.redis_link import RedisLink
from tests.conftest import CLOSED_PORT_URL, GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, completion
from tests.fakes.scripted import Reply
from tests.integration.test_cli_serve import _free_port, _wait_ready
from tests.integration.test_virtual_keys import ADMIN, MASTER, _create, _gateway
from tests.services import REDIS_TIMEOUT, redis_url  # noqa: F401 (a fixture)

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}


def _post(url: str, key: str) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"}, timeout=10)


def test_requests_per_minute_are_counted_and_announced(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = _gateway(make_gateway)
    key = _create(gateway, rpm=3)["key"]
    answers = [_post(gateway.url, key) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-remaining-requests"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["x-ratelimit-limit-requests"] == "3" for a in answers)
    refused = answers[-1]
    assert 55 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert "3 requests per minute" in refused.json()["error"]["message"]
    assert len([r for r in upstream.received if r.path.endswith("/chat/completions")]) == 3
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=60) as client,
        pytest.raises(openai.RateLimitError),
    ):
        client.chat.completions.create(**CHAT)  # type: ignore[call-overload]


def test_requests_at_once_are_limited(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = _gateway(make_gateway)
    key = _create(gateway, max_concurrent=1)["key"]
    upstream.chat_responder = lambda body: Reply(json=completion("slow"), first_byte_delay=0.5)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(lambda _: _post(gateway.url, key).status_code, range(2)))
    assert statuses == [200, 429]
    assert _post(gateway.url, key).status_code == 200  # the slot came back


def test_a_key_without_limits_gets_no_limit_headers(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = _gateway(make_gateway)
    answer = _post(gateway.url, _create(gateway)["key"])
    assert answer.status_code == 200 and "x-ratelimit-limit-requests" not in answer.headers


async def test_a_redis_outage_falls_back_to_the_instance_s_own_count() -> None:
    link = RedisLink("redis://127.0.0.1:9/0")
    limiter = RateLimiter(link)
    scopes = [Scope("key", "k", Limits(rpm=2))]
    for _ in range(2):
        await limiter.admit(scopes, 10)
    with pytest.raises(RateLimitExceeded):
        await limiter.admit(scopes, 10)
    await link.close()


def test_reset_times_read_as_openai_writes_them() -> None:
    assert [reset_text(s) for s in (0.25, 1.0, 6.2, 75.0)] == ["250ms", "1s", "7s", "1m15s"]


# -- exact across two processes -------------------------------------------------------------------------

CONFIG = """\
redis: {{url: '{redis}', prefix: '{prefix}', timeout: {redis_timeout}}}
store: {{url: 'sqlite:{store}'}}
server: {{master_key: env:MASTER}}
providers:
  openai: {{type: openai, base_url: '{base_url}', api_key: env:UPSTREAM}}
models:
  pricey: {{provider: openai, model: gpt-4o-mini, price: {{input: 1000000, output: 0}}}}
"""


@pytest.fixture
def two_gateways(tmp_path: Path, upstream: FakeOpenAI, redis_url: str) -> Iterator[tuple[str, str]]:  # noqa: F811
    config = tmp_path / "limits.yaml"
    config.write_text(
        CONFIG.format(
            redis=redis_url,
            redis_timeout=REDIS_TIMEOUT,
            prefix=f"bgtest-{uuid.uuid4().hex[:8]}:",
            store=tmp_path / "shared.db",
            base_url=upstream.base_url,
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL", "_API_KEYS"))}
    env.update({"OLLAMA_BASE_URL": CLOSED_PORT_URL, "MASTER": MASTER, "UPSTREAM": "sk-upstream-0000"})
    processes, urls = [], []
    try:
        for _ in range(2):
            port = _free_port()
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "babelgate.cli", "serve", "--config", str(config), "--port", str(port)],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
            _wait_ready(urls[-1], processes[-1])
        yield urls[0], urls[1]
    finally:
        for process in processes:
            process.terminate()
            process.communicate(timeout=10)


def test_two_processes_admit_exactly_the_limit_between_them(
    two_gateways: tuple[str, str], upstream: FakeOpenAI
) -> None:
    first, second = two_gateways
    created = httpx.post(first + "/admin/keys", json={"rpm": 10}, headers=ADMIN).json()
    key: Any = created["key"]
    _seen_by_both(first, second, key)
    # 30 at once, alternating between the two gateways: 10 between them.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda n: _post(first if n % 2 else second, key).status_code, range(30)))
    assert statuses.count(200) == 10 and statuses.count(429) == 20


def _seen_by_both(first: str, second: str, key: str) -> None:
    """Waits until the second instance has read the key the first made: until then it has no virtual key and is
    open, so a request with the key would pass it uncounted."""
    deadline = time.monotonic() + 10
    while httpx.get(second + "/health", timeout=10).json()["access"] != "keys_required":
        assert time.monotonic() < deadline, "the second instance never read the new key from the store"
        time.sleep(0.05)
    assert _post(second, "sk-bg-not-a-key").status_code == 401


def test_requests_at_once_are_counted_across_processes(two_gateways: tuple[str, str], upstream: FakeOpenAI) -> None:
    first, second = two_gateways
    key: Any = httpx.post(first + "/admin/keys", json={"max_concurrent": 1}, headers=ADMIN).json()["key"]
    _seen_by_both(first, second, key)
    upstream.chat_responder = lambda body: Reply(json=completion("slow"), first_byte_delay=0.6)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(lambda url: _post(url, key).status_code, (first, second)))
    assert statuses == [200, 429]
    assert _post(second, key).status_code == 200  # the slot came back, wherever it was taken


def test_a_budget_is_shared_across_processes(two_gateways: tuple[str, str], upstream: FakeOpenAI) -> None:
    first, second = two_gateways
    key: Any = httpx.post(first + "/admin/keys", json={"budget_usd": 20}, headers=ADMIN).json()["key"]
    _seen_by_both(first, second, key)

    def priced(url: str) -> int:
        body = {"model": "pricey", "messages": [{"role": "user", "content": "Hi"}]}
        return httpx.post(
            url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10
        ).status_code

    # $9 a request: two pass on either instance, then both refuse (Redis holds the running sum).
    assert [priced(first), priced(second), priced(first)] == [200, 200, 200]
    assert [priced(second), priced(first)] == [429, 429]


async def test_tokens_and_scopes_through_redis(redis_url: str) -> None:  # noqa: F811
    link = RedisLink(redis_url)
    limiter = RateLimiter(link, prefix=f"bgtest-{uuid.uuid4().hex[:8]}:")
    scopes = [Scope("key", "k", Limits(rpm=5)), Scope("team", "t", Limits(tpm=100, max_concurrent=1))]
    headers: list[tuple[bytes, bytes]] = []
    first = await limiter.admit(scopes, 30, headers)
    written = pairs(headers)  # the headers as any server takes them (the gateway writes them as lines)
    assert (b"x-ratelimit-remaining-tokens", b"70") in written and (b"x-ratelimit-remaining-requests", b"4") in written
    with pytest.raises(RateLimitExceeded) as busy:  # the team's one request at once is taken
        await limiter.admit(scopes, 30)
    assert busy.value.code == "concurrency_limit_exceeded"
    await limiter.finish(first, 90)  # it used 90 tokens, not 30
    refused: list[tuple[bytes, bytes]] = []
    with pytest.raises(RateLimitExceeded) as over:
        await limiter.admit(scopes, 30, refused)
    assert over.value.message_key == "tokens_per_minute_limited"
    # Refused by the team: the key's count did not move (all scopes or none).
    written = pairs(refused)
    assert (b"x-ratelimit-remaining-requests", b"4") in written and (b"x-ratelimit-remaining-tokens", b"10") in written
    small = await limiter.admit(scopes, 5)  # 90 + 5 fits
    await limiter.finish(small, 5)
    await link.close()
