"""Google's Agent Development Kit (ADK) on the gateway's Vertex AI door: an ADK agent whose model is ADK's
`Gemini` class in Vertex mode, pointed at the gateway with the gateway's key as a static OAuth token, runs its
tool loop (one Python function tool) on a scripted model behind each provider's fake (OpenAI, Gemini, Anthropic),
streamed and not. ADK runs in its own venv (side_venv.py: it would take an older `google-genai` than the
gateway's)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from tests.agents.side_venv import ADK, python_or_skip
from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes import openai_upstream as oai
from tests.fakes.scripted import Reply, ScriptedStreams

KEY = "sk-adk-gateway-key"
TASK = Path(__file__).parent / "adk_task.py"
RESULT = "21 degrees in Paris"  # what the task's get_weather returns for Paris
ANSWER = "The weather: "  # the scripted model's final answer: this, then the tool's result it received
JSON = dict[str, Any]


@pytest.fixture(scope="session")
def adk_python() -> Path:
    return python_or_skip(ADK)


# -- the scripted model, in each provider's format: call get_weather, then answer with its result ---------------


def _openai_result(body: JSON) -> str | None:
    """The tool result the last message carries, as an OpenAI chat body has it (a `tool` message)."""
    last = body["messages"][-1]
    if last["role"] != "tool":
        return None
    assert last["tool_call_id"] == "call_1", last
    content = last["content"]
    return content if isinstance(content, str) else "".join(part["text"] for part in content)


def _anthropic_result(body: JSON) -> str | None:
    """…as a Messages body has it (a `tool_result` block in the last user message)."""
    last = body["messages"][-1]
    blocks = last["content"] if last["role"] == "user" and isinstance(last["content"], list) else []
    results = [block for block in blocks if block.get("type") == "tool_result"]
    if not results:
        return None
    assert results[0]["tool_use_id"] == "toolu_01", results
    content = results[0]["content"]
    return content if isinstance(content, str) else "".join(part["text"] for part in content)


def _gemini_result(body: JSON) -> str | None:
    """…as a generateContent body has it (a `functionResponse` part in the last content)."""
    responses = [part["functionResponse"] for part in body["contents"][-1]["parts"] if "functionResponse" in part]
    if not responses:
        return None
    assert responses[0]["name"] == "get_weather", responses
    return str(responses[0]["response"].get("result", responses[0]["response"]))


def _openai_reply(result: str | None, stream: bool) -> Reply:
    if result is not None:
        return (
            Reply(stream=[*oai.text_stream([ANSWER, result], include_usage=True)])
            if stream
            else Reply(json=oai.completion(ANSWER + result))
        )
    if stream:
        return Reply(
            stream=[*oai.tool_call_stream([("call_1", "get_weather", ['{"city":', '"Paris"}'])]), oai.usage_chunk()]
        )
    return Reply(json=oai.completion(None, tool_calls=[oai.tool_call("call_1", "get_weather", '{"city":"Paris"}')]))


def _anthropic_reply(result: str | None, stream: bool) -> Reply:
    if result is not None:
        return (
            Reply(stream=[*ant.text_events([ANSWER, result])]) if stream else Reply(json=ant.message(ANSWER + result))
        )
    if stream:
        return Reply(stream=[*ant.tool_events([("toolu_01", "get_weather", ['{"city":', '"Paris"}'])])])
    return Reply(json=ant.message([ant.tool_use_block("toolu_01", "get_weather", {"city": "Paris"})]))


def _gemini_reply(result: str | None, stream: bool) -> Reply:
    if result is not None:
        return (
            Reply(stream=[*gem.text_chunks([ANSWER, result])]) if stream else Reply(json=gem.response(ANSWER + result))
        )
    if stream:
        return Reply(stream=[*gem.function_call_chunks([("get_weather", {"city": "Paris"}, None, None)])])
    return Reply(json=gem.response([gem.function_call_part("get_weather", {"city": "Paris"})]))


@dataclass(frozen=True)
class Provider:
    model: str  # as ADK's Gemini names it: google-genai sends `publishers/openai/models/gpt-4o-mini`
    offers_tool: Callable[[JSON], bool]
    streams: Callable[[JSON, str], bool]
    result: Callable[[JSON], str | None]  # the tool result the upstream was sent back, in its own format
    reply: Callable[[str | None, bool], Reply]


PROVIDERS = {
    "openai": Provider(
        "openai/gpt-4o-mini",
        lambda body: any(tool["function"]["name"] == "get_weather" for tool in body.get("tools") or ()),
        lambda body, _: body.get("stream") is True,
        _openai_result,
        _openai_reply,
    ),
    "anthropic": Provider(
        "anthropic/claude-sonnet-4-6",
        lambda body: any(tool.get("name") == "get_weather" for tool in body.get("tools") or ()),
        lambda body, _: body.get("stream") is True,
        _anthropic_result,
        _anthropic_reply,
    ),
    "gemini": Provider(
        "gemini-2.5-flash",
        lambda body: any(
            declaration["name"] == "get_weather"
            for tool in body.get("tools") or ()
            for declaration in tool.get("functionDeclarations") or ()
        ),
        lambda _, path: ":streamGenerateContent" in path,
        _gemini_result,
        _gemini_reply,
    ),
}


def _is_model_call(provider: str, path: str) -> bool:
    if provider == "gemini":
        return ":generateContent" in path or ":streamGenerateContent" in path
    return path.endswith(("/chat/completions", "/v1/messages"))


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_an_adk_agent_runs_its_tool_loop_through_the_vertex_door(
    provider: str,
    fake: ScriptedStreams,
    adk_python: Path,
    make_gateway: GatewayFactory,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
) -> None:
    road = PROVIDERS[provider]
    upstream = cast(oai.FakeOpenAI | ant.FakeAnthropic | gem.FakeGemini, fake)

    def respond(body: Any, path: str) -> Reply | None:
        if not isinstance(body, dict) or not _is_model_call(provider, path) or not road.offers_tool(body):
            return None  # anything else is the fake's default answer
        return road.reply(road.result(body), road.streams(body, path))

    fake.responder = respond
    gateway = make_gateway(
        env={
            "BABELGATE_API_KEYS": KEY,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
            "GEMINI_API_KEY": GEMINI_KEY,
            "GEMINI_BASE_URL": gemini_upstream.base_url,
        }
    )
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
        [str(adk_python), str(TASK), gateway.url, KEY, road.model],
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
    # The fake was sent the tool's result back in its provider's own format (read by road.result, which checks
    # the call id or name it answers), once by the whole run and once by the streamed one.
    sent_back = [
        (road.streams(received.json, received.path), result)
        for received in upstream.received
        if isinstance(received.json, dict) and _is_model_call(provider, received.path)
        for result in [road.result(received.json)]
        if result is not None
    ]
    assert [streamed for streamed, _ in sent_back] == [False, True], sent_back
    assert all(RESULT in result for _, result in sent_back), sent_back
    assert upstream.spec_violations == [], upstream.spec_violations
