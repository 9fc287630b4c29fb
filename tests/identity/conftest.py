"""Fixtures of the identity tests: the JWT issuer on 127.0.0.1 and a gateway that accepts its tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import LoopThread, RunningApp
from tests.identity.issuer import AUDIENCE, Issuer
from tests.ui.conftest import browser, screenshots  # the dashboard tests' headless Chromium

__all__ = ["browser", "issuer", "screenshots"]

MASTER = "master-key-of-the-identity-tests-0123456789"
CONFIG = """
providers:
  openai:
    base_url: {base_url}
    api_key: env:OPENAI_API_KEY
models:
  chat:
    provider: openai
    model: gpt-4o
  mini:
    provider: openai
    model: gpt-4o-mini
teams:
  search: {{rpm: 1000}}
auth:
  jwt:
    issuer: {issuer}
    audience: {audience}
    min_refresh: 0.2
    claims: {{user: sub, teams: groups, role: babelgate_role, models: models}}
"""


@pytest.fixture
def issuer(loop_thread: LoopThread) -> Iterator[Issuer]:
    made = Issuer()
    running = RunningApp(made)
    loop_thread.run(running.start())
    made.issuer = running.url
    yield made
    loop_thread.run(running.stop())


def jwt_config(upstream: FakeOpenAI, issuer: Issuer, extra: str = "") -> str:
    return CONFIG.format(base_url=upstream.base_url, issuer=issuer.issuer, audience=AUDIENCE) + extra


@pytest.fixture
def gateway(make_gateway: GatewayFactory, upstream: FakeOpenAI, issuer: Issuer) -> RunningApp:
    return make_gateway(jwt_config(upstream, issuer), env={"BABELGATE_MASTER_KEY": MASTER})
