"""The Responses API folded onto providers that do not speak it: Anthropic, Gemini and Mistral
fakes behind the gateway, driven by the official `openai` SDK. Each fake refuses what its real
API refuses, so a tool loop continued by `previous_response_id` proves the conversation we
rebuild is one the provider accepts."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pydantic
import pytest

from babelgate import tool_ids
from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, MISTRAL_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes import mistral_upstream as mis
from tests.fakes.servers import RunningApp
from tests.integration.responses_helpers import (
    TEXT_SEQUENCE,
    assert_valid_resource,
    assert_valid_stream,
    sdk_client,
    stream_raw,
    types,
    weather_tool,
)

CLAUDE = "claude-sonnet-4-6"
GEMINI = "gemini-3-pro-preview"


@pytest.fixture
def claude_gateway(make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic) -> RunningApp:
    return make_gateway(env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url})


@pytest.fixture
def gemini_gateway(make_gateway: GatewayFactory, gemini_upstream: gem.FakeGemini) -> RunningApp:
    return make_gateway(env={"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": gemini_upstream.base_url})


def _client(gateway: RunningApp) -> Iterator[openai.OpenAI]:
    yield from sdk_client(gateway.url)


@pytest.fixture
def claude(claude_gateway: RunningApp) -> Iterator[openai.OpenAI]:
    yield from _client(claude_gateway)


@pytest.fixture
def gemini(gemini_gateway: RunningApp) -> Iterator[openai.OpenAI]:
    yield from _client(gemini_gateway)


def _last_json(fake: object, path_part: str) -> dict[str, object]:
    return next(r.json for r in reversed(fake.received) if path_part in r.path)  # type: ignore[attr-defined]


# -- Anthropic ------------------------------------------------------------------------------


def test_claude_text_with_instructions(claude: openai.OpenAI, anthropic_upstream: ant.FakeAnthropic) -> None:
    anthropic_upstream.script(ant.Reply(json=ant.message("Bonjour!", usage=ant.usage(10, 4))))
    raw = claude.responses.with_raw_response.create(
        model=CLAUDE, input="Hi", instructions="French.", max_output_tokens=64
    ).http_response.json()
    assert_valid_resource(raw)
    assert raw["output_text"] == "Bonjour!" and raw["usage"]["input_tokens"] == 10
    sent = _last_json(anthropic_upstream, "/v1/messages")
    assert sent["system"] == "French." or sent["system"] == [{"type": "text", "text": "French."}]
    assert sent["max_tokens"] == 64
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]


def test_claude_profile_adjustments_are_reported(claude: openai.OpenAI, anthropic_upstream: ant.FakeAnthropic) -> None:
    anthropic_upstream.script(ant.Reply(json=ant.message("Hi!")))
    raw = claude.responses.with_raw_response.create(model=CLAUDE, input="Hi", temperature=0.5, top_p=0.9)
    assert "top_p=dropped" in raw.headers["x-babelgate-adjusted-params"]
    assert "top_p" not in _last_json(anthropic_upstream, "/v1/messages")


def test_claude_stream(claude_gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic) -> None:
    anthropic_upstream.script(ant.Reply(stream=ant.text_events(["Hel", "lo", "!"])))
    events = stream_raw(claude_gateway.url, {"model": CLAUDE, "input": "Hi"})
    assert types(events) == TEXT_SEQUENCE
    assert_valid_stream(events)


def test_claude_thinking_and_tool_loop(
    claude: openai.OpenAI, claude_gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic
) -> None:
    anthropic_upstream.script(
        ant.Reply(
            stream=ant.tool_events(
                [("toolu_01", "get_weather", ['{"city":', '"Paris"}'])], thinking="The user wants weather."
            )
        )
    )
    events = stream_raw(
        claude_gateway.url,
        {"model": CLAUDE, "input": "Weather?", "tools": [weather_tool()], "reasoning": {"effort": "high"}},
    )
    assert_valid_stream(events)
    output = events[-1]["response"]["output"]
    assert [item["type"] for item in output] == ["reasoning", "function_call"]
    assert output[0]["summary"] == [{"type": "summary_text", "text": "The user wants weather."}]
    call = output[1]
    assert call["arguments"] == '{"city":"Paris"}' and call["call_id"].startswith("toolu_01")
    anthropic_upstream.script(ant.Reply(json=ant.message("Sunny.")))
    outputs = [{"type": "function_call_output", "call_id": call["call_id"], "output": "21C"}]
    answer = claude.responses.create(
        model=CLAUDE,
        previous_response_id=events[-1]["response"]["id"],
        tools=[weather_tool()],
        reasoning={"effort": "high"},
        input=outputs,
    )  # type: ignore[arg-type, list-item]
    assert answer.output_text == "Sunny."
    messages = _last_json(anthropic_upstream, "/v1/messages")["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]  # type: ignore[index]
    assistant = messages[1]["content"]  # type: ignore[index]
    assert [block["type"] for block in assistant] == ["thinking", "tool_use"], "the signed thinking block is replayed"
    assert messages[2]["content"][0]["tool_use_id"] == "toolu_01"  # type: ignore[index]


# -- Gemini ---------------------------------------------------------------------------------


def test_gemini_text_and_stream(
    gemini: openai.OpenAI, gemini_gateway: RunningApp, gemini_upstream: gem.FakeGemini
) -> None:
    gemini_upstream.script(gem.Reply(json=gem.response("Hallo!")))
    assert gemini.responses.create(model=GEMINI, input="Hi").output_text == "Hallo!"
    gemini_upstream.script(gem.Reply(stream=gem.text_chunks(["Hel", "lo", "!"])))
    events = stream_raw(gemini_gateway.url, {"model": GEMINI, "input": "Hi"})
    assert types(events) == TEXT_SEQUENCE
    assert_valid_stream(events)
    assert events[-1]["response"]["usage"]["input_tokens"] == 9


def test_gemini_parallel_calls_and_signatures_survive_the_loop(
    gemini: openai.OpenAI, gemini_gateway: RunningApp, gemini_upstream: gem.FakeGemini
) -> None:
    gemini_upstream.script(
        gem.Reply(
            stream=gem.function_call_chunks(
                [("get_weather", {"city": "Paris"}, "fc_1", "c2lnMQ=="), ("get_time", {"tz": "CET"}, "fc_2", None)]
            )
        )
    )
    events = stream_raw(
        gemini_gateway.url, {"model": GEMINI, "input": "Both?", "tools": [weather_tool(), weather_tool("get_time")]}
    )
    assert_valid_stream(events)
    calls = events[-1]["response"]["output"]
    assert [c["call_id"] for c in calls] == [tool_ids.join("fc_1", "c2lnMQ=="), "fc_2"]
    outputs = [{"type": "function_call_output", "call_id": c["call_id"], "output": "ok"} for c in calls]
    gemini_upstream.script(gem.Reply(json=gem.response("Done.")))
    answer = gemini.responses.create(
        model=GEMINI,
        previous_response_id=events[-1]["response"]["id"],
        input=outputs,  # type: ignore[arg-type]
        tools=[weather_tool(), weather_tool("get_time")],
    )  # type: ignore[list-item]
    assert answer.output_text == "Done."
    contents = _last_json(gemini_upstream, ":generateContent")["contents"]
    model_turn = contents[1]  # type: ignore[index]
    assert model_turn["parts"][0]["thoughtSignature"] == "c2lnMQ=="
    assert [p["functionResponse"]["id"] for p in contents[2]["parts"]] == ["fc_1", "fc_2"]  # type: ignore[index]


# -- Mistral --------------------------------------------------------------------------------


def test_mistral_tool_loop(make_gateway: GatewayFactory, mistral_upstream: mis.FakeMistral) -> None:
    gateway = make_gateway(env={"MISTRAL_API_KEY": MISTRAL_KEY, "MISTRAL_BASE_URL": mistral_upstream.base_url})
    mistral_upstream.script(
        mis.Reply(json=mis.completion(None, tool_calls=[mis.tool_call("abcDEF123", "get_weather", '{"city": "Lyon"}')]))
    )
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        first = client.responses.create(model="mistral-large-latest", input="Weather?", tools=[weather_tool()])  # type: ignore[list-item]
        call = first.output[0]
        assert call.type == "function_call" and call.call_id == "abcDEF123"
        outputs = [{"type": "function_call_output", "call_id": "abcDEF123", "output": "9C"}]
        second = client.responses.create(
            model="mistral-large-latest", previous_response_id=first.id, tools=[weather_tool()], input=outputs
        )  # type: ignore[arg-type, list-item]
    assert second.output_text
    messages = _last_json(mistral_upstream, "/v1/chat/completions")["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]  # type: ignore[index]


# -- every translated provider: parse and WebSocket mode ------------------------------------


class City(pydantic.BaseModel):
    name: str
    population: int


CITY_JSON = '{"name": "Paris", "population": 2100000}'


def test_parse_on_claude_and_gemini(
    claude: openai.OpenAI, gemini: openai.OpenAI, anthropic_upstream: ant.FakeAnthropic, gemini_upstream: gem.FakeGemini
) -> None:
    anthropic_upstream.script(ant.Reply(json=ant.message(CITY_JSON)))
    assert claude.responses.parse(model=CLAUDE, input="A city?", text_format=City).output_parsed == City(
        name="Paris", population=2100000
    )
    gemini_upstream.script(gem.Reply(json=gem.response(CITY_JSON)))
    assert gemini.responses.parse(model=GEMINI, input="A city?", text_format=City).output_parsed == City(
        name="Paris", population=2100000
    )
    config = _last_json(gemini_upstream, ":generateContent")["generationConfig"]
    assert config["responseMimeType"] == "application/json"  # type: ignore[index]


@pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")
def test_sdk_websocket_mode_on_claude_and_gemini(
    claude: openai.OpenAI, gemini: openai.OpenAI, anthropic_upstream: ant.FakeAnthropic, gemini_upstream: gem.FakeGemini
) -> None:
    anthropic_upstream.script(
        ant.Reply(stream=ant.text_events(["Hel", "lo"])), ant.Reply(stream=ant.text_events(["Again"]))
    )
    gemini_upstream.script(
        gem.Reply(stream=gem.text_chunks(["Hal", "lo"])), gem.Reply(stream=gem.text_chunks(["Wieder"]))
    )
    for client, model, texts in ((claude, CLAUDE, ["Hello", "Again"]), (gemini, GEMINI, ["Hallo", "Wieder"])):
        with client.responses.connect() as connection:
            previous = None
            for text in texts:
                connection.response.create(model=model, input="Hi", store=False, previous_response_id=previous)
                final = None
                for event in connection:
                    if event.type in ("response.completed", "error", "response.failed"):
                        final = event
                        break
                assert final is not None and final.type == "response.completed", final
                assert final.response.output_text == text
                previous = final.response.id
    contents = _last_json(gemini_upstream, ":streamGenerateContent")["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]  # type: ignore[index]
