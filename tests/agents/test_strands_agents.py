"""Strands Agents (AWS's agent SDK) on the gateway's Bedrock Converse door: its `BedrockModel`, pointed at the
gateway, runs a tool loop (one function tool) on a scripted model behind each provider's fake (OpenAI, Anthropic,
Gemini: tool_model.py), streamed and not. Strands runs in its own venv (side_venv.py: its `mcp` pin excludes the
gateway's)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import cast

import pytest

from tests.agents.side_venv import STRANDS, python_or_skip
from tests.agents.tool_model import ANSWER, PROVIDERS, RESULT, scripted_gateway, sent_back
from tests.conftest import GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes import openai_upstream as oai
from tests.fakes.scripted import ScriptedStreams

KEY = "sk-strands-gateway-key"
TASK = Path(__file__).parent / "strands_task.py"


@pytest.fixture(scope="session")
def strands_python() -> Path:
    return python_or_skip(STRANDS)


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_a_strands_agent_runs_its_tool_loop_through_the_converse_door(
    provider: str,
    fake: ScriptedStreams,
    strands_python: Path,
    make_gateway: GatewayFactory,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
) -> None:
    upstream = cast(oai.FakeOpenAI | ant.FakeAnthropic | gem.FakeGemini, fake)
    gateway = scripted_gateway(provider, fake, make_gateway, KEY, anthropic_upstream, gemini_upstream)
    ran = subprocess.run(
        [str(strands_python), str(TASK), gateway.url, KEY, PROVIDERS[provider].model],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    runs = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]
    assert [run["streaming"] for run in runs] == [True, False], ran.stdout
    for run in runs:
        assert run["answer"] == ANSWER + RESULT and run["stop"] == "end_turn", run
        assert run["calls"] == ["Paris"] and run["usage"]["totalTokens"] > 0, run
    # The fake was sent the tool's result back in its own format, by the streamed run and then by the whole one.
    results = sent_back(provider, upstream.received)
    assert [streamed for streamed, _ in results] == [True, False], results
    assert all(RESULT in result for _, result in results), results
    assert upstream.spec_violations == [], upstream.spec_violations
