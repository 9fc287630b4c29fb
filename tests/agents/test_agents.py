"""Claude Code and Codex CLI, their current releases, doing real work through the gateway on every
provider: the scripted model asks for the agent's shell tool, the agent runs the command (a file
appears), sends the result back, and prints the model's final answer. Every request each fake
received is checked against that provider's rules (the fixtures fail the test on a violation)."""

from __future__ import annotations

import time
from typing import Any, Final

import pytest

from tests.agents.brain import CLAUDE_THOUGHT, FINAL_PREFIX, claude_signature, shell_results
from tests.agents.harness import MODELS, Answers, Run, gateway_for, run_claude_code, run_codex, script
from tests.agents.install import Agents
from tests.conftest import GatewayFactory
from tests.fakes import mistral_upstream
from tests.fakes.scripted import Reply, ScriptedStreams
from tests.fakes.servers import RunningApp

PROVIDERS = list(MODELS)
AGENTS = ("claude-code", "codex")


def run_agent(agent: str, agents: Agents, gateway: RunningApp, provider: str, tmp_path: Any) -> Run:
    if agent == "claude-code":
        return run_claude_code(agents.claude, gateway, MODELS[provider], tmp_path)
    return run_codex(agents.codex, gateway, MODELS[provider], tmp_path)


def assert_work_done(run: Run, fake: ScriptedStreams, provider: str) -> None:
    """The command ran (the file), its result went back upstream, and the model's answer came out."""
    explain = run.explain()
    assert run.returncode == 0, explain
    proof = run.workdir / "proof.txt"
    assert proof.exists(), f"the agent did not run the shell command\n{explain}"
    assert proof.read_text() == f"babelgate {provider}\n", explain
    results = shell_results(provider, fake.received)  # type: ignore[attr-defined]
    assert any(f"babelgate {provider}" in result for result in results), (
        f"no request to the upstream carried the shell's result (found {results!r})\n{explain}"
    )
    final = run.final_text()
    assert final is not None and final.startswith(FINAL_PREFIX) and f"babelgate {provider}" in final, (
        f"final answer {final!r}\n{explain}"
    )


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("agent", AGENTS)
def test_the_agent_runs_its_shell_tool_through_the_gateway(
    agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, agent: str, provider: str, tmp_path: Any
) -> None:
    """Claude Code on the Messages road, Codex on the Responses road."""
    brain = script(fake, provider)
    answers = Answers()
    run = run_agent(agent, agents, gateway_for(provider, fake, make_gateway, answers), provider, tmp_path)
    assert_work_done(run, fake, provider)
    assert (brain.calls, brain.answers) == (1, 1), run.explain()
    # Nothing the agent asked was refused, side requests included (an agent may shrug some failures off).
    statuses = answers.statuses()
    assert statuses and set(statuses) == {200}, f"the gateway answered {statuses}\n{run.explain()}"
    assert run.retried_statuses() == [], run.explain()


@pytest.mark.parametrize("provider", ["anthropic", "bedrock"])
@pytest.mark.parametrize("agent", AGENTS)
def test_claudes_signed_thinking_comes_back_intact_through_the_tool_loop(
    agents: Agents, make_gateway: GatewayFactory, fake: ScriptedStreams, agent: str, provider: str, tmp_path: Any
) -> None:
    """With thinking on, Anthropic refuses a tool result whose tool_use turn lost its signed thinking block,
    and a block whose signature was altered. Claude Code (native road) gets the block and sends it back;
    Codex (Responses road, `store: false`) carries it in the encrypted reasoning it replays. Claude on
    Bedrock (InvokeModel) the same."""
    script(fake, provider)
    gateway = gateway_for(provider, fake, make_gateway)
    if agent == "claude-code":
        run = run_claude_code(agents.claude, gateway, MODELS[provider], tmp_path)
    else:  # Codex asks a gateway model for no reasoning unless configured to
        run = run_codex(agents.codex, gateway, MODELS[provider], tmp_path, reasoning_effort="medium")
    assert_work_done(run, fake, provider)
    bodies = [received.json for received in fake.received if received.method == "POST"]  # type: ignore[attr-defined]
    thinking = bodies[0].get("thinking") or {}
    assert thinking.get("type") in ("enabled", "adaptive"), f"thinking was not asked for: {thinking}\n{run.explain()}"
    turn = [message for message in bodies[-1]["messages"] if message["role"] == "assistant"][-1]
    assert turn["content"][0] == {"type": "thinking", "thinking": CLAUDE_THOUGHT, "signature": claude_signature(1)}, (
        f"the tool_use turn came back as {turn}\n{run.explain()}"
    )


# -- retries: the error reaches the agent in its own API's format, with Retry-After, and it tries again ------

RETRY_AFTER_S: Final = 1
RATE_LIMITED: Final = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
OPENAI_OVERLOADED: Final = {
    "error": {
        "message": "The server is overloaded or not ready yet.",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}
ANTHROPIC_OVERLOADED: Final = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
GEMINI_UNAVAILABLE: Final = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
MISTRAL_UNAVAILABLE: Final = mistral_upstream.error_body(
    "Service unavailable", type="service_unavailable", raw_status_code=503
)


RETRIES: Final = [
    # A rate limit, per agent: 429 stays 429 (docs/decisions.md, "Upstream failures and the client's status").
    ("claude-code", "openai", 429, RATE_LIMITED, 429),
    ("codex", "openai", 429, RATE_LIMITED, 429),
    # An overloaded upstream (Anthropic's 529, everyone else's 503) is a 503 to the agent, which retries.
    ("claude-code", "anthropic", 529, ANTHROPIC_OVERLOADED, 503),
    ("claude-code", "openai", 503, OPENAI_OVERLOADED, 503),
    ("claude-code", "gemini", 503, GEMINI_UNAVAILABLE, 503),
    ("claude-code", "mistral", 503, MISTRAL_UNAVAILABLE, 503),
    ("codex", "gemini", 503, GEMINI_UNAVAILABLE, 503),
]


@pytest.mark.parametrize(
    ("agent", "provider", "status", "body", "seen"),
    RETRIES,
    ids=[f"{agent}-{provider}-{status}" for agent, provider, status, _, _ in RETRIES],
)
def test_the_agent_retries_an_overloaded_or_rate_limited_upstream(
    agents: Agents,
    make_gateway: GatewayFactory,
    fake: ScriptedStreams,
    monkeypatch: pytest.MonkeyPatch,
    agent: str,
    provider: str,
    status: int,
    body: dict[str, object],
    seen: int,
    tmp_path: Any,
) -> None:
    """The agent itself retries, no sooner than Retry-After, with the same request: the gateway answered it
    the error (it does not retry on its own), then served the retry."""
    script(fake, provider)
    fake.script(Reply(status=status, json=body, headers={"retry-after": str(RETRY_AFTER_S)}))
    answered_at: list[float] = []
    next_reply = fake.next_reply

    def timed(body: Any, path: str) -> Reply | None:
        answered_at.append(time.monotonic())
        return next_reply(body, path)

    monkeypatch.setattr(fake, "next_reply", timed)
    answers = Answers()
    run = run_agent(agent, agents, gateway_for(provider, fake, make_gateway, answers), provider, tmp_path)
    assert_work_done(run, fake, provider)
    explain = run.explain()
    statuses = answers.statuses()
    assert statuses[:1] == [seen] and set(statuses[1:]) == {200}, f"the gateway answered {statuses}\n{explain}"
    if agent == "claude-code" or seen == 429:  # Codex retries a 5xx quietly, a 429 with a "Reconnecting…" event
        assert run.retried_statuses() == [seen], f"the agent should report one retry after a {seen}\n{explain}"
    bodies = [received.json for received in fake.received if received.method == "POST"]  # type: ignore[attr-defined]
    assert len(bodies) >= 2 and bodies[0] == bodies[1], f"the refused request was not sent again as it was\n{explain}"
    waited = answered_at[1] - answered_at[0]
    assert waited >= RETRY_AFTER_S * 0.9, f"retried after {waited:.2f} s, Retry-After: {RETRY_AFTER_S}\n{explain}"
