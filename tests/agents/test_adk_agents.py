"""Google's Agent Development Kit (ADK) on the gateway's Vertex AI door: an ADK agent whose model is ADK's
`Gemini` class in Vertex mode, pointed at the gateway with the gateway's key as a static OAuth token, runs its
tool loop (one Python function tool) on a scripted model behind each provider's fake (OpenAI, Gemini, Anthropic),
streamed and not. ADK runs in its own venv (side_venv.py: it would take an older `google-genai` than the
gateway's)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import cast

import pytest

from tests.agents.side_venv import ADK, python_or_skip
from tests.agents.tool_model import ANSWER, RESULT, scripted_gateway, sent_back
from tests.conftest import GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes import openai_upstream as oai
from tests.fakes.scripted import ScriptedStreams

KEY = "sk-adk-gateway-key"
TASK = Path(__file__).parent / "adk_task.py"
# As ADK's Gemini names the models: google-genai sends `openai/gpt-4o-mini` as `publishers/openai/models/gpt-4o-mini`.
ADK_MODELS = {"openai": "openai/gpt-4o-mini", "anthropic": "anthropic/claude-sonnet-4-6", "gemini": "gemini-2.5-flash"}


@pytest.fixture(scope="session")
def adk_python() -> Path:
    return python_or_skip(ADK)


@pytest.mark.parametrize("provider", list(ADK_MODELS))
def test_an_adk_agent_runs_its_tool_loop_through_the_vertex_door(
    provider: str,
    fake: ScriptedStreams,
    adk_python: Path,
    make_gateway: GatewayFactory,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
) -> None:
    upstream = cast(oai.FakeOpenAI | ant.FakeAnthropic | gem.FakeGemini, fake)
    gateway = scripted_gateway(provider, fake, make_gateway, KEY, anthropic_upstream, gemini_upstream)
    # Vertex mode from the environment, as ADK is configured; nothing of Google's own credentials or keys.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GOOGLE_", "GEMINI_")) and name != "CLOUDSDK_CONFIG"
    }
    env |= {
        "GOOGLE_GENAI_USE_VERTEXAI": "true",
        "GOOGLE_CLOUD_PROJECT": "babelgate-test",
        "GOOGLE_CLOUD_LOCATION": "us-central1",
    }
    ran = subprocess.run(
        [str(adk_python), str(TASK), gateway.url, KEY, ADK_MODELS[provider]],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    runs = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]
    assert [run["streaming"] for run in runs] == [False, True], ran.stdout + ran.stderr[-3000:]
    for run in runs:
        assert run["calls"] == ["Paris"], run
        assert run["answer"] == ANSWER + RESULT and run["author"] == "weather_agent", run
    # The fake was sent the tool's result back in its provider's own format, once by the whole run and once by the
    # streamed one.
    results = sent_back(provider, upstream.received)
    assert [streamed for streamed, _ in results] == [False, True], results
    assert all(RESULT in result for _, result in results), results
    assert upstream.spec_violations == [], upstream.spec_violations
