"""GitHub Copilot CLI, Kilo Code CLI and Cline CLI, pinned, doing real work through the gateway's OpenAI
chat API on every provider, each started by `babelgate launch` (the one-command setup docs/agents.md gives
them): the scripted model asks for the agent's shell tool (Copilot's and Kilo's `bash`, Cline's
`run_commands`), the agent runs the command (a file appears), sends the result back, and prints the model's
final answer. Every request each fake received is checked against that provider's rules; each agent sends
its earlier assistant turn back on the second request, fields of its own and all."""

from __future__ import annotations

from typing import Any

import pytest

from tests.agents.harness import GATEWAY_KEY, MODELS, Answers, gateway_for, run_launched, script
from tests.agents.install import Agents
from tests.agents.test_agents import RATE_LIMITED, assert_work_done
from tests.conftest import GatewayFactory
from tests.fakes.scripted import Reply, ScriptedStreams


@pytest.mark.parametrize("provider", list(MODELS))
@pytest.mark.parametrize("agent", ["copilot", "kilo", "cline"])
def test_the_agent_runs_its_shell_tool_through_the_gateway(
    agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, agent: str, provider: str, tmp_path: Any
) -> None:
    brain = script(fake, provider)
    answers = Answers()
    gateway = gateway_for(provider, fake, make_gateway, answers)
    launch = ["--gateway", gateway.url, "--key", GATEWAY_KEY, "--model", MODELS[provider]]
    run, _ = run_launched(agent, getattr(agents, agent), tmp_path, launch)
    assert_work_done(run, fake, provider)
    assert (brain.calls, brain.answers) == (1, 1), run.explain()
    statuses = answers.statuses()
    assert statuses and set(statuses) == {200}, f"the gateway answered {answers.seen}\n{run.explain()}"


@pytest.mark.parametrize("provider", ["openai"])
@pytest.mark.parametrize("agent", ["copilot", "kilo", "cline"])
def test_the_agent_retries_a_rate_limited_upstream(
    agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, agent: str, provider: str, tmp_path: Any
) -> None:
    """The upstream's 429 reaches the agent as a 429 with Retry-After (the gateway retries nothing itself),
    and the agent tries the same request again, then does the task."""
    script(fake, provider)
    fake.script(Reply(status=429, json=RATE_LIMITED, headers={"retry-after": "1"}))
    answers = Answers()
    gateway = gateway_for(provider, fake, make_gateway, answers)
    launch = ["--gateway", gateway.url, "--key", GATEWAY_KEY, "--model", MODELS[provider]]
    run, _ = run_launched(agent, getattr(agents, agent), tmp_path, launch)
    assert_work_done(run, fake, provider)
    statuses = answers.statuses()
    assert statuses[:1] == [429] and set(statuses[1:]) == {200}, f"the gateway answered {statuses}\n{run.explain()}"
    bodies = [received.json for received in fake.received if received.method == "POST"]  # type: ignore[attr-defined]
    assert bodies[0] == bodies[1], f"the refused request was not sent again as it was\n{run.explain()}"
