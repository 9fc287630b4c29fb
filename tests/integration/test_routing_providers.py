"""A conversation that began on one provider continues on another when the router falls back:
nothing provider-specific (Gemini's thought signatures inside tool-call ids) reaches a provider
that did not issue it, and each fake upstream checks what it receives against its own API."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.scripted import Reply

GEMINI_3 = "gemini-3-pro-preview"
CONFIG = f"""\
models:
  thinker: {{provider: gemini, model: {GEMINI_3}, fallbacks: [claude]}}
  claude: {{provider: anthropic, model: claude-sonnet-4-5, fallbacks: [gpt]}}
  gpt: {{provider: openai, model: gpt-4o-mini}}
"""
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def test_a_gemini_tool_conversation_falls_back_to_anthropic_then_openai(
    make_gateway: GatewayFactory,
    upstream: FakeOpenAI,
    gemini_upstream: gem.FakeGemini,
    anthropic_upstream: ant.FakeAnthropic,
) -> None:
    gateway = make_gateway(
        CONFIG,
        env={
            "GEMINI_API_KEY": GEMINI_KEY,
            "GEMINI_BASE_URL": gemini_upstream.base_url,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
        },
    )
    gemini_upstream.script(
        Reply(
            json=gem.response(
                [gem.function_call_part("get_weather", {"city": "Paris"}, id="fc_9", thought_signature="U0lH")],
                model_version=GEMINI_3,
            )
        )
    )
    user = [{"role": "user", "content": "Weather in Paris?"}]
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        first = client.chat.completions.create(model="thinker", messages=user, tools=[WEATHER])  # type: ignore[arg-type]
        call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
        assert call.id != "fc_9"  # signed: the signature travels inside the id
        history = [
            *user,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.function.name, "arguments": call.function.arguments},
                    }
                ],
            },  # type: ignore[union-attr]
            {"role": "tool", "tool_call_id": call.id, "content": "21C and sunny"},
        ]
        # Gemini is down, then Claude is overloaded: the OpenAI model finishes the conversation.
        gemini_upstream.script(Reply(status=503, json=gem.error_body(503, "UNAVAILABLE", "overloaded")))
        anthropic_upstream.script(Reply(status=529, json=ant.error_body("overloaded_error", "Overloaded")))
        raw = client.chat.completions.with_raw_response.create(
            model="thinker",
            messages=history,  # type: ignore[arg-type]
            tools=[WEATHER],
        )
    assert raw.parse().choices[0].message.content == "Hello!"
    assert (
        raw.headers["x-babelgate-route"]
        == f"gemini/{GEMINI_3}=503, anthropic/claude-sonnet-4-5=529, openai/gpt-4o-mini=ok"
    )
    claude = anthropic_upstream.received[-1].json["messages"]
    assert claude[1]["content"][0] == {
        "type": "tool_use",
        "id": "fc_9",
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    assert claude[2]["content"][0]["tool_use_id"] == "fc_9"
    sent = upstream.received[-1].json["messages"]
    assert sent[1]["tool_calls"][0]["id"] == "fc_9" and sent[2]["tool_call_id"] == "fc_9"


def test_claude_s_prompt_too_long_goes_to_the_context_window_fallback(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, anthropic_upstream: ant.FakeAnthropic
) -> None:
    """Anthropic has no code for it, only words: the gateway gives the refusal OpenAI's code, and the
    router its context-window fallback."""
    gateway = make_gateway(
        "models:\n  claude: {provider: anthropic, model: claude-sonnet-4-5,"
        " context_window_fallbacks: [long]}\n  long: {provider: openai, model: gpt-4.1}\n",
        env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url},
    )
    anthropic_upstream.script(
        Reply(
            status=400,
            json=ant.error_body("invalid_request_error", "prompt is too long: 208974 tokens > 200000 maximum"),
        )
    )
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="claude", messages=[{"role": "user", "content": "…"}]
        )
    assert raw.parse().choices[0].message.content == "Hello!"
    assert raw.headers["x-babelgate-route"] == "anthropic/claude-sonnet-4-5=400, openai/gpt-4.1=ok"
    assert upstream.received[-1].json["model"] == "gpt-4.1"


def test_without_a_fallback_the_overflow_reaches_the_client_with_openai_s_code(
    make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic
) -> None:
    gateway = make_gateway(env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url})
    anthropic_upstream.script(
        Reply(
            status=400,
            json=ant.error_body("invalid_request_error", "prompt is too long: 208974 tokens > 200000 maximum"),
        )
    )
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client,
        pytest.raises(openai.BadRequestError) as caught,
    ):
        client.chat.completions.create(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "…"}])
    assert caught.value.code == "context_length_exceeded"
