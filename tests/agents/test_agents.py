"""Claude Code and Codex CLI, their current releases, doing real work through the gateway on every
provider: the scripted model asks for the agent's shell tool, the agent runs the command (a file
appears), sends the result back, and prints the model's final answer. Every request each fake
received is checked against that provider's rules (the fixtures fail the test on a violation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agents.brain import FINAL_PREFIX
from tests.agents.harness import MODELS, gateway_for, run_claude_code, run_codex, script
from tests.agents.install import Agents
from tests.conftest import GatewayFactory
from tests.fakes.scripted import Reply, ScriptedStreams

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


@pytest.mark.parametrize("provider", PROVIDERS)
def test_claude_code_runs_its_shell_tool_through_the_gateway(
        agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, provider: str, tmp_path: Path) -> None:
    brain = script(fake, provider)
    gateway = gateway_for(provider, fake, make_gateway)
    run = run_claude_code(agents.claude, gateway, MODELS[provider], tmp_path)
    assert run.returncode == 0, run.explain()
    assert_work_done(run.stdout, run.workdir, provider, run.explain())
    assert (brain.calls, brain.answers) == (1, 1), run.explain()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_codex_runs_its_shell_tool_through_the_gateway(
        agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, provider: str, tmp_path: Path) -> None:
    brain = script(fake, provider)
    gateway = gateway_for(provider, fake, make_gateway)
    run = run_codex(agents.codex, gateway, MODELS[provider], tmp_path)
    assert run.returncode == 0, run.explain()
    assert_work_done(run.stdout, run.workdir, provider, run.explain())
    assert (brain.calls, brain.answers) == (1, 1), run.explain()


# -- retries: the error bodies the agents receive are ones they understand ------------------------------------

@pytest.mark.parametrize(("provider", "status", "body"), [
    ("anthropic", 529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ("openai", 429, {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}),
])
def test_claude_code_retries_an_overloaded_or_rate_limited_upstream(
        agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, provider: str, status: int,
        body: dict[str, object], tmp_path: Path) -> None:
    script(fake, provider)
    fake.script(Reply(status=status, json=body, headers={"retry-after": "0"}))
    run = run_claude_code(agents.claude, gateway_for(provider, fake, make_gateway), MODELS[provider], tmp_path)
    assert run.returncode == 0, run.explain()
    assert_retried(fake, run.explain())
    assert_work_done(run.stdout, run.workdir, provider, run.explain())


@pytest.mark.parametrize(("provider", "status", "body"), [
    ("openai", 429, {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}),
    ("gemini", 503, {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}),
])
def test_codex_retries_a_rate_limited_or_unavailable_upstream(
        agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, provider: str, status: int,
        body: dict[str, object], tmp_path: Path) -> None:
    script(fake, provider)
    fake.script(Reply(status=status, json=body, headers={"retry-after": "0"}))
    run = run_codex(agents.codex, gateway_for(provider, fake, make_gateway), MODELS[provider], tmp_path)
    assert run.returncode == 0, run.explain()
    assert_retried(fake, run.explain())
    assert_work_done(run.stdout, run.workdir, provider, run.explain())
