"""Gemini CLI, pinned, doing real work through the gateway's Gemini API (docs/gemini-api.md) on every
provider: the scripted model asks for the CLI's shell tool (`run_shell_command`), the CLI runs the command
(a file appears), sends the result back as a functionResponse, and prints the model's final answer. The
model name goes in the URL slashes and all (`openai/gpt-4o-mini`); Gemini models take the native road,
the others the translated one. Every request each fake received is checked against that provider's rules."""

from __future__ import annotations

from typing import Any

import pytest

from tests.agents.harness import MODELS, Answers, gateway_for, run_gemini_cli, script
from tests.agents.install import Agents
from tests.agents.test_agents import assert_work_done
from tests.conftest import GatewayFactory
from tests.fakes.scripted import ScriptedStreams


@pytest.mark.parametrize("provider", list(MODELS))
def test_gemini_cli_runs_its_shell_tool_through_the_gateway(
    agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, provider: str, tmp_path: Any
) -> None:
    brain = script(fake, provider)
    answers = Answers()
    gateway = gateway_for(provider, fake, make_gateway, answers)
    run = run_gemini_cli(agents.gemini, gateway, MODELS[provider], tmp_path)
    assert_work_done(run, fake, provider)
    assert (brain.calls, brain.answers) == (1, 1), run.explain()
    # Nothing the CLI asked was refused, side requests included.
    statuses = answers.statuses()
    assert statuses and set(statuses) == {200}, f"the gateway answered {answers.seen}\n{run.explain()}"
