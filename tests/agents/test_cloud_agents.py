"""Claude Code and Codex CLI doing real work through the gateway on the clouds: Gemini on Vertex, Claude on
Vertex (Claude Code on its native Messages road, rawPredict underneath) and an Azure OpenAI deployment. The
fakes check the bearer token or key of every request and validate every body (tests/fakes/vertex_upstream.py,
azure_upstream.py); the scripted model (brain.py) speaks the wire format of the API behind each road.

And the other way round: Claude Code in its own Bedrock and Vertex modes, the cloud's base URL at the gateway
(frontends/anthropic_clouds/), served by OpenAI, Anthropic, Gemini and Bedrock's Claude."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from tests.agents.brain import FINAL_PREFIX, Brain, responder, shell_results
from tests.agents.harness import (
    CLOUD_MODES,
    GATEWAY_KEY,
    MODELS,
    Answers,
    gateway_for,
    run_claude_code,
    run_claude_code_cloud,
    run_codex,
    script,
)
from tests.agents.install import Agents
from tests.agents.test_agents import assert_work_done
from tests.conftest import GatewayFactory
from tests.fakes.azure_upstream import FakeAzure
from tests.fakes.cloud_tokens import TokenRegistry
from tests.fakes.google_credentials import ACCOUNT, FakeGoogleOAuth, service_account_key
from tests.fakes.scripted import ScriptedStreams
from tests.fakes.servers import LoopThread
from tests.fakes.vertex_upstream import LOCATION, PROJECT, FakeVertex

AZURE_KEY: Final = "azure-agent-test-UPSTREAM-key-0123456789"
# The road → (the fake's wire format, the gateway's model name, its upstream model).
ROADS: Final = {
    "vertex-gemini": ("gemini", "vx-gemini", "gemini-3-pro-preview"),
    "vertex-claude": ("anthropic", "vx-claude", "claude-sonnet-4-5@20250929"),
    "azure": ("openai", "az-mini", "gpt-4o-mini-prod"),
}


@pytest.fixture(scope="module")
def clouds(loop_thread: LoopThread) -> Iterator[tuple[FakeGoogleOAuth, FakeVertex, FakeAzure]]:
    registry = TokenRegistry()
    fakes = (FakeGoogleOAuth(registry), FakeVertex(registry), FakeAzure(registry))
    for fake in fakes:
        loop_thread.run(fake.start())
    yield fakes
    for fake in fakes:
        loop_thread.run(fake.stop())


def _config(oauth: FakeGoogleOAuth, vertex: FakeVertex, azure: FakeAzure, key_file: Path) -> str:
    return (
        "providers:\n"
        f"  gcp: {{type: vertex, project: {PROJECT}, location: {LOCATION}, base_url: '{vertex.base_url}',"
        f" credentials_file: '{key_file}'}}\n"
        f"  az: {{type: azure, base_url: '{azure.base_url}', api_key: env:AZURE_KEY}}\n"
        "models:\n"
        + "".join(
            f"  {name}: {{provider: {'az' if road == 'azure' else 'gcp'}, model: '{model}'}}\n"
            for road, (_, name, model) in ROADS.items()
        )
    )


@pytest.mark.parametrize("road", list(ROADS))
@pytest.mark.parametrize("agent", ["claude-code", "codex"])
def test_the_agent_runs_its_shell_tool_through_a_cloud(
    agents: Agents,
    make_gateway: GatewayFactory,
    clouds: tuple[FakeGoogleOAuth, FakeVertex, FakeAzure],
    agent: str,
    road: str,
    tmp_path: Any,
) -> None:
    oauth, vertex, azure = clouds
    for each in (oauth, vertex, azure):
        each.reset()
    azure.api_keys = frozenset({AZURE_KEY})
    key_file = tmp_path / "key.json"
    oauth.accounts[ACCOUNT] = service_account_key(key_file, oauth.token_uri)
    wire, model, _ = ROADS[road]
    fake: ScriptedStreams = azure if road == "azure" else vertex
    brain = Brain(command=f"printf 'babelgate {road}\\n' > proof.txt && cat proof.txt")
    fake.responder = responder(brain, wire)
    answers = Answers()
    gateway = make_gateway(
        _config(oauth, vertex, azure, key_file),
        env={"AZURE_KEY": AZURE_KEY, "BABELGATE_API_KEYS": GATEWAY_KEY},
        hooks=(answers,),
    )
    run = (run_claude_code if agent == "claude-code" else run_codex)(
        agents.claude if agent == "claude-code" else agents.codex, gateway, model, tmp_path
    )
    explain = run.explain()
    assert run.returncode == 0, explain
    proof = run.workdir / "proof.txt"
    assert proof.exists() and proof.read_text() == f"babelgate {road}\n", explain
    assert any(f"babelgate {road}" in result for result in shell_results(wire, fake.received)), explain  # type: ignore[attr-defined]
    final = run.final_text()
    assert final is not None and final.startswith(FINAL_PREFIX) and f"babelgate {road}" in final, explain
    assert (brain.calls, brain.answers) == (1, 1), explain
    statuses = answers.statuses()
    assert statuses and set(statuses) == {200}, f"the gateway answered {statuses}\n{explain}"
    violations = vertex.violations if fake is vertex else azure.violations
    assert violations == [], violations


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "bedrock"])
@pytest.mark.parametrize("mode", CLOUD_MODES)
def test_claude_code_in_a_cloud_mode_runs_its_shell_tool_through_the_gateway(
    agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, mode: str, provider: str, tmp_path: Any
) -> None:
    """Claude Code set to Bedrock (InvokeModelWithResponseStream, event-stream answers) or Vertex
    (streamRawPredict), as managed settings would set it, with the gateway's base URL and a gateway key."""
    brain = script(fake, provider)
    answers = Answers()
    gateway = gateway_for(provider, fake, make_gateway, answers)
    run = run_claude_code_cloud(agents.claude, gateway, MODELS[provider], tmp_path, mode=mode)
    assert_work_done(run, fake, provider)
    explain = run.explain()
    assert (brain.calls, brain.answers) == (1, 1), explain
    door = "bedrock" if mode.startswith("bedrock") else "vertex"
    routes = {route for route, _ in answers.seen}
    assert routes and all(route.startswith(door) for route in routes), f"{routes}\n{explain}"
    statuses = answers.statuses()
    assert statuses and set(statuses) == {200}, f"the gateway answered {statuses}\n{explain}"
    assert run.retried_statuses() == [], explain
