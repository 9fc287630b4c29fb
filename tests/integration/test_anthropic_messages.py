"""The Anthropic Messages API (`/v1/messages`, `/v1/messages/count_tokens`) driven by the official
`anthropic` SDK: translated onto OpenAI and Gemini models (their fakes check what they receive against
their own specs), and relayed on the native road to a Claude fake that refuses what Anthropic refuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import orjson
import pytest
from anthropic.types import Message, MessageParam, ToolParam
from anthropic.types.shared import ErrorResponse
from pydantic import TypeAdapter

from babelgate import Hook, tool_ids
from babelgate.frontends.token_estimate import estimate_tokens
from babelgate.hooks import Completion, RequestContext
from babelgate.providers.openai.translate import request_from_wire
from babelgate.schema.chat import ChatRequest
from babelgate.schema.chat import Message as ChatMessage
from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes.openai_upstream import FakeOpenAI, completion, text_stream, tool_call, tool_call_stream
from tests.fakes.scripted import Reply
from tests.fakes.servers import RunningApp
from tests.waiting import eventually

GPT = "gpt-4o-mini"
GEMINI = "gemini-3-pro-preview"
CLAUDE = "claude-sonnet-4-6"
USER: list[MessageParam] = [{"role": "user", "content": "Hi"}]
WEATHER: ToolParam = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TIME: ToolParam = {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}
ERROR_RESPONSE: TypeAdapter[ErrorResponse] = TypeAdapter(ErrorResponse)


def _sdk(gateway: RunningApp, api_key: str = "x") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=api_key, max_retries=0, timeout=10)


@pytest.fixture
def sdk(gateway: RunningApp) -> Iterator[anthropic.Anthropic]:
    with _sdk(gateway) as client:
        yield client


@pytest.fixture
def gemini_sdk(make_gateway: GatewayFactory, gemini_upstream: gem.FakeGemini) -> Iterator[anthropic.Anthropic]:
    gateway = make_gateway(env={"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": gemini_upstream.base_url})
    with _sdk(gateway) as client:
        yield client


@pytest.fixture
def claude_gateway(make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic) -> RunningApp:
    return make_gateway(env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url})


@pytest.fixture
def claude_sdk(claude_gateway: RunningApp) -> Iterator[anthropic.Anthropic]:
    with _sdk(claude_gateway) as client:
        yield client


def _post(gateway: RunningApp, body: Any, path: str = "/v1/messages", **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(
        gateway.url + path,
        content=content,
        timeout=10,
        headers={"content-type": "application/json", "x-api-key": "x", **headers},
    )


def _events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """(SSE event name, payload) of a raw stream; the name must repeat the payload's type."""
    events = []
    for frame in response.text.split("\n\n"):
        if not frame.strip():
            continue
        name, data = frame.split("\n", 1)
        payload = orjson.loads(data.removeprefix("data: "))
        assert name == f"event: {payload['type']}"
        events.append((payload["type"], payload))
    return events


def _assert_error(response: httpx.Response, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    if error_type != "request_too_large":  # Anthropic's docs name it; the SDK's ErrorObject union lags
        ERROR_RESPONSE.validate_json(response.content)
    body: dict[str, Any] = response.json()
    assert body["type"] == "error" and body["error"]["type"] == error_type
    return body


# -- on an OpenAI model ------------------------------------------------------------------------


def test_create_on_openai(sdk: anthropic.Anthropic, upstream: FakeOpenAI) -> None:
    upstream.script(
        Reply(
            json=completion(
                "Bonjour!",
                usage={
                    "prompt_tokens": 20,
                    "completion_tokens": 4,
                    "total_tokens": 24,
                    "prompt_tokens_details": {"cached_tokens": 8},
                },
            )
        )
    )
    message = sdk.messages.create(
        model=GPT,
        max_tokens=100,
        system="Answer in French.",
        messages=USER,
        stop_sequences=["END"],
        metadata={"user_id": "u-1"},
        extra_body={"temperature": 0.5},
    )  # SDK >= 1.0 no longer types sampling
    assert isinstance(message, Message)
    assert message.id.startswith("msg_") and message.model == GPT and message.role == "assistant"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Bonjour!"  # type: ignore[union-attr]
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (12, 8, 4)
    assert upstream.received[-1].json == {
        "model": GPT,
        "messages": [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Hi"}],
        "temperature": 0.5,
        "user": "u-1",
        "stop": ["END"],
        "max_tokens": 100,
    }


def test_stream_on_openai(sdk: anthropic.Anthropic, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=text_stream(["Hel", "lo", "!"], include_usage=True)))  # type: ignore[arg-type]
    with sdk.messages.stream(model=GPT, max_tokens=50, messages=USER) as stream:
        assert "".join(stream.text_stream) == "Hello!"
        final = stream.get_final_message()
    assert final.content[0].text == "Hello!"  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (9, 3)
    sent = upstream.received[-1].json
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_raw_stream_event_sequence(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=text_stream(["Hi", "!"], include_usage=True)))  # type: ignore[arg-type]
    response = _post(gateway, {"model": GPT, "max_tokens": 20, "stream": True, "messages": USER})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert [name for name, _ in _events(response)] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_tool_use_round_trip_on_openai(sdk: anthropic.Anthropic, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(json=completion(None, tool_calls=[tool_call("call_1", "get_weather", '{"city":"Paris"}')])))
    first = sdk.messages.create(
        model=GPT,
        max_tokens=100,
        messages=USER,
        tools=[WEATHER],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
    )
    assert first.stop_reason == "tool_use"
    call = first.content[0]
    assert call.type == "tool_use" and (call.id, call.name, call.input) == ("call_1", "get_weather", {"city": "Paris"})
    sent = upstream.received[-1].json
    assert sent["tool_choice"] == "required" and sent["parallel_tool_calls"] is False
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": WEATHER["input_schema"],
            },
        }
    ]
    history: list[MessageParam] = [
        *USER,
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call.id, "content": "21C"},
                {"type": "text", "text": "And tomorrow?"},
            ],
        },
    ]
    answer = sdk.messages.create(model=GPT, max_tokens=100, messages=history, tools=[WEATHER])
    assert answer.content[0].text == "Hello!"  # type: ignore[union-attr]
    assert upstream.received[-1].json["messages"][1:] == [
        {"role": "assistant", "content": None, "tool_calls": [tool_call("call_1", "get_weather", '{"city":"Paris"}')]},
        {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
        {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]},
    ]


def test_parallel_tools_streamed_on_openai(sdk: anthropic.Anthropic, upstream: FakeOpenAI) -> None:
    upstream.script(
        Reply(
            stream=tool_call_stream(
                [
                    ("call_1", "get_weather", ['{"city":', '"Paris"}']),  # type: ignore[arg-type]
                    ("call_2", "get_time", ["{}"]),
                ]
            )
        )
    )
    with sdk.messages.stream(model=GPT, max_tokens=100, messages=USER, tools=[WEATHER, TIME]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert [(block.type, block.id, block.input) for block in final.content] == [  # type: ignore[union-attr]
        ("tool_use", "call_1", {"city": "Paris"}),
        ("tool_use", "call_2", {}),
    ]


def test_configured_model_applies_defaults_and_overrides(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    """A model's defaults and overrides (chat body fields) on a request the Messages frontend decoded
    straight into the canonical request: the client's value wins over a default, an override over both;
    a deployment's own settings are merged over its model's."""
    gateway = make_gateway(f"""
providers:
  main: {{type: openai, base_url: "{upstream.base_url}", api_key: "env:OPENAI_API_KEY"}}
models:
  fast:
    defaults: {{temperature: 0.9, top_p: 0.5, user: ops}}
    overrides: {{max_tokens: 64}}
    deployments:
      - {{provider: main, model: gpt-4o-mini, defaults: {{temperature: 0.2, seed: 7}}}}
""")
    upstream.script(Reply(json=completion("Hello!")))
    with _sdk(gateway) as client:
        answer = client.messages.create(
            model="fast", max_tokens=1000, messages=USER, metadata={"user_id": "u-1"}, extra_body={"top_p": 0.9}
        )
    assert answer.content[0].text == "Hello!"  # type: ignore[union-attr]
    sent = upstream.received[-1].json
    assert [sent[name] for name in ("model", "temperature", "top_p", "seed", "user", "max_tokens")] == [
        "gpt-4o-mini",
        0.2,
        0.9,
        7,
        "u-1",
        64,
    ]


def test_count_tokens_estimate_on_openai(sdk: anthropic.Anthropic, upstream: FakeOpenAI) -> None:
    counted = sdk.messages.count_tokens(model=GPT, messages=USER, system="Be brief.", tools=[WEATHER])
    chat = {
        "model": GPT,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parameters": WEATHER["input_schema"],
                },
            }
        ],
    }
    assert counted.input_tokens == estimate_tokens(request_from_wire(chat)) > 0
    assert [r for r in upstream.received if r.method == "POST"] == [], "an estimate needs no upstream"


def test_adjusted_parameters_are_reported(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    response = _post(
        gateway, {"model": GPT, "max_tokens": 20, "messages": USER, "system": system, "service_tier": "auto"}
    )
    assert response.status_code == 200
    assert response.headers["x-babelgate-adjusted-params"] == "cache_control=dropped;service_tier=dropped"
    assert upstream.received[-1].json["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": "Be brief."}],
    }


# -- errors ------------------------------------------------------------------------------------


def test_invalid_json_and_missing_max_tokens(gateway: RunningApp) -> None:
    _assert_error(_post(gateway, b"{nope"), 400, "invalid_request_error")
    body = _assert_error(_post(gateway, {"model": GPT, "messages": USER}), 400, "invalid_request_error")
    assert "max_tokens" in body["error"]["message"]


def test_bad_block_is_named(sdk: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk.messages.create(
            model=GPT,
            max_tokens=10,
            messages=[{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}],
        )
    assert "messages[0].content[0].type" in caught.value.message


def test_unknown_model(sdk: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        sdk.messages.create(model="no-such-model", max_tokens=10, messages=USER)
    assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]


def test_upstream_rate_limit_keeps_retry_after(sdk: anthropic.Anthropic, upstream: FakeOpenAI) -> None:
    upstream.script(
        Reply(
            status=429,
            headers={"retry-after": "7"},
            json={"error": {"message": "slow down", "type": "rate_limit_error", "code": None}},
        )
    )
    with pytest.raises(anthropic.RateLimitError) as caught:
        sdk.messages.create(model=GPT, max_tokens=10, messages=USER)
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]


def test_gateway_key_by_x_api_key(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(env={"BABELGATE_API_KEYS": "gw-secret"})
    with _sdk(gateway, "wrong") as client, pytest.raises(anthropic.AuthenticationError) as caught:
        client.messages.create(model=GPT, max_tokens=10, messages=USER)
    assert "x-api-key" in caught.value.message
    assert (
        _post(gateway, {"model": GPT, "max_tokens": 10, "messages": USER}, **{"x-api-key": "gw-secret"}).status_code
        == 200
    )
    with _sdk(gateway, "gw-secret") as client:  # the SDK sends `Authorization: Bearer`
        assert client.messages.create(model=GPT, max_tokens=10, messages=USER).content


def test_body_too_large(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway("server:\n  max_body_bytes: 1024\n")
    body = _assert_error(
        _post(gateway, {"model": GPT, "max_tokens": 10, "messages": [{"role": "user", "content": "x" * 2000}]}),
        413,
        "request_too_large",
    )
    assert "1024" in body["error"]["message"]


def test_mid_stream_failure_ends_with_an_error_event(
    sdk: anthropic.Anthropic, gateway: RunningApp, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(stream=text_stream(["Hel", "lo"]), drop_after=2))  # type: ignore[arg-type]
    response = _post(gateway, {"model": GPT, "max_tokens": 20, "stream": True, "messages": USER})
    events = _events(response)
    assert events[-1][0] == "error" and "message_stop" not in [name for name, _ in events]
    ERROR_RESPONSE.validate_python(events[-1][1])
    upstream.script(Reply(stream=text_stream(["Hel", "lo"]), drop_after=2))  # type: ignore[arg-type]
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        sdk.messages.stream(model=GPT, max_tokens=20, messages=USER) as stream,
    ):
        stream.get_final_message()
    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]


# -- on a Gemini model -------------------------------------------------------------------------


def _gemini_sent(fake: gem.FakeGemini) -> dict[str, Any]:
    return next(r.json for r in reversed(fake.received) if ":" in r.path)


def test_create_with_thinking_on_gemini(gemini_sdk: anthropic.Anthropic, gemini_upstream: gem.FakeGemini) -> None:
    gemini_upstream.script(
        gem.Reply(
            json=gem.response(
                [gem.text_part("Let me think.", True), gem.text_part("42")],
                usage=gem.usage(10, 2, thoughts=5),
                model_version=GEMINI,
            )
        )
    )
    message = gemini_sdk.messages.create(
        model=GEMINI, max_tokens=20000, messages=USER, thinking={"type": "enabled", "budget_tokens": 10000}
    )
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "Let me think." and message.content[0].signature == ""  # type: ignore[union-attr]
    assert message.content[1].text == "42"  # type: ignore[union-attr]
    assert (message.usage.input_tokens, message.usage.output_tokens) == (10, 7)
    config = _gemini_sent(gemini_upstream)["generationConfig"]
    assert config["maxOutputTokens"] == 20000
    assert config["thinkingConfig"] == {"thinkingLevel": "HIGH", "includeThoughts": True}  # 10000 tokens → high


def test_stream_thinking_then_text_on_gemini(gemini_sdk: anthropic.Anthropic, gemini_upstream: gem.FakeGemini) -> None:
    gemini_upstream.script(
        gem.Reply(
            stream=gem.text_chunks(
                ["Hel", "lo"],
                thought="Hmm.",  # type: ignore[arg-type]
                model_version=GEMINI,
            )
        )
    )
    with gemini_sdk.messages.stream(
        model=GEMINI, max_tokens=5000, messages=USER, thinking={"type": "adaptive"}, output_config={"effort": "low"}
    ) as stream:
        final = stream.get_final_message()
    assert [block.type for block in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "Hmm." and final.content[1].text == "Hello"  # type: ignore[union-attr]
    assert _gemini_sent(gemini_upstream)["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "LOW"


def test_tool_loop_carries_gemini_signatures(gemini_sdk: anthropic.Anthropic, gemini_upstream: gem.FakeGemini) -> None:
    gemini_upstream.script(
        gem.Reply(
            stream=gem.function_call_chunks(  # type: ignore[arg-type]
                [("get_weather", {"city": "Paris"}, "fc_1", "c2lnMQ=="), ("get_time", {}, "fc_2", None)],
                model_version=GEMINI,
            )
        )
    )
    with gemini_sdk.messages.stream(model=GEMINI, max_tokens=100, messages=USER, tools=[WEATHER, TIME]) as stream:
        first = stream.get_final_message()
    assert first.stop_reason == "tool_use"
    calls = [block for block in first.content if block.type == "tool_use"]
    assert [(call.id, call.name, call.input) for call in calls] == [
        (tool_ids.join("fc_1", "c2lnMQ=="), "get_weather", {"city": "Paris"}),
        ("fc_2", "get_time", {}),
    ]
    history: list[MessageParam] = [
        *USER,
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": calls[0].id, "content": "21C"},
                {"type": "tool_result", "tool_use_id": calls[1].id, "content": "boom", "is_error": True},
            ],
        },
    ]
    answer = gemini_sdk.messages.create(model=GEMINI, max_tokens=100, messages=history, tools=[WEATHER, TIME])
    assert answer.content[0].text == "Hello!"  # type: ignore[union-attr]
    contents = _gemini_sent(gemini_upstream)["contents"]
    assert contents[1]["parts"][0] == {
        "functionCall": {"id": "fc_1", "name": "get_weather", "args": {"city": "Paris"}},
        "thoughtSignature": "c2lnMQ==",
    }
    responses = [part["functionResponse"] for part in contents[2]["parts"]]
    assert [(item["id"], item["name"]) for item in responses] == [("fc_1", "get_weather"), ("fc_2", "get_time")]
    assert "Error: boom" in orjson.dumps(responses[1]["response"]).decode()


def test_gemini_overloaded_is_an_overloaded_error(
    gemini_sdk: anthropic.Anthropic, gemini_upstream: gem.FakeGemini
) -> None:
    gemini_upstream.script(gem.Reply(status=503, json=gem.error_body(503, "UNAVAILABLE", "The model is overloaded.")))
    with pytest.raises(anthropic.InternalServerError) as caught:
        gemini_sdk.messages.create(model=GEMINI, max_tokens=10, messages=USER)
    assert caught.value.status_code == 503
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


def test_count_tokens_on_gemini_asks_gemini(gemini_sdk: anthropic.Anthropic, gemini_upstream: gem.FakeGemini) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo" * 1000}}
    counted = gemini_sdk.messages.with_raw_response.count_tokens(
        model=GEMINI, messages=[{"role": "user", "content": [image, {"type": "text", "text": "What is it?"}]}]
    )  # type: ignore[list-item, misc]
    assert counted.parse().input_tokens == 3  # Gemini's countTokens (the fake counts the words of the texts)
    assert counted.headers["x-babelgate-token-count"] == "upstream"


# -- on Claude: the native road ----------------------------------------------------------------


def _claude_sent(fake: ant.FakeAnthropic, path: str = "/v1/messages") -> ant.Received:
    return next(r for r in reversed(fake.received) if r.path == path)


def test_native_create_is_relayed(
    claude_sdk: anthropic.Anthropic, claude_gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic
) -> None:
    reply = ant.message(
        [ant.thinking_block("Hmm.", "sig-1"), ant.text_block("Bonjour!")],
        model=CLAUDE,
        usage=ant.usage(10, 4, cache_read_input_tokens=6),
    )
    anthropic_upstream.script(ant.Reply(json=reply))
    body = {
        "model": CLAUDE,
        "max_tokens": 2048,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}]}
        ],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "system": "French.",
    }
    response = _post(claude_gateway, body)
    assert response.status_code == 200
    assert response.json() == reply, "the upstream's answer, as it came"
    sent = _claude_sent(anthropic_upstream)
    assert sent.json == body, "the client's body, unchanged"
    assert sent.headers["x-api-key"] == ANTHROPIC_KEY
    message = claude_sdk.messages.create(model=CLAUDE, max_tokens=100, messages=USER)
    assert message.content[0].text == "Hello!"  # type: ignore[union-attr]


def test_native_stream_is_relayed(
    claude_sdk: anthropic.Anthropic, claude_gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic
) -> None:
    events = ant.tool_events([("toolu_01", "get_weather", ['{"city":', '"Paris"}'])], thinking="Weather.", model=CLAUDE)
    anthropic_upstream.script(ant.Reply(stream=[*events[:1], ant.ping_event(), *events[1:]]))
    response = _post(
        claude_gateway, {"model": CLAUDE, "max_tokens": 2048, "stream": True, "messages": USER, "tools": [WEATHER]}
    )
    assert response.content == b"".join(ant.sse_frame(event) for event in [events[0], ant.ping_event(), *events[1:]])
    anthropic_upstream.script(ant.Reply(stream=events))  # type: ignore[arg-type]
    with claude_sdk.messages.stream(
        model=CLAUDE,
        max_tokens=2048,
        messages=USER,
        tools=[WEATHER],
        thinking={"type": "enabled", "budget_tokens": 1024},
    ) as stream:
        final = stream.get_final_message()
    assert [block.type for block in final.content] == ["thinking", "tool_use"]
    assert final.content[1].input == {"city": "Paris"}  # type: ignore[union-attr]


def test_native_betas_and_foreign_state(claude_gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic) -> None:
    signed = tool_ids.join("fc_1", "c2lnMQ==")
    body = {
        "model": CLAUDE,
        "max_tokens": 100,
        "tools": [WEATHER],
        "messages": [
            *USER,
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "from Gemini", "signature": ""},
                    {"type": "tool_use", "id": signed, "name": "get_weather", "input": {}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": signed, "content": "21C"}]},
        ],
    }
    response = _post(claude_gateway, body, **{"anthropic-beta": "context-1m-2025-08-07, interleaved-thinking"})
    assert response.status_code == 200, response.text
    sent = _claude_sent(anthropic_upstream)
    assert sent.headers["anthropic-beta"] == "context-1m-2025-08-07,interleaved-thinking"
    assert sent.json["messages"][1:] == [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "fc_1", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "fc_1", "content": "21C"}]},
    ]


def test_native_count_tokens(claude_sdk: anthropic.Anthropic, anthropic_upstream: ant.FakeAnthropic) -> None:
    counted = claude_sdk.messages.count_tokens(model=CLAUDE, messages=USER, system="Be brief.")
    sent = _claude_sent(anthropic_upstream, "/v1/messages/count_tokens")
    assert counted.input_tokens == ant.count_tokens_estimate(sent.json)
    assert sent.json == {"model": CLAUDE, "messages": USER, "system": "Be brief."}


def test_the_fakes_count_tokens_endpoint_checks_its_body() -> None:
    assert ant.count_tokens_violations({"model": CLAUDE, "messages": USER, "system": "Be brief."}) == []
    assert ant.count_tokens_violations({"model": CLAUDE, "messages": USER, "max_tokens": 5}) != []
    assert ant.count_tokens_violations({"model": CLAUDE, "messages": USER, "betas": ["b"]}) != []


def test_native_errors(
    claude_sdk: anthropic.Anthropic, claude_gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic
) -> None:
    anthropic_upstream.script(
        ant.Reply(
            status=429,
            headers={"retry-after": "12"},
            json=ant.error_body("rate_limit_error", "Number of requests exceeded"),
        )
    )
    with pytest.raises(anthropic.RateLimitError) as limited:
        claude_sdk.messages.create(model=CLAUDE, max_tokens=10, messages=USER)
    assert limited.value.response.headers["retry-after"] == "12"
    anthropic_upstream.script(ant.Reply(status=529, json=ant.error_body("overloaded_error", "Overloaded")))
    with pytest.raises(anthropic.InternalServerError) as overloaded:
        claude_sdk.messages.create(model=CLAUDE, max_tokens=10, messages=USER)
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    _assert_error(_post(claude_gateway, {"model": CLAUDE, "messages": USER}), 400, "invalid_request_error")
    bad = _assert_error(
        _post(claude_gateway, {"model": CLAUDE, "max_tokens": 10, "messages": [{"role": "user"}]}),
        400,
        "invalid_request_error",
    )
    assert "messages.0" in bad["error"]["message"], "Anthropic's own 400 is relayed"
    anthropic_upstream.violations.clear()  # that refusal was the point of the last request


def test_native_mid_stream_error_event(claude_gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic) -> None:
    events = ant.text_events(["Hel", "lo"], model=CLAUDE)
    anthropic_upstream.script(ant.Reply(stream=[*events[:3], ant.error_event("overloaded_error", "Overloaded")]))
    response = _post(claude_gateway, {"model": CLAUDE, "max_tokens": 10, "stream": True, "messages": USER})
    relayed = _events(response)
    assert [name for name, _ in relayed] == ["message_start", "content_block_start", "content_block_delta", "error"]
    ERROR_RESPONSE.validate_python(relayed[-1][1])
    assert relayed[-1][1]["error"]["type"] == "overloaded_error"
    assert "anthropic" in relayed[-1][1]["error"]["message"], "re-rendered by the gateway, in the client's language"


def test_native_stream_cut_off(claude_gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic) -> None:
    anthropic_upstream.script(ant.Reply(stream=ant.text_events(["Hel", "lo"], model=CLAUDE), drop_after=3))  # type: ignore[arg-type]
    relayed = _events(_post(claude_gateway, {"model": CLAUDE, "max_tokens": 10, "stream": True, "messages": USER}))
    assert [name for name, _ in relayed] == ["message_start", "content_block_start", "content_block_delta", "error"]
    assert relayed[-1][1]["error"]["type"] == "api_error"


# -- hooks -------------------------------------------------------------------------------------


class Recorder(Hook):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.completions: list[Completion] = []

    async def on_request(self, context: RequestContext) -> None:
        self.seen.append((context.route, context.provider))

    async def on_complete(self, context: RequestContext, completion: Completion) -> None:
        self.completions.append(completion)


class Rewriter(Recorder):
    async def transform_request(self, context: RequestContext, request: ChatRequest) -> ChatRequest:
        request.messages.insert(0, ChatMessage(role="system", content="Be kind."))
        return request


def test_hooks_see_both_roads(
    make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic, upstream: FakeOpenAI
) -> None:
    hook = Recorder()
    gateway = make_gateway(
        hooks=(hook,), env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url}
    )
    with _sdk(gateway) as client:
        client.messages.create(model=CLAUDE, max_tokens=10, messages=USER)
        client.messages.create(model=GPT, max_tokens=10, messages=USER)
        client.messages.count_tokens(model=CLAUDE, messages=USER)
    assert hook.seen == [
        ("messages.create", "anthropic"),
        ("messages.create", "openai"),
        ("messages.count_tokens", "anthropic"),
    ]
    assert eventually(lambda: len(hook.completions) == 3)  # on_complete runs after the answer went out
    assert [c.status for c in hook.completions] == [200, 200, 200]
    assert hook.completions[0].usage is not None and hook.completions[0].usage.prompt_tokens == 9


def test_a_rewriting_hook_rewrites_translated_requests_only(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, anthropic_upstream: ant.FakeAnthropic
) -> None:
    """The native road relays the client's request unchanged: no chat request to transform there."""
    hook = Rewriter()
    gateway = make_gateway(
        hooks=(hook,), env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url}
    )
    with _sdk(gateway) as client:
        client.messages.create(model=GPT, max_tokens=10, messages=USER)
        client.messages.create(model=CLAUDE, max_tokens=10, messages=USER)
    assert upstream.received[-1].json["messages"][0] == {"role": "system", "content": "Be kind."}
    assert "system" not in _claude_sent(anthropic_upstream).json
    assert hook.seen == [("messages.create", "openai"), ("messages.create", "anthropic")]


# -- what Claude Code sends (docs/agents.md) ----------------------------------------------------------------


def test_the_sdk_lists_and_retrieves_models_in_anthropic_format(sdk: anthropic.Anthropic) -> None:
    """Claude Code lists models through the SDK (`anthropic-version` on the request): Anthropic's shape."""
    page = sdk.models.list()
    ids = [model.id for model in page.data]
    assert ids and all(model.type == "model" for model in page.data)
    assert page.has_more is False
    model = sdk.models.retrieve(ids[0])
    assert model.id == ids[0] and model.created_at.year >= 2023


def test_a_claude_code_request_goes_through_a_translated_road(sdk: anthropic.Anthropic, upstream: FakeOpenAI) -> None:
    """The shape of Claude Code 2.1's first request: a system message inside `messages`, adaptive thinking,
    `context_management`, `output_config.effort`, a deferred tool, betas in the header and `?beta=true`."""
    upstream.script(Reply(stream=text_stream(["Done", "."], include_usage=True)))
    raw = sdk.messages.with_raw_response.create(
        model=GPT,
        max_tokens=32000,
        stream=True,
        system=[{"type": "text", "text": "You are an agent."}],
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "Make hello.txt"}]},
            {
                "role": "system",  # type: ignore[misc,list-item]
                "content": [{"type": "text", "text": "# Environment", "cache_control": {"type": "ephemeral"}}],
            },
        ],
        tools=[WEATHER, {**TIME, "defer_loading": True}],  # type: ignore[list-item]
        metadata={"user_id": '{"session_id":"s-1"}'},
        extra_body={
            "thinking": {"type": "adaptive", "display": "omitted"},
            "output_config": {"effort": "high"},
            "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        },
        extra_headers={"anthropic-beta": "claude-code-20250219,mid-conversation-system-2026-04-07"},
        extra_query={"beta": "true"},
    )
    events = list(raw.parse())
    adjusted = raw.headers.get("x-babelgate-adjusted-params", "")
    assert (
        "".join(e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta")
        == "Done."
    )
    sent = upstream.received[-1].json
    assert sent["messages"] == [
        {"role": "system", "content": [{"type": "text", "text": "You are an agent."}]},
        {"role": "user", "content": [{"type": "text", "text": "Make hello.txt"}]},
        {"role": "system", "content": [{"type": "text", "text": "# Environment"}]},
    ]
    # output_config.effort is read (gpt-4o-mini's profile then drops it: it does not reason), the rest is reported.
    for dropped in (
        "context_management=dropped",
        "cache_control=dropped",
        "defer_loading=dropped",
        "reasoning_effort=dropped",
    ):
        assert dropped in adjusted


def test_claude_code_counts_tokens_with_its_own_request_shape(sdk: anthropic.Anthropic) -> None:
    """Claude Code calls count_tokens (`?beta=true`, betas in the header) with the same messages it sends."""
    counted = sdk.messages.count_tokens(
        model=GPT,
        system="You are an agent.",
        messages=[{"role": "user", "content": "Make hello.txt"}, {"role": "system", "content": "# Environment"}],  # type: ignore[misc,list-item]
        tools=[{**TIME, "defer_loading": True}],  # type: ignore[list-item]
        extra_body={"thinking": {"type": "adaptive"}},
        extra_headers={"anthropic-beta": "claude-code-20250219,token-counting-2024-11-01"},
        extra_query={"beta": "true"},
    )
    assert counted.input_tokens > 0
