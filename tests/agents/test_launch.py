"""`babelgate launch AGENT` (docs/cli.md) starts each of the coding agents against a gateway in the
test, and the agent does the task through it: the scripted model asks for its shell tool, the file
appears, the result goes back upstream, the answer comes out. The user's own agent configuration (the
home's files) is left exactly as it was."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from babelgate.operator.client import Gateway
from babelgate.operator.launch import chat_models
from babelgate.operator.launch_agents import AGENTS
from tests.agents.harness import (
    GATEWAY_KEY,
    LAUNCHED,
    MODELS,
    Answers,
    gateway_for,
    home_files,
    run_configured,
    run_launched,
    script,
)
from tests.agents.install import Agents
from tests.agents.test_agents import assert_work_done
from tests.conftest import GatewayFactory
from tests.fakes.scripted import ScriptedStreams

MASTER = "sk-master-launch-test-0001"


def binary(agents: Agents, agent: str) -> Any:
    """The installed agent `babelgate launch` knows by that name (the fields of Agents are named so)."""
    return getattr(agents, agent)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])  # two roads for each agent
@pytest.mark.parametrize("agent", list(LAUNCHED))
def test_launch_starts_the_agent_and_it_works_through_the_gateway(
    agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, agent: str, provider: str, tmp_path: Any
) -> None:
    brain = script(fake, provider)
    answers = Answers()
    gateway = gateway_for(provider, fake, make_gateway, answers)
    launch = ["--gateway", gateway.url, "--key", GATEWAY_KEY, "--model", MODELS[provider]]
    run, home = run_launched(agent, binary(agents, agent), tmp_path, launch)
    before = home_files(home)
    assert_work_done(run, fake, provider)
    assert (brain.calls, brain.answers) == (1, 1), run.explain()
    statuses = answers.statuses()
    assert statuses and set(statuses) == {200}, f"the gateway answered {answers.seen}\n{run.explain()}"
    # Only the files the test itself put there (and none changed): launch wrote nothing of the user's.
    assert home_files(home) == before


@pytest.mark.parametrize("provider", ["openai"])
def test_launch_makes_a_virtual_key_and_picks_the_model(
    agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, provider: str, tmp_path: Any
) -> None:
    """No key given, the master key at hand: a new virtual key, labelled for the agent, is what the agent
    calls with; no model given: the gateway's first chat model."""
    script(fake, provider)
    gateway = make_gateway(env={"BABELGATE_MASTER_KEY": MASTER, "BABELGATE_API_KEYS": GATEWAY_KEY})
    run, _ = run_launched(
        "qwen", agents.qwen, tmp_path, ["--gateway", gateway.url], env={"BABELGATE_MASTER_KEY": MASTER}
    )
    assert_work_done(run, fake, provider)
    assert "made virtual key" in run.stderr, run.explain()
    request = urllib.request.Request(gateway.url + "/admin/keys", headers={"Authorization": f"Bearer {MASTER}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        keys = json.load(answer)["data"]
    assert [key["label"] for key in keys] == ["babelgate launch qwen"], keys
    first = chat_models(Gateway(gateway.url, key=GATEWAY_KEY))[0]
    started = [event for event in run.events if event.get("subtype") == "init"]
    assert started and started[0]["model"] == first, run.explain()


@pytest.mark.parametrize("provider", ["openai"])
@pytest.mark.parametrize("agent", [agent for agent in LAUNCHED if AGENTS[agent].user_config])  # not Copilot's
def test_write_config_leaves_the_agent_working_on_its_own(
    agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, agent: str, provider: str, tmp_path: Any
) -> None:
    """What `--write-config` writes into the agent's own configuration is enough: the agent, run as the
    user then runs it, works through the gateway."""
    script(fake, provider)
    gateway = gateway_for(provider, fake, make_gateway)
    launch = ["--gateway", gateway.url, "--key", GATEWAY_KEY, "--model", MODELS[provider]]
    wrote, run = run_configured(agent, binary(agents, agent), tmp_path, launch)
    assert wrote.returncode == 0 and "wrote " in wrote.stdout, wrote.explain()
    assert_work_done(run, fake, provider)


@pytest.mark.parametrize("provider", ["openai"])
def test_gemini_cli_signs_in_with_the_users_own_api_key_choice_where_launchs_settings_would_be_skipped(
    agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, provider: str, tmp_path: Any
) -> None:
    """The launcher's cache under /tmp (mode 1777), where Gemini CLI skips a system settings file: the
    user's own settings already select the API key, so launch starts it without one, and it works."""
    script(fake, provider)
    gateway = gateway_for(provider, fake, make_gateway)
    launch = ["--gateway", gateway.url, "--key", GATEWAY_KEY, "--model", MODELS[provider]]
    own = {"security": {"auth": {"selectedType": "gemini-api-key"}}}
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    run, _ = run_launched("gemini", agents.gemini, tmp_path, launch, env=cache, settings=own)
    assert_work_done(run, fake, provider)
