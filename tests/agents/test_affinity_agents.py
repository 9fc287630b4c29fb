"""Session affinity with the real agents (docs/routing.md, "Affinity"): the pinned releases of Claude Code
and Codex CLI send the session headers the gateway reads, so with `keys: [session_header]` alone every
request of one agent run is one session, pinned to one of the model's two deployments, and the ledger
counts it under one `session`; Gemini CLI, which sends no session id, is one session by `prefix`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.agents.harness import GATEWAY_KEY, run_claude_code, run_codex, run_gemini_cli, script
from tests.agents.install import Agents
from tests.agents.test_agents import assert_work_done
from tests.conftest import ANTHROPIC_KEY, GatewayFactory
from tests.fakes.scripted import ScriptedStreams
from tests.integration.test_virtual_keys import ADMIN, MASTER


def _config(provider: str, base_url: str, keys: str = "session_header") -> str:
    # The OpenAI fake speaks OpenAI's own API, which refuses `top_k` (Gemini CLI sends it): at an address other
    # than api.openai.com the gateway takes a compatible server unless `profile: openai` says otherwise.
    kind, key, model, extra = {
        "anthropic": ("anthropic", "ANTHROPIC_API_KEY", "claude-sonnet-4-5", ""),
        "openai": ("openai", "OPENAI_API_KEY", "gpt-4o-mini", ", profile: openai"),
    }[provider]
    return f"""
providers:
  east: {{type: {kind}, base_url: '{base_url}', api_key: env:{key}{extra}}}
  west: {{type: {kind}, base_url: '{base_url}', api_key: env:{key}{extra}}}
routing:
  affinity: {{keys: [{keys}]}}
models:
  coder:
    deployments: [{{provider: east, model: {model}}}, {{provider: west, model: {model}}}]
"""


@pytest.mark.parametrize(("agent", "provider"), [("claude-code", "anthropic"), ("codex", "openai")])
def test_an_agent_run_is_one_session_on_one_deployment(
    agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, agent: str, provider: str, tmp_path: Any
) -> None:
    script(fake, provider)
    gateway = make_gateway(
        _config(provider, fake.base_url),
        env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "BABELGATE_API_KEYS": GATEWAY_KEY, "BABELGATE_MASTER_KEY": MASTER},
    )
    runner = run_claude_code if agent == "claude-code" else run_codex
    run = runner(agents.claude if agent == "claude-code" else agents.codex, gateway, "coder", tmp_path)
    assert_work_done(run, fake, provider)
    sessions = httpx.get(gateway.url + "/admin/usage?group_by=session&model=coder", headers=ADMIN).json()["data"]
    assert len(sessions) == 1 and sessions[0]["session"] is not None, f"{sessions}\n{run.explain()}"
    assert sessions[0]["requests"] >= 2  # the tool call's round trip at least
    served = httpx.get(gateway.url + "/admin/usage?group_by=provider&model=coder", headers=ADMIN).json()["data"]
    assert [row["provider"] for row in served] in (["east"], ["west"]), served


def test_a_gemini_cli_run_is_one_session_by_its_prefix(
    agents: Agents, make_gateway: GatewayFactory, upstream: ScriptedStreams, tmp_path: Any
) -> None:
    """Gemini CLI sends no session id: with `keys: [prefix]` its run is still one session (its system
    instruction, tools and first user turn), through the Gemini API frontend."""
    script(upstream, "openai")
    gateway = make_gateway(
        _config("openai", upstream.base_url, keys="prefix"),
        env={"BABELGATE_API_KEYS": GATEWAY_KEY, "BABELGATE_MASTER_KEY": MASTER},
    )
    run = run_gemini_cli(agents.gemini, gateway, "coder", tmp_path)
    assert_work_done(run, upstream, "openai")
    sessions = httpx.get(gateway.url + "/admin/usage?group_by=session&model=coder", headers=ADMIN).json()["data"]
    assert len(sessions) == 1 and sessions[0]["session"] is not None, f"{sessions}\n{run.explain()}"
    assert sessions[0]["requests"] >= 2
    served = httpx.get(gateway.url + "/admin/usage?group_by=provider&model=coder", headers=ADMIN).json()["data"]
    assert [row["provider"] for row in served] in (["east"], ["west"]), served
