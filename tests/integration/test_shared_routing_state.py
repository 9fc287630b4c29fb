"""Routing state shared through a real Redis (routing/shared.py): circuits and resting keys reach the
other instances, a new instance loads what is current, and an outage never fails anything."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from babelgate.redis_link import RedisLink
from babelgate.routing.health import Health
from babelgate.routing.shared import RedisShared
from tests.conftest import CLOSED_PORT_URL
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.scripted import Reply
from tests.integration.test_cli_serve import _free_port, _wait_ready
from tests.services import REDIS_TIMEOUT, redis_url  # noqa: F401 (a fixture)

KEYS = ("sk-shared-first-key-AAAA", "sk-shared-second-key-BBBB")


def _shared(url: str, health: Health, prefix: str = "babelgate:") -> RedisShared:
    """An instance's routing state over a Redis link of its own, as each gateway has one."""
    return RedisShared(RedisLink(url), health, prefix=prefix)


async def _close(*instances: RedisShared) -> None:
    for shared in instances:
        await shared.close()
        await shared._link.close()


async def _until(condition: object, seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not within the time allowed")


async def test_a_circuit_opened_on_one_instance_is_open_on_the_other(redis_url: str) -> None:  # noqa: F811
    prefix = f"bgtest-{uuid.uuid4().hex[:8]}:"
    first, second = Health(), Health()
    a, b = _shared(redis_url, first, prefix), _shared(redis_url, second, prefix)
    a.start()
    b.start()
    try:
        await _until(lambda: a._up and b._up)
        first.begin("p/m")
        first.failed("p/m", threshold=1, cooldown=30)
        await _until(lambda: second.circuit("p/m") == "open")
        assert not second.admits("p/m")
        # A new instance loads what is current when it starts.
        third = Health()
        c = _shared(redis_url, third, prefix)
        c.start()
        try:
            await _until(lambda: third.circuit("p/m") == "open")
        finally:
            await _close(c)
        # Closing travels too.
        first.begin("p/m")
        first.succeeded("p/m", 0.1)
        await _until(lambda: second.circuit("p/m") == "closed")
    finally:
        await _close(a, b)


async def test_a_redis_outage_fails_nothing_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    health = Health()
    shared = _shared("redis://127.0.0.1:9/0", health)  # nothing listens there
    caplog.set_level(logging.WARNING, logger="babelgate.redis")
    shared.start()
    try:
        for _ in range(3):
            health.begin("p/m")
            health.failed("p/m", threshold=1, cooldown=30)  # sends, and the send fails quietly
        await asyncio.sleep(1.0)
        assert health.circuit("p/m") == "open"  # local state works on
        warnings = [r for r in caplog.records if r.name == "babelgate.redis"]
        assert len(warnings) == 1 and "per instance" in warnings[0].getMessage()
    finally:
        await _close(shared)


# -- two gateway processes ---------------------------------------------------------------------------

CONFIG = """\
redis: {{url: '{redis}', prefix: '{prefix}', timeout: {redis_timeout}}}
providers:
  pool: {{type: openai, base_url: '{base_url}', api_keys: [env:KEY_ONE, env:KEY_TWO]}}
models:
  pooled: {{provider: pool, model: gpt-4o-mini}}
"""


@pytest.fixture
def two_gateways(
    tmp_path: Path,
    upstream: FakeOpenAI,
    redis_url: str,  # noqa: F811
) -> Iterator[tuple[str, str]]:
    config = tmp_path / "shared.yaml"
    config.write_text(
        CONFIG.format(
            redis=redis_url,
            redis_timeout=REDIS_TIMEOUT,
            prefix=f"bgtest-{uuid.uuid4().hex[:8]}:",
            base_url=upstream.base_url,
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL", "_API_KEYS"))}
    env.update(
        {"OLLAMA_BASE_URL": CLOSED_PORT_URL, "KEY_ONE": KEYS[0], "KEY_TWO": KEYS[1], "BABELGATE_STORE_URL": "memory"}
    )
    processes, urls = [], []
    try:
        for _ in range(2):
            port = _free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "babelgate.cli", "serve", "--config", str(config), "--port", str(port)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            processes.append(process)
            urls.append(f"http://127.0.0.1:{port}")
            _wait_ready(urls[-1], process)
        yield urls[0], urls[1]
    finally:
        for process in processes:
            process.terminate()
            output = process.communicate(timeout=10)[0].decode()
            assert KEYS[0] not in output and KEYS[1] not in output


def _ask(url: str) -> str:
    with openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=10) as client:
        answer = client.chat.completions.create(model="pooled", messages=[{"role": "user", "content": "Hi"}])
    return answer.choices[0].message.content or ""


def test_two_gateway_processes_share_a_key_s_cool_down(two_gateways: tuple[str, str], upstream: FakeOpenAI) -> None:
    first, second = two_gateways
    upstream.script(
        Reply(
            status=429,
            json={"error": {"message": "slow down", "type": "rate_limit_error"}},
            headers={"Retry-After": "30"},
        )
    )
    assert _ask(first) == "Hello!"  # the 429 rests that key; the other key answered at once
    chats = [r for r in upstream.received if r.path.endswith("/chat/completions")]
    resting = chats[0].headers["Authorization"].removeprefix("Bearer ")
    other = next(key for key in KEYS if key != resting)
    time.sleep(0.5)  # published by the first, applied by the second
    for _ in range(4):
        assert _ask(second) == "Hello!"
    used = [
        r.headers["Authorization"].removeprefix("Bearer ")
        for r in upstream.received
        if r.path.endswith("/chat/completions")
    ][2:]
    assert used == [other] * 4, "the second gateway sent requests to the key resting on the first"
    health = httpx.get(second + "/health").json()
    pool = next(p for p in health["providers"] if p["name"] == "pool")
    assert {"key": "…" + resting[-4:], "state": "cooling_down"} in pool["keys"]


async def test_latency_figures_are_averaged_over_the_instances(
    redis_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("babelgate.routing.shared.LATENCY_EVERY", 0.05)
    prefix = f"bgtest-{uuid.uuid4().hex[:8]}:"
    first, second = Health(), Health()
    a, b = _shared(redis_url, first, prefix), _shared(redis_url, second, prefix)
    for health, seconds in ((first, 1.0), (second, 3.0)):
        health.begin("p/m")
        health.succeeded("p/m", seconds)
    a.start()
    b.start()
    try:
        await _until(lambda: first.latency("p/m") == 2.0 and second.latency("p/m") == 2.0)
    finally:
        await _close(a, b)
