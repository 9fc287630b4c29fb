"""Qwen Code and opencode, pinned, doing real work through the gateway's OpenAI chat API on every provider:
the scripted model asks for the agent's shell tool (Qwen Code's `run_shell_command`, opencode's `bash`),
the agent runs the command (a file appears), sends the result back, and prints the model's final answer.
Every request each fake received is checked against that provider's rules."""

from __future__ import annotations

from typing import Any

import pytest

from tests.agents.harness import MODELS, Answers, gateway_for, run_opencode, run_qwen_code, script
from tests.agents.install import Agents
from tests.agents.test_agents import assert_work_done
from tests.conftest import GatewayFactory
from tests.fakes.scripted import ScriptedStreams


@pytest.mark.parametrize("provider", list(MODELS))
@pytest.mark.parametrize("agent", ["qwen-code", "opencode"])
def test_the_agent_runs_its_shell_tool_through_the_gateway(
    agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, agent: str, provider: str, tmp_path: Any
) -> None:
    brain = script(fake, provider)
    answers = Answers()
    gateway = gateway_for(provider, fake, make_gateway, answers)
    if agent == "qwen-code":
        run = run_qwen_code(agents.qwen, gateway, MODELS[provider], tmp_path)
    else:
        run = run_opencode(agents.opencode, gateway, MODELS[provider], tmp_path)
    assert_work_done(run, fake, provider)
    assert (brain.calls, brain.answers) == (1, 1), run.explain()
    statuses = answers.statuses()
    assert statuses and set(statuses) == {200}, f"the gateway answered {answers.seen}\n{run.explain()}"
