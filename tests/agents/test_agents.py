"""Claude Code and Codex CLI, their current releases, doing real work through the gateway on every
provider: the scripted model asks for the agent's shell tool, the agent runs the command (a file
appears), sends the result back, and prints the model's final answer. Every request each fake
received is checked against that provider's rules (the fixtures fail the test on a violation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agents.brain import FINAL_PREFIX
from tests.agents.harness import MODELS, Run, gateway_for, run_claude_code, run_codex, script
from tests.agents.install import Agents
from tests.conftest import GatewayFactory
from tests.fakes.scripted import Reply, ScriptedStreams
from tests.fakes.servers import RunningApp

PROVIDERS = list(MODELS)


@pytest.fixture
def fake(request: pytest.FixtureRequest, provider: str) -> ScriptedStreams:
    name = {"openai": "upstream", "anthropic": "anthropic_upstream", "gemini": "gemini_upstream",
            "mistral": "mistral_upstream"}[provider]
    upstream: ScriptedStreams = request.getfixturevalue(name)
    return upstream


def assert_retried(fake: ScriptedStreams, explain: str) -> None:
    """The agent sent the refused request again: the same body, right after the error."""
    bodies = [received.json for received in fake.received if received.method == "POST"]  # type: ignore[attr-defined]
    assert len(bodies) >= 2 and bodies[0] == bodies[1], f"no retry of the refused request\n{explain}"


def assert_work_done(run_output: str, workdir: Path, provider: str, explain: str) -> None:
    proof = workdir / "proof.txt"
    assert proof.exists(), f"the agent did not run the shell command\n{explain}"
    assert proof.read_text() == f"babelgate {provider}\n"
    assert FINAL_PREFIX in run_output and f"babelgate {provider}" in run_output, explain


AGENTS = ("claude-code", "codex")
RATE_LIMITED = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
UNAVAILABLE = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}


def run_agent(agent: str, agents: Agents, gateway: RunningApp, provider: str, tmp_path: Path) -> Run:
    if agent == "claude-code":
        return run_claude_code(agents.claude, gateway, MODELS[provider], tmp_path)
    return run_codex(agents.codex, gateway, MODELS[provider], tmp_path)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("agent", AGENTS)
def test_the_agent_runs_its_shell_tool_through_the_gateway(
        agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, agent: str, provider: str,
        tmp_path: Path) -> None:
    """Claude Code on the Messages road, Codex on the Responses road."""
    brain = script(fake, provider)
    run = run_agent(agent, agents, gateway_for(provider, fake, make_gateway), provider, tmp_path)
    assert run.returncode == 0, run.explain()
    assert_work_done(run.stdout, run.workdir, provider, run.explain())
    assert (brain.calls, brain.answers) == (1, 1), run.explain()


# -- retries: the error bodies the agents receive are ones they understand ------------------------------------

@pytest.mark.parametrize(("agent", "provider", "status", "body"), [
    ("claude-code", "anthropic", 529, OVERLOADED), ("claude-code", "openai", 429, RATE_LIMITED),
    ("codex", "openai", 429, RATE_LIMITED), ("codex", "gemini", 503, UNAVAILABLE),
])
def test_the_agent_retries_an_overloaded_or_rate_limited_upstream(
        agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, agent: str, provider: str, status: int,
        body: dict[str, object], tmp_path: Path) -> None:
    """The error reaches the agent in its own API's format, with Retry-After, and it tries again."""
    script(fake, provider)
    fake.script(Reply(status=status, json=body, headers={"retry-after": "0"}))
    run = run_agent(agent, agents, gateway_for(provider, fake, make_gateway), provider, tmp_path)
    assert run.returncode == 0, run.explain()
    assert_retried(fake, run.explain())
    assert_work_done(run.stdout, run.workdir, provider, run.explain())
