"""Strands Agents (AWS's agent SDK) on the gateway's Bedrock Converse door: its `BedrockModel`, pointed at the
gateway, runs a tool loop on a model of another provider (the OpenAI fake), streamed and not. Strands runs in
its own venv (side_venv.py: its `mcp` pin excludes the gateway's)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.agents.side_venv import STRANDS, python_or_skip
from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, completion, text_stream, tool_call, tool_call_stream
from tests.fakes.scripted import Reply

KEY = "sk-strands-gateway-key"
TASK = Path(__file__).parent / "strands_task.py"


@pytest.fixture(scope="session")
def strands_python() -> Path:
    return python_or_skip(STRANDS)


def test_a_strands_agent_runs_its_tool_loop_through_the_converse_door(
    strands_python: Path, make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    def answer(body: dict[str, Any]) -> Reply:
        stream = body.get("stream") is True
        if body["messages"][-1]["role"] == "tool":
            return (
                Reply(stream=text_stream(["It is ", "21 degrees."], include_usage=True))
                if stream
                else Reply(json=completion("It is 21 degrees."))
            )
        if stream:
            return Reply(stream=tool_call_stream([("call_1", "get_weather", ['{"city":', '"Paris"}'])]))
        return Reply(json=completion(None, tool_calls=[tool_call("call_1", "get_weather", '{"city":"Paris"}')]))

    upstream.chat_responder = answer
    gateway = make_gateway(env={"BABELGATE_API_KEYS": KEY})
    ran = subprocess.run(
        [str(strands_python), str(TASK), gateway.url, KEY, "openai/gpt-4o-mini"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    runs = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]
    assert [run["streaming"] for run in runs] == [True, False], ran.stdout
    for run in runs:
        assert run["answer"] == "It is 21 degrees." and run["stop"] == "end_turn", run
        assert run["calls"] == ["Paris"] and run["usage"]["totalTokens"] > 0, run
    results = [
        message
        for received in upstream.received
        if isinstance(received.json, dict)
        for message in received.json["messages"]
        if message["role"] == "tool"
    ]
    assert results and all(message["content"] == "21 degrees in Paris" for message in results)
