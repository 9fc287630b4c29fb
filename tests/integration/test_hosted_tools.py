"""Hosted tools through the running gateway with the official clients: a `web_search` next to a
function tool reaches each fake upstream as that provider's own search (Anthropic's server tool,
Gemini's Google Search) or not at all (`tools[i]=dropped` in x-babelgate-adjusted-params); answers in
which the provider searched arrive as text, in JSON and in streams; `unsupported_tools: refuse`
(per model, or for the whole gateway) is a 400 that names the tool, on every frontend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from babelgate.hooks import Hook, RequestContext
from babelgate.schema.chat import ChatRequest
from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, MISTRAL_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes import mistral_upstream as mis
from tests.fakes.openai_upstream import FakeOpenAI, completion
from tests.fakes.scripted import Reply
from tests.fakes.servers import RunningApp
from tests.integration.responses_helpers import sdk_client, weather_tool

JSON = dict[str, Any]
CLAUDE = "claude-sonnet-4-5"
ADJUSTED = "x-babelgate-adjusted-params"
SEARCH: JSON = {"type": "web_search"}
FUNCTION: JSON = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
RESULTS = [ant.web_search_result("https://example.org/paris", "Paris weather")]
METADATA = gem.grounding_metadata(["weather Paris"], [("https://example.org/paris", "example.org")])


@pytest.fixture
def env(
    anthropic_upstream: ant.FakeAnthropic, gemini_upstream: gem.FakeGemini, mistral_upstream: mis.FakeMistral
) -> dict[str, str]:
    return {
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
        "GEMINI_API_KEY": GEMINI_KEY,
        "GEMINI_BASE_URL": gemini_upstream.base_url,
        "MISTRAL_API_KEY": MISTRAL_KEY,
        "MISTRAL_BASE_URL": mistral_upstream.base_url,
    }


@pytest.fixture
def gateway(make_gateway: GatewayFactory, env: dict[str, str]) -> RunningApp:
    return make_gateway(env=env)


def chat_client(gateway: RunningApp) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        yield client


# --- the Responses API (what Codex CLI sends) -----------------------------------------------------


@pytest.mark.parametrize(
    ("model", "upstream_name", "expected_tools", "adjusted"),
    [
        ("gpt-4o-mini", "openai", ["get_weather"], "tools[0]=dropped"),
        (CLAUDE, "anthropic", ["web_search", "get_weather"], None),
        ("gemini-3-pro-preview", "gemini", ["get_weather", "googleSearch"], None),
        ("gemini-2.5-flash", "gemini", ["get_weather"], "tools[0]=dropped"),
        ("mistral-small-latest", "mistral", ["get_weather"], "tools[0]=dropped"),
    ],
)
def test_responses_web_search_on_every_provider(
    gateway: RunningApp,
    upstream: FakeOpenAI,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
    mistral_upstream: mis.FakeMistral,
    model: str,
    upstream_name: str,
    expected_tools: list[str],
    adjusted: str | None,
) -> None:
    fakes: dict[str, Any] = {
        "openai": upstream,
        "anthropic": anthropic_upstream,
        "gemini": gemini_upstream,
        "mistral": mistral_upstream,
    }
    for client in sdk_client(gateway.url):
        raw = client.responses.with_raw_response.create(
            model=model, input="Weather in Paris?", tools=[SEARCH, weather_tool()]
        )  # type: ignore[list-item]
        assert raw.parse().output_text
        assert raw.headers.get(ADJUSTED) == adjusted
    assert _tool_names(upstream_name, fakes[upstream_name].received[-1].json) == expected_tools


def _tool_names(provider: str, body: JSON) -> list[str]:
    """The tools an upstream received, by name (a Gemini built-in tool by its field)."""
    if provider == "gemini":
        return [
            name
            for tool in body["tools"]
            for name in (
                [item["name"] for item in tool["functionDeclarations"]]
                if "functionDeclarations" in tool
                else list(tool)
            )
        ]
    if provider == "anthropic":
        return [tool["name"] for tool in body["tools"]]
    return [tool["function"]["name"] for tool in body.get("tools", ())]


def test_a_responses_stream_in_which_claude_searched(
    gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic
) -> None:
    anthropic_upstream.script(
        ant.Reply(stream=ant.web_search_events("weather Paris", RESULTS, ["It rains ", "in Paris."], model=CLAUDE))
    )
    for client in sdk_client(gateway.url):
        with client.responses.stream(
            model=CLAUDE,
            input="Weather in Paris?",
            tools=[
                {**SEARCH, "user_location": {"country": "FR"}},  # type: ignore[list-item]
                weather_tool(),
            ],
        ) as stream:
            deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
            final = stream.get_final_response()
    assert deltas == ["It rains ", "in Paris."]
    assert [item.type for item in final.output] == ["message"] and final.output_text == "It rains in Paris."
    sent = anthropic_upstream.received[-1].json
    assert sent["tools"][0] == {
        "type": "web_search_20250305",
        "name": "web_search",
        "user_location": {"type": "approximate", "country": "FR"},
    }


def test_a_responses_stream_in_which_gemini_3_searched_before_calling_a_function(
    gateway: RunningApp, gemini_upstream: gem.FakeGemini
) -> None:
    model = "gemini-3-pro-preview"
    gemini_upstream.script(
        gem.Reply(
            stream=[
                gem.chunk(
                    gem.search_tool_parts("s1", ["weather Paris"], thought_signature="c2lnbmF0dXJl"),
                    model_version=model,
                ),
                gem.grounded(
                    gem.chunk(
                        [
                            gem.function_call_part(
                                "get_weather", {"city": "Paris"}, id="fc1", thought_signature="c2lnbmF0dXJl"
                            )
                        ],
                        finish_reason="STOP",
                        usage=gem.usage(9, 5),
                        model_version=model,
                    ),
                    METADATA,
                ),
            ]
        )
    )
    for client in sdk_client(gateway.url):
        with client.responses.stream(model=model, input="Weather in Paris?", tools=[SEARCH, weather_tool()]) as stream:  # type: ignore[list-item]
            final = stream.get_final_response()
    assert [(item.type, getattr(item, "name", None)) for item in final.output] == [("function_call", "get_weather")]
    assert gemini_upstream.received[-1].json["toolConfig"] == {"includeServerSideToolInvocations": True}


# --- Chat Completions (typed road) ---------------------------------------------------------------


class Typed(Hook):
    """Any typed hook moves chat off the fast path; this one changes nothing."""

    async def transform_request(self, context: RequestContext, request: ChatRequest) -> ChatRequest:
        return request


def test_chat_on_the_typed_road_drops_what_an_openai_compatible_upstream_lacks(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(json=completion("Sunny.")))
    for client in chat_client(make_gateway(hooks=(Typed(),))):
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Weather?"}],
            tools=[FUNCTION, {"type": "file_search"}, SEARCH],
            tool_choice="auto",
        )  # type: ignore[list-item]
        assert raw.parse().choices[0].message.content == "Sunny."
        assert raw.headers[ADJUSTED] == "tools[1]=dropped;tools[2]=dropped"
    sent = upstream.received[-1].json
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["get_weather"] and sent["tool_choice"] == "auto"


def test_chat_streams_claudes_searched_answer_as_text(
    gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic
) -> None:
    anthropic_upstream.script(ant.Reply(stream=ant.web_search_events("weather Paris", RESULTS, ["Rain."])))
    for client in chat_client(gateway):
        stream = client.chat.completions.create(
            model=CLAUDE, messages=[{"role": "user", "content": "Weather?"}], tools=[FUNCTION, SEARCH], stream=True
        )  # type: ignore[list-item]
        chunks = list(stream)
    deltas = [choice.delta for chunk in chunks for choice in chunk.choices]
    assert "".join(delta.content or "" for delta in deltas) == "Rain."
    assert not any(delta.tool_calls for delta in deltas)
    assert [tool["name"] for tool in anthropic_upstream.received[-1].json["tools"]] == ["get_weather", "web_search"]


def test_chat_with_a_grounded_gemini_answer(gateway: RunningApp, gemini_upstream: gem.FakeGemini) -> None:
    gemini_upstream.script(gem.Reply(json=gem.grounded(gem.response("Rain in Paris."), METADATA)))
    for client in chat_client(gateway):
        raw = client.chat.completions.with_raw_response.create(
            model="gemini-2.5-flash",
            messages=[{"role": "user", "content": "Weather?"}],
            tools=[{**SEARCH, "search_context_size": "low"}],
            tool_choice="required",
        )  # type: ignore[list-item]
        assert raw.parse().choices[0].message.content == "Rain in Paris."
        assert raw.headers[ADJUSTED] == "tools[0].search_context_size=dropped;tool_choice=dropped"
    sent = gemini_upstream.received[-1].json
    assert sent["tools"] == [{"googleSearch": {}}] and "toolConfig" not in sent


# --- unsupported_tools: refuse ------------------------------------------------------------------

REFUSING_MODEL = """
models:
  strict:
    provider: mistral
    model: mistral-small-latest
    unsupported_tools: refuse
"""
REFUSING_SERVER = """
server:
  unsupported_tools: refuse
models:
  lenient:
    provider: mistral
    model: mistral-small-latest
    unsupported_tools: drop
"""


def _refused(client: openai.OpenAI, model: str, tools: list[JSON]) -> openai.BadRequestError:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}], tools=tools)  # type: ignore[arg-type]
    return caught.value


def test_a_model_may_refuse_what_the_gateway_drops(
    make_gateway: GatewayFactory, env: dict[str, str], mistral_upstream: mis.FakeMistral
) -> None:
    for client in chat_client(make_gateway(REFUSING_MODEL, env=env)):
        error = _refused(client, "strict", [FUNCTION, {"type": "code_interpreter", "container": {"type": "auto"}}])
        assert error.status_code == 400
        body: JSON = error.body  # type: ignore[assignment]
        assert body["param"] == "tools[1]" and "code_interpreter" in body["message"]
        assert "Remove the tool" in body["message"]
        # The same upstream model by prefix takes the gateway's default: dropped.
        raw = client.chat.completions.with_raw_response.create(
            model="mistral/mistral-small-latest", messages=[{"role": "user", "content": "Hi"}], tools=[FUNCTION, SEARCH]
        )  # type: ignore[list-item]
        assert raw.headers[ADJUSTED] == "tools[1]=dropped"
    assert len([item for item in mistral_upstream.received if item.path.endswith("/chat/completions")]) == 1


def test_a_gateway_that_refuses_names_the_tool_on_every_frontend(
    make_gateway: GatewayFactory, env: dict[str, str], mistral_upstream: mis.FakeMistral
) -> None:
    gateway = make_gateway(REFUSING_SERVER, env=env)
    for client in chat_client(gateway):
        # A model reached by family takes the server's setting; a configured one may drop instead.
        assert _refused(client, "mistral-small-latest", [SEARCH]).body["param"] == "tools[0]"  # type: ignore[index]
        raw = client.chat.completions.with_raw_response.create(
            model="lenient", messages=[{"role": "user", "content": "Hi"}], tools=[SEARCH]
        )  # type: ignore[list-item]
        assert raw.headers[ADJUSTED] == "tools[0]=dropped"
    for responses in sdk_client(gateway.url):
        with pytest.raises(openai.BadRequestError) as caught:
            responses.responses.create(model="mistral-small-latest", input="Hi", tools=[weather_tool(), SEARCH])  # type: ignore[list-item]
        assert caught.value.body["param"] == "tools[1]"  # type: ignore[index]
    with anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0, timeout=10) as messages:
        with pytest.raises(anthropic.BadRequestError) as refused:
            messages.messages.create(
                model="mistral-small-latest",
                max_tokens=100,
                messages=[{"role": "user", "content": "Hi"}],
                tools=[{"type": "web_search_20250305", "name": "web_search"}],
            )
        assert refused.value.status_code == 400 and "web_search" in str(refused.value)
    # Only the lenient model's request reached the upstream.
    assert len([item for item in mistral_upstream.received if item.path.endswith("/chat/completions")]) == 1
