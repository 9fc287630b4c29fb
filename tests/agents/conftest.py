"""Fixtures of the coding-agent tests: the agents themselves (installed once, install.py) and a gateway in
front of one provider's fake upstream whose scripted model (brain.py) drives the agent's tool loop."""

from __future__ import annotations

import pytest

from tests.agents.install import Agents, AgentsMissing, install, required
from tests.fakes.scripted import ScriptedStreams


@pytest.fixture(scope="session")
def agents() -> Agents:
    try:
        return install()
    except AgentsMissing as missing:
        if required():
            pytest.fail(f"{missing} (required here: CI or BABELGATE_REQUIRE_SERVICES=1)")
        pytest.skip(str(missing))


@pytest.fixture
def fake(request: pytest.FixtureRequest, provider: str) -> ScriptedStreams:
    """The fake upstream of the test's `provider` (its parameter)."""
    name = {
        "openai": "upstream",
        "anthropic": "anthropic_upstream",
        "gemini": "gemini_upstream",
        "mistral": "mistral_upstream",
        "bedrock": "bedrock_upstream",
    }[provider]
    upstream: ScriptedStreams = request.getfixturevalue(name)
    return upstream
