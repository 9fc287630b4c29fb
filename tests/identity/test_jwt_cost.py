"""The JWT callers' speed target, counted rather than timed: a JWT caller costs at most 10 % more gateway work per
request than a virtual key. The measure is test_hot_path_budget's (Python calls made by the gateway's code,
uvicorn's and httptools', per fast-path request, on a raw socket), for both callers of the same gateway:
a virtual key of team `budget` and a JWT caller of the same team (same limits and budget; the token is
verified on its first request and then found in the cache). A figure the machine's load does not move;
`bench/instructions.py --caller jwt` measures instructions against `--caller governed`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from babelgate import create_app
from babelgate.config import load_config
from babelgate.providers import PROVIDER_TYPES
from tests.conftest import base_env
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import LoopThread, RunningApp
from tests.identity.issuer import AUDIENCE, Issuer
from tests.integration.test_hot_path_budget import MASTER, REQUESTS, CallCounter, _request, _requests

LIMITS = "{rpm: 1000000000, tpm: 1000000000000, max_concurrent: 1000, budget_usd: 1000000, budget_period: month}"


@pytest.fixture
def running_issuer(loop_thread: LoopThread) -> Iterator[Issuer]:
    made = Issuer()
    server = RunningApp(made)
    loop_thread.run(server.start())
    made.issuer = server.url
    yield made
    loop_thread.run(server.stop())


@pytest.fixture
async def gateway(upstream: FakeOpenAI, running_issuer: Issuer, tmp_path: Path) -> AsyncIterator[RunningApp]:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"teams:\n  budget: {LIMITS}\nauth:\n  jwt: {{issuer: '{running_issuer.issuer}', audience: {AUDIENCE}}}\n"
    )
    environ = {**base_env(upstream), "BABELGATE_MASTER_KEY": MASTER, "BABELGATE_STORE_URL": f"sqlite:{tmp_path / 'db'}"}
    running = RunningApp(create_app(load_config(path, environ, available_types=PROVIDER_TYPES)))
    await running.start()
    yield running
    await running.stop()


async def _calls(gateway: RunningApp, key: str) -> float:
    request = _request(key)
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:
        await _requests(gateway, reader, writer, request)  # warm: pools, caches, the token's first check
        counter = CallCounter()
        sys.setprofile(counter)
        try:
            await _requests(gateway, reader, writer, request)
        finally:
            sys.setprofile(None)
    finally:
        writer.close()
    return counter.calls / REQUESTS


async def test_a_jwt_caller_costs_at_most_a_tenth_more_than_a_virtual_key(
    gateway: RunningApp, running_issuer: Issuer
) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        created = await client.post(
            gateway.url + "/admin/keys", headers={"Authorization": f"Bearer {MASTER}"}, json={"team": "budget"}
        )
    assert created.status_code == 201, created.text
    virtual = await _calls(gateway, created.json()["key"])
    jwt = await _calls(gateway, running_issuer.token("bench-user", groups=["budget"]))
    print(f"Python calls per request: virtual key {virtual:.0f}, JWT caller {jwt:.0f} ({jwt / virtual:.3f}x)")
    assert jwt <= virtual * 1.10, f"a JWT caller makes {jwt:.0f} calls per request, a virtual key {virtual:.0f}"
