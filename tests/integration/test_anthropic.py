"""Claude through the gateway, driven by the official `openai` SDK, against a fake Anthropic upstream
that refuses whatever the real Messages API would refuse."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pydantic
import pytest

from tests.conftest import ANTHROPIC_KEY, GatewayFactory
from tests.fakes.anthropic_upstream import (
    FakeAnthropic,
    Reply,
    error_body,
    error_event,
    message,
    text_block,
    text_events,
    thinking_block,
    tool_events,
    tool_use_block,
    usage,
)
from tests.fakes.servers import RunningApp

USER = [{"role": "user", "content": "Hi"}]
MODEL = "claude-sonnet-4-6"


@pytest.fixture
def claude_gateway(make_gateway: GatewayFactory, anthropic_upstream: FakeAnthropic) -> RunningApp:
    return make_gateway(env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url})


@pytest.fixture
def claude(claude_gateway: RunningApp) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=claude_gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        yield client


def _sent(fake: FakeAnthropic) -> dict[str, object]:
    return next(r for r in reversed(fake.received) if r.path == "/v1/messages").json  # type: ignore[no-any-return]


def test_text_chat_with_system_prompt(claude: openai.OpenAI, anthropic_upstream: FakeAnthropic) -> None:
    anthropic_upstream.script(
        Reply(json=message("Bonjour!", usage=usage(10, 4, cache_read_input_tokens=5, cache_creation_input_tokens=2)))
    )
    answer = claude.chat.completions.create(
        model=MODEL,
        messages=[  # type: ignore[arg-type]
            {"role": "system", "content": "Answer in French."},
            {"role": "developer", "content": "Be brief."},
            *USER,
        ],
    )
    assert answer.choices[0].message.content == "Bonjour!"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.total_tokens) == (17, 4, 21)
    assert answer.usage.prompt_tokens_details is not None and answer.usage.prompt_tokens_details.cached_tokens == 5
    request = next(r for r in anthropic_upstream.received if r.path == "/v1/messages")
    assert request.headers["x-api-key"] == ANTHROPIC_KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.json == {
        "model": MODEL,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "max_tokens": 16384,
        "system": [{"type": "text", "text": "Answer in French."}, {"type": "text", "text": "Be brief."}],
    }


def test_prefixed_model_and_family_routing(claude: openai.OpenAI, anthropic_upstream: FakeAnthropic) -> None:
    claude.chat.completions.create(model="anthropic/claude-opus-4-6", messages=USER)  # type: ignore[arg-type]
    assert _sent(anthropic_upstream)["model"] == "claude-opus-4-6"


def test_streamed_text_with_usage(claude: openai.OpenAI, anthropic_upstream: FakeAnthropic) -> None:
    anthropic_upstream.script(Reply(stream=text_events(["Hel", "lo", "!"], model=MODEL)))  # type: ignore[arg-type]
    chunks = list(
        claude.chat.completions.create(
            model=MODEL,
            messages=USER,
            stream=True,  # type: ignore[arg-type]
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello!"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 9
    assert _sent(anthropic_upstream)["stream"] is True


def test_single_tool_call(claude: openai.OpenAI, anthropic_upstream: FakeAnthropic) -> None:
    anthropic_upstream.script(
        Reply(
            json=message([text_block("Let me check."), tool_use_block("toolu_01A", "get_weather", {"city": "Paris"})])
        )
    )
    answer = claude.chat.completions.create(
        model=MODEL,
        messages=USER,
        tools=[_tool("get_weather")],  # type: ignore[arg-type]
        tool_choice="required",
        parallel_tool_calls=False,
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == (  # type: ignore[union-attr]
        "toolu_01A",
        "get_weather",
        '{"city":"Paris"}',
    )
    sent = _sent(anthropic_upstream)
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "get_weather tool",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    assert sent["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


def test_parallel_tool_calls_streamed_and_reassembled(claude: openai.OpenAI, anthropic_upstream: FakeAnthropic) -> None:
    anthropic_upstream.script(
        Reply(
            stream=tool_events(
                [  # type: ignore[arg-type]
                    ("toolu_01A", "get_weather", ["", '{"city":', ' "Paris"}']),
                    ("toolu_01B", "get_time", ['{"tz": "CET"}']),
                ],
                leading_text="Checking both.",
            )
        )
    )
    calls: dict[int, list[str]] = {}
    text, finish = "", None
    for chunk in claude.chat.completions.create(
        model=MODEL,
        messages=USER,
        stream=True,  # type: ignore[arg-type]
        tools=[_tool("get_weather"), _tool("get_time")],
    ):
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for call in delta.tool_calls or ():
            entry = calls.setdefault(call.index, ["", "", ""])
            if call.id:
                assert entry[0] == "", "id sent twice"
                entry[0] = call.id
                entry[1] = call.function.name or "" if call.function else ""
            entry[2] += (call.function.arguments or "") if call.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert text == "Checking both."
    assert finish == "tool_calls"
    assert calls == {
        0: ["toolu_01A", "get_weather", '{"city": "Paris"}'],
        1: ["toolu_01B", "get_time", '{"tz": "CET"}'],
    }


def test_full_tool_round_trip(claude: openai.OpenAI, anthropic_upstream: FakeAnthropic) -> None:
    messages = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_01A",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {"id": "toolu_01B", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_01A", "content": "21C"},
        {"role": "tool", "tool_call_id": "toolu_01B", "content": "14:00"},
        {"role": "user", "content": "Summarise."},
    ]
    answer = claude.chat.completions.create(
        model=MODEL,
        messages=messages,  # type: ignore[arg-type]
        tools=[_tool("get_weather"), _tool("get_time")],
    )
    assert answer.choices[0].message.content == "Hello!"
    assert _sent(anthropic_upstream)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "21C"},
                {"type": "tool_result", "tool_use_id": "toolu_01B", "content": "14:00"},
                {"type": "text", "text": "Summarise."},
            ],
        },
    ]


class City(pydantic.BaseModel):
    name: str
    population: int


def test_structured_output_native(claude: openai.OpenAI, anthropic_upstream: FakeAnthropic) -> None:
    anthropic_upstream.script(Reply(json=message('{"name": "Paris", "population": 2100000}')))
    parsed = claude.chat.completions.parse(model=MODEL, messages=USER, response_format=City)  # type: ignore[arg-type]
    assert parsed.choices[0].message.parsed == City(name="Paris", population=2100000)
    output = _sent(anthropic_upstream)["output_config"]
    assert output["format"]["type"] == "json_schema"  # type: ignore[index]
    assert output["format"]["schema"]["additionalProperties"] is False  # type: ignore[index]


def test_structured_output_by_forced_tool_on_older_models(
    claude: openai.OpenAI, anthropic_upstream: FakeAnthropic
) -> None:
    anthropic_upstream.script(
        Reply(
            json=message(
                [tool_use_block("toolu_01J", "babelgate_json_output", {"name": "Paris", "population": 2100000})]
            )
        )
    )
    parsed = claude.chat.completions.parse(
        model="claude-3-5-haiku-latest",
        messages=USER,  # type: ignore[arg-type]
        response_format=City,
    )
    choice = parsed.choices[0]
    assert choice.message.parsed == City(name="Paris", population=2100000)
    assert not choice.message.tool_calls and choice.finish_reason == "stop"
    assert _sent(anthropic_upstream)["tool_choice"] == {"type": "tool", "name": "babelgate_json_output"}


def test_images_by_url_and_data_uri(claude: openai.OpenAI, anthropic_upstream: FakeAnthropic) -> None:
    content = [
        {"type": "text", "text": "Compare."},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    claude.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])  # type: ignore[misc,list-item]
    assert _sent(anthropic_upstream)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare."},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            ],
        }
    ]


def test_thinking_is_returned_and_replayed_in_the_tool_loop(
    claude: openai.OpenAI, anthropic_upstream: FakeAnthropic
) -> None:
    model = "claude-sonnet-4-5-20250929"
    anthropic_upstream.script(
        Reply(
            json=message(
                [
                    thinking_block("The user wants weather.", "EqSig=="),
                    tool_use_block("toolu_01T", "get_weather", {"city": "Paris"}),
                ],
                model=model,
            )
        )
    )
    first = claude.chat.completions.create(
        model=model,
        messages=USER,
        tools=[_tool("get_weather")],  # type: ignore[arg-type]
        reasoning_effort="medium",
        max_tokens=20000,
    )
    message_out = first.choices[0].message
    assert message_out.model_extra is not None
    assert message_out.model_extra["reasoning_content"] == "The user wants weather."
    assert message_out.model_extra["reasoning_details"] == [
        {
            "type": "reasoning.text",
            "text": "The user wants weather.",
            "signature": "EqSig==",
            "format": "anthropic-claude-v1",
        }
    ]
    assert _sent(anthropic_upstream)["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    # A client that keeps only the standard fields: the gateway re-attaches the signed thinking.
    assert message_out.tool_calls is not None
    continuation = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_01T",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_01T", "content": "21C"},
    ]
    claude.chat.completions.create(
        model=model,
        messages=continuation,
        tools=[_tool("get_weather")],  # type: ignore[arg-type]
        reasoning_effort="medium",
        max_tokens=20000,
    )
    assistant = _sent(anthropic_upstream)["messages"][1]  # type: ignore[index]
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": "The user wants weather.",
        "signature": "EqSig==",
    }


def test_thinking_off_for_a_continuation_whose_signature_is_lost(
    claude_gateway: RunningApp, anthropic_upstream: FakeAnthropic
) -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "reasoning_effort": "low",
        "max_tokens": 5000,
        "tools": [_tool("f")],
        "messages": [
            *USER,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "toolu_unknown", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_unknown", "content": "ok"},
        ],
    }
    response = httpx.post(claude_gateway.url + "/v1/chat/completions", json=body, timeout=10)
    assert response.status_code == 200
    assert response.headers["x-babelgate-adjusted-params"] == "reasoning_effort=dropped"
    assert "thinking" not in _sent(anthropic_upstream)


def test_streamed_thinking_comes_as_reasoning(claude_gateway: RunningApp, anthropic_upstream: FakeAnthropic) -> None:
    anthropic_upstream.script(
        Reply(
            stream=tool_events(
                [("toolu_01S", "f", ["{}"])],  # type: ignore[arg-type]
                thinking="Hmm.",
                signature="EqStream==",
            )
        )
    )
    body = {"model": MODEL, "messages": USER, "stream": True, "reasoning_effort": "high", "tools": [_tool("f")]}
    text = httpx.post(claude_gateway.url + "/v1/chat/completions", json=body, timeout=10).text
    assert '"reasoning_content":"Hmm."' in text
    assert '"reasoning_details":[{"type":"reasoning.text","text":"Hmm.","signature":"EqStream=="' in text
    assert _sent(anthropic_upstream)["thinking"] == {"type": "adaptive"}


def test_sampling_rules_are_reported(claude_gateway: RunningApp, anthropic_upstream: FakeAnthropic) -> None:
    body = {"model": MODEL, "messages": USER, "temperature": 0.5, "top_p": 0.9, "seed": 7}
    response = httpx.post(claude_gateway.url + "/v1/chat/completions", json=body, timeout=10)
    assert response.status_code == 200
    assert response.headers["x-babelgate-adjusted-params"] == "top_p=dropped;seed=dropped"
    sent = _sent(anthropic_upstream)
    assert sent["temperature"] == 0.5 and "top_p" not in sent


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"n": 2}, "n"),
        ({"temperature": 1.5}, "temperature"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}],
                    }
                ]
            },
            "messages[0].content[0]",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}}],
                    }
                ]
            },
            "messages[0].content[0].image_url",
        ),
    ],
)
def test_what_claude_cannot_do_is_a_400_before_any_call(
    claude_gateway: RunningApp, anthropic_upstream: FakeAnthropic, body: dict[str, object], param: str
) -> None:
    response = httpx.post(
        claude_gateway.url + "/v1/chat/completions", json={"model": MODEL, "messages": USER, **body}, timeout=10
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert not [r for r in anthropic_upstream.received if r.path == "/v1/messages"]


@pytest.mark.parametrize(
    ("status", "error_type", "expected_status", "code"),
    [
        (400, "invalid_request_error", 400, None),
        (401, "authentication_error", 401, "upstream_authentication_error"),
        (403, "permission_error", 403, "upstream_authentication_error"),
        (404, "not_found_error", 404, None),
        (413, "request_too_large", 413, None),
        (429, "rate_limit_error", 429, "rate_limit_exceeded"),
        (500, "api_error", 502, "upstream_error"),
        (529, "overloaded_error", 503, "upstream_unavailable"),
    ],
)
def test_error_mapping(
    claude_gateway: RunningApp,
    anthropic_upstream: FakeAnthropic,
    status: int,
    error_type: str,
    expected_status: int,
    code: str | None,
) -> None:
    anthropic_upstream.script(
        Reply(
            status=status,
            json=error_body(error_type, f"upstream says {error_type}"),
            headers={"retry-after": "3"} if status == 429 else {},
        )
    )
    response = httpx.post(
        claude_gateway.url + "/v1/chat/completions", json={"model": MODEL, "messages": USER}, timeout=10
    )
    assert response.status_code == expected_status
    error = response.json()["error"]
    assert error["code"] == code
    if status in (400, 404, 413):
        assert error["message"] == f"upstream says {error_type}"
    if status == 429:
        assert response.headers["retry-after"] == "3"
    assert ANTHROPIC_KEY not in response.text


def test_mid_stream_drop_raises_in_the_sdk(claude: openai.OpenAI, anthropic_upstream: FakeAnthropic) -> None:
    anthropic_upstream.script(Reply(stream=text_events(["a", "b", "c"]), drop_after=4))  # type: ignore[arg-type]
    with pytest.raises(openai.APIError):
        for _ in claude.chat.completions.create(model=MODEL, messages=USER, stream=True):  # type: ignore[arg-type]
            pass


def test_mid_stream_error_event_raises_in_the_sdk(claude: openai.OpenAI, anthropic_upstream: FakeAnthropic) -> None:
    events = [*text_events(["a"])[:3], error_event("overloaded_error", "Overloaded")]
    anthropic_upstream.script(Reply(stream=events))  # type: ignore[arg-type]
    with pytest.raises(openai.APIError) as caught:
        for _ in claude.chat.completions.create(model=MODEL, messages=USER, stream=True):  # type: ignore[arg-type]
            pass
    assert caught.value.code == "upstream_unavailable"  # type: ignore[attr-defined]


def test_models_are_listed_with_the_provider_prefix(claude_gateway: RunningApp) -> None:
    ids = [m["id"] for m in httpx.get(claude_gateway.url + "/v1/models", timeout=10).json()["data"]]
    assert any(i.startswith("anthropic/claude-") for i in ids)


def _tool(name: str) -> dict[str, object]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} tool",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }


def test_beta_headers_version_and_model_profiles_from_config(
    make_gateway: GatewayFactory, anthropic_upstream: FakeAnthropic
) -> None:
    gateway = make_gateway(
        f"""
providers:
  claude:
    type: anthropic
    base_url: {anthropic_upstream.base_url}
    api_key: env:ANTHROPIC_API_KEY
    options:
      beta: [prompt-caching-2024-07-31]
      models:
        "claude-sonnet-4-6*": {{max_tokens: 1234, beta: context-1m-2025-08-07}}
""",
        env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY},
    )
    response = httpx.post(
        gateway.url + "/v1/chat/completions", json={"model": "claude/claude-sonnet-4-6", "messages": USER}, timeout=10
    )
    assert response.status_code == 200
    request = next(r for r in anthropic_upstream.received if r.path == "/v1/messages")
    assert request.headers["anthropic-beta"] == "prompt-caching-2024-07-31,context-1m-2025-08-07"
    assert request.json["max_tokens"] == 1234
