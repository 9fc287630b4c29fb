"""Redis outages under load, against a private redis-server this module starts (the machine's shared
Redis is never stopped): a burst of concurrent rate-limited requests holds at most the pool's
connections; a hung Redis costs one timeout, after which requests do not wait on it at all; a killed
Redis that comes back closes the breaker, and limits are counted in Redis again (redis_link.py)."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import redis

from babelgate.redis_link import DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT
from tests.conftest import GatewayFactory
from tests.fakes.servers import RunningApp
from tests.integration.test_virtual_keys import MASTER, _create, _gateway
from tests.many_instances import free_port
from tests.services import debian_binary
from tests.waiting import eventually

BURST = 200
AFTER_THE_FIRST = 50


class PrivateRedis:
    """A redis-server of the test's own on a free port: hung with SIGSTOP, killed and started again."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary, self.directory, self.port = binary, directory, free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert eventually(self._answers, 10), "the private redis-server did not start"

    def _answers(self) -> bool:
        try:
            with self.admin() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def admin(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def gateway_connections(self) -> int:
        """Connections open to this Redis, other than the one asking."""
        with self.admin() as client:
            return len(client.client_list()) - 1

    def hang(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)  # the kernel still accepts connections; nothing answers

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(debian_binary("redis-server", "redis-server"), tmp_path)
    yield server
    server.kill()


def _limited_gateway(
    make_gateway: GatewayFactory, url: str, timeout: float | None = None
) -> tuple[RunningApp, str, str]:
    """A gateway sharing state through `url`, and a virtual key limited to far more requests than
    the test sends (every request is counted in Redis, none refused). `timeout`: Redis's deadline, when
    not the default."""
    if timeout is None:
        gateway = _gateway(make_gateway, BABELGATE_REDIS_URL=url)
    else:
        gateway = make_gateway(f"redis: {{url: '{url}', timeout: {timeout}}}\n", env={"BABELGATE_MASTER_KEY": MASTER})
    created = _create(gateway, rpm=100_000)
    return gateway, created["key"], created["id"]


async def _chat(client: openai.AsyncOpenAI, number: int) -> None:
    # Cached per request: each answer is looked up and stored, so the cache uses Redis as well.
    await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"Hi {number}"}],
        extra_headers={"x-babelgate-cache-ttl": "60"},
    )


def _client(gateway: RunningApp, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=gateway.url + "/v1",
        api_key=key,
        max_retries=0,
        timeout=30,
        http_client=httpx.AsyncClient(limits=httpx.Limits(max_connections=BURST), timeout=60),
    )


def _redis_up(gateway: RunningApp) -> float | None:
    value: float | None = gateway.app.runtime.metrics.registry.get_sample_value("babelgate_redis_up")
    return value


async def test_a_burst_of_limited_requests_holds_at_most_the_pool_of_connections(
    make_gateway: GatewayFactory, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="babelgate.redis")
    # Redis's deadline well above the default 0.25 s: on a machine loaded by other work (CI once, at
    # twice its usual time) a call can outlast the default, and an outage would be declared for the load
    # of the machine, not for the burst's wait for a connection, which is what this test tells apart.
    gateway, key, _ = _limited_gateway(make_gateway, private_redis.url, timeout=2)
    after_each: list[int] = []
    for burst in range(3):
        # A client per burst: on a loaded machine a burst may outlast uvicorn's 5 s keep-alive, and
        # a request sent on a connection the gateway is closing as idle fails (not what is tested here).
        async with _client(gateway, key) as client:
            await asyncio.gather(*(_chat(client, burst * BURST + n) for n in range(BURST)))
        after_each.append(private_redis.gateway_connections())
    # Before: one connection per request in flight and use, each kept (402 after every burst).
    # The first burst may not fill the pool (requests reach the gateway spread out); none passes it.
    assert max(after_each) <= DEFAULT_MAX_CONNECTIONS, after_each
    # No call of the bursts was taken for an outage: waiting for a free connection is the burst's load.
    assert [r.getMessage() for r in caplog.records if r.name == "babelgate.redis"] == []
    assert _redis_up(gateway) == 1


async def test_a_hung_redis_costs_one_timeout_then_requests_do_not_wait_on_it(
    make_gateway: GatewayFactory, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="babelgate.redis")
    gateway, key, _ = _limited_gateway(make_gateway, private_redis.url)
    async with _client(gateway, key) as client:
        await _chat(client, 0)  # connections made while Redis answers
        private_redis.hang()
        try:
            started = time.perf_counter()
            await _chat(client, 1)
            first = time.perf_counter() - started
            started = time.perf_counter()
            for number in range(AFTER_THE_FIRST):
                await _chat(client, 2 + number)
            rest = time.perf_counter() - started
            assert _redis_up(gateway) == 0
        finally:
            private_redis.resume()
    # Before: every Redis call of every request waited its 0.5 s (admission, cache lookup, cache
    # store: 1.5 s a request, 77 s for the 50).
    assert first < DEFAULT_TIMEOUT + 0.5, first
    assert rest < AFTER_THE_FIRST * DEFAULT_TIMEOUT / 5, rest
    down = [r for r in caplog.records if r.name == "babelgate.redis" and r.levelno == logging.WARNING]
    assert len(down) == 1, [r.getMessage() for r in down]
    assert "per instance" in down[0].getMessage()


async def test_a_killed_redis_that_comes_back_closes_the_breaker_and_limits_are_shared_again(
    make_gateway: GatewayFactory, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="babelgate.redis")
    gateway, key, key_id = _limited_gateway(make_gateway, private_redis.url)
    window = f"babelgate:rpm:key:{key_id}"
    async with _client(gateway, key) as client:
        await _chat(client, 0)
        with private_redis.admin() as admin:
            assert admin.zcard(window) == 1
        private_redis.kill()
        for number in range(5):  # served, counted by this instance meanwhile
            await _chat(client, 1 + number)
        assert _redis_up(gateway) == 0
        private_redis.start()  # empty: what was counted before the outage is gone with it
        assert eventually(lambda: _redis_up(gateway) == 1, 10), "the breaker did not close"
        back = [r for r in caplog.records if r.name == "babelgate.redis" and r.levelno == logging.INFO]
        assert len(back) == 1 and "back" in back[0].getMessage()
        for number in range(3):
            await _chat(client, 10 + number)
        with private_redis.admin() as admin:
            assert admin.zcard(window) == 3  # counted in Redis again, where every instance sees it
