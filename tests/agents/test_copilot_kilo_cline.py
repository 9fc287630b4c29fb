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
from tests.agents.test_agents import assert_work_done
from tests.conftest import GatewayFactory
from tests.fakes.scripted import ScriptedStreams


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
