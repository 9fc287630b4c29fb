"""What Codex CLI sends to `/v1/responses`, through the official `openai` SDK, on translated roads:
namespaces of function tools, hosted tools, client metadata, and `store: false` with reasoning state
carried sealed in the client's replayed items — continued on another gateway instance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, MISTRAL_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes import mistral_upstream as mis
from tests.fakes.openai_upstream import FakeOpenAI, completion, tool_call
from tests.fakes.scripted import Reply
from tests.fakes.servers import RunningApp
from tests.integration.responses_helpers import assert_valid_stream, sdk_client, stream_raw, weather_tool

JSON = dict[str, Any]
CLAUDE = "claude-sonnet-4-6"
PARAMS = {"type": "object", "properties": {"target": {"type": "string"}}, "required": ["target"]}
NAMESPACE = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Sub-agents",
    "tools": [{"type": "function", "name": "close_agent", "description": "Close one", "parameters": PARAMS}],
}
CODEX_FIELDS: JSON = {
    "store": False,
    "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "0193",
    "parallel_tool_calls": True,
    "reasoning": {"summary": "auto"},
    "client_metadata": {"session_id": "0193"},
}


def _client(gateway: RunningApp) -> Iterator[openai.OpenAI]:
    yield from sdk_client(gateway.url)


@pytest.fixture
def client(gateway: RunningApp) -> Iterator[openai.OpenAI]:
    yield from _client(gateway)


def test_codex_tools_on_an_openai_compatible_upstream(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    """The namespace is offered flat and its call comes back under the declared names; web_search has no
    chat equivalent there and is dropped; every change is in the header."""
    upstream.script(
        Reply(json=completion(None, tool_calls=[tool_call("call_1", "multi_agent_v1__close_agent", '{"target":"a"}')]))
    )
    raw = client.responses.with_raw_response.create(
        model="gpt-4o-mini",
        input="Close agent a",
        tools=[weather_tool(), NAMESPACE, {"type": "web_search"}],  # type: ignore[list-item]
        extra_body=CODEX_FIELDS,
    )
    response = raw.parse()
    call = response.output[0]
    assert call.type == "function_call"
    assert (call.name, call.namespace) == ("close_agent", "multi_agent_v1")
    sent = upstream.received[-1].json
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["get_weather", "multi_agent_v1__close_agent"]
    assert sent["prompt_cache_key"] == "0193"
    adjusted = raw.headers["x-babelgate-adjusted-params"].split(";")
    assert {"tools[1]=namespace-flattened", "client_metadata=dropped", "tools[2]=dropped"} <= set(adjusted)

    # Codex replays the call with its namespace: the upstream sees the flat name again.
    upstream.script(Reply(json=completion("Closed.")))
    replay = [
        {"role": "user", "content": "Close agent a"},
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "close_agent",
            "namespace": "multi_agent_v1",
            "arguments": '{"target":"a"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "closed"},
    ]
    assert (
        client.responses.create(
            model="gpt-4o-mini",
            input=replay,
            tools=[NAMESPACE],  # type: ignore[arg-type, list-item]
            extra_body=CODEX_FIELDS,
        ).output_text
        == "Closed."
    )
    assert (
        upstream.received[-1].json["messages"][1]["tool_calls"][0]["function"]["name"] == "multi_agent_v1__close_agent"
    )


def test_web_search_becomes_anthropics_search_tool(
    make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic
) -> None:
    gateway = make_gateway(env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url})
    anthropic_upstream.script(
        ant.Reply(
            json=ant.message(
                [
                    {
                        "type": "server_tool_use",
                        "id": "srvtoolu_1",
                        "name": "web_search",
                        "input": {"query": "babelgate"},
                    },
                    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                    ant.text_block("Nothing found."),
                ]
            )
        )
    )
    for client in _client(gateway):
        raw = client.responses.with_raw_response.create(
            model=CLAUDE,
            input="Search babelgate",
            tools=[
                {
                    "type": "web_search",
                    "user_location": {"type": "approximate", "city": "Paris"},
                    "search_context_size": "low",
                }
            ],
        )
        assert raw.parse().output_text == "Nothing found."
    sent = anthropic_upstream.received[-1].json
    assert sent["tools"] == [
        {"type": "web_search_20250305", "name": "web_search", "user_location": {"type": "approximate", "city": "Paris"}}
    ]
    assert raw.headers["x-babelgate-adjusted-params"] == "tools[0].search_context_size=dropped"


@pytest.mark.parametrize("model", ["gemini-3-pro-preview", "gemini-2.5-flash"])
def test_web_search_becomes_google_search_where_gemini_takes_it(
    make_gateway: GatewayFactory, gemini_upstream: gem.FakeGemini, model: str
) -> None:
    gateway = make_gateway(env={"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": gemini_upstream.base_url})
    for client in _client(gateway):
        raw = client.responses.with_raw_response.create(
            model=model, input="News?", tools=[weather_tool(), {"type": "web_search"}]
        )
        raw.parse()
    sent = gemini_upstream.received[-1].json
    if model.startswith("gemini-3"):
        assert sent["tools"][1] == {"googleSearch": {}}
        assert "x-babelgate-adjusted-params" not in raw.headers
    else:  # Gemini 2.5 refuses search beside function declarations
        assert len(sent["tools"]) == 1
        assert raw.headers["x-babelgate-adjusted-params"] == "tools[1]=dropped"


def test_mistral_drops_web_search_and_an_operator_can_refuse_it(
    make_gateway: GatewayFactory, mistral_upstream: mis.FakeMistral
) -> None:
    env = {"MISTRAL_API_KEY": MISTRAL_KEY, "MISTRAL_BASE_URL": mistral_upstream.base_url}
    for client in _client(make_gateway(env=env)):
        raw = client.responses.with_raw_response.create(
            model="mistral-small-latest", input="News?", tools=[{"type": "web_search"}]
        )
        raw.parse()
        assert raw.headers["x-babelgate-adjusted-params"] == "tools[0]=dropped"
    assert "tools" not in mistral_upstream.received[-1].json
    refusing = make_gateway("server:\n  unsupported_tools: refuse\n", env=env)
    response = httpx.post(
        refusing.url + "/v1/responses",
        timeout=10,
        json={"model": "mistral-small-latest", "input": "News?", "tools": [{"type": "web_search"}]},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "tools[0]" and "web_search" in error["message"] and "unsupported_tools" in error["message"]


# -- reasoning carried by the client -----------------------------------------------------------------------


def _claude_turn(gateway: RunningApp, items: list[JSON]) -> list[JSON]:
    events = stream_raw(
        gateway.url,
        {
            "model": CLAUDE,
            "input": items,
            "tools": [weather_tool()],
            **CODEX_FIELDS,
            "reasoning": {"effort": "high", "summary": "auto"},
            "stream": True,
        },
    )
    assert_valid_stream(events)
    output: list[JSON] = events[-1]["response"]["output"]
    return output


def test_signed_thinking_survives_a_stateless_tool_loop_on_another_instance(
    make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic, tmp_path: Path
) -> None:
    """Two gateways share only the store file (where the generated key lives): the first answers with
    signed thinking sealed in the reasoning item, the second opens it and Claude gets its block back."""
    env = {
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
        "BABELGATE_STORE_URL": f"sqlite:{tmp_path / 'state.db'}",
    }
    first, second = make_gateway(env=env), make_gateway(env=env)
    anthropic_upstream.script(
        ant.Reply(
            stream=ant.tool_events(
                [("toolu_01", "get_weather", ['{"city":"Paris"}'])],
                thinking="Weather needs a lookup.",
                signature="EqSignedByClaude==",
            )
        )
    )
    user = {"type": "message", "role": "user", "content": "Weather in Paris?"}
    output = _claude_turn(first, [user])
    reasoning, call = output
    assert reasoning["type"] == "reasoning" and reasoning["encrypted_content"].startswith("bg1.")
    assert "EqSignedByClaude" not in reasoning["encrypted_content"]  # sealed, not merely encoded
    anthropic_upstream.script(ant.Reply(stream=ant.text_events(["Sunny."])))
    answer = _claude_turn(
        second, [user, *output, {"type": "function_call_output", "call_id": call["call_id"], "output": "21C"}]
    )
    assert answer[-1]["content"][0]["text"] == "Sunny."
    assistant = anthropic_upstream.received[-1].json["messages"][1]["content"]
    assert assistant[0] == {
        "type": "thinking",
        "thinking": "Weather needs a lookup.",
        "signature": "EqSignedByClaude==",
    }


def test_a_forged_reasoning_item_is_dropped_and_reported(
    make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic
) -> None:
    gateway = make_gateway(env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url})
    anthropic_upstream.script(ant.Reply(json=ant.message("Fine.")))
    items = [
        {"type": "message", "role": "user", "content": "Hi"},
        {"type": "reasoning", "summary": [], "encrypted_content": "bg1.Zm9yZ2VkIGJ5IHRoZSBjbGllbnQ"},
        {"type": "message", "role": "assistant", "content": "Hello."},
        {"type": "message", "role": "user", "content": "Again"},
    ]
    for client in _client(gateway):
        raw = client.responses.with_raw_response.create(model=CLAUDE, input=items, extra_body=CODEX_FIELDS)  # type: ignore[arg-type]
        assert raw.parse().output_text == "Fine."
        assert "input[1].encrypted_content=dropped" in raw.headers["x-babelgate-adjusted-params"]
