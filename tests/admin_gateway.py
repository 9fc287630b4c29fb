"""A gateway with a master key and a few routes over the fake OpenAI upstream, for the tests of
what an operator uses (the admin API, the dashboard, the CLI)."""

from __future__ import annotations

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import RunningApp

MASTER = "master-key-of-the-operator-tests-0123456789"
ADMIN = {"Authorization": f"Bearer {MASTER}"}
# `chat` has somewhere to fall back to (so the router reports its route), `mini` does not, `fast`
# is an alias.
CONFIG = """
providers:
  openai:
    base_url: {base_url}
    api_key: env:OPENAI_API_KEY
models:
  chat:
    provider: openai
    model: gpt-4o
    fallbacks: [mini]
  mini:
    provider: openai
    model: gpt-4o-mini
aliases:
  fast: mini
"""


def start(make_gateway: GatewayFactory, upstream: FakeOpenAI, config: str = CONFIG, extra: str = "") -> RunningApp:
    return make_gateway(config.format(base_url=upstream.base_url) + extra, env={"BABELGATE_MASTER_KEY": MASTER})
