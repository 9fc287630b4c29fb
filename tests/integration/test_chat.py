"""Chat completions through the running gateway, driven by the official `openai` SDK."""

from __future__ import annotations

import json

import openai
import pydantic
import pytest

from tests.conftest import UPSTREAM_KEY, GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, Reply, completion, tool_call, tool_call_stream
from tests.fakes.servers import RunningApp

USER = [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize("suffix", ["/v1", ""])
def test_plain_chat_works_with_both_base_url_styles(gateway: RunningApp, upstream: FakeOpenAI, suffix: str) -> None:
    with openai.OpenAI(base_url=gateway.url + suffix, api_key="x", max_retries=0, timeout=60) as client:
        answer = client.chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Hello!"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.total_tokens == 12
    sent = upstream.received[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert sent.json == {"model": "gpt-4o-mini", "messages": USER}


def test_provider_prefix_is_stripped_and_unknown_fields_reach_upstream_intact(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    extra = {"custom_flag": {"nested": [1, 2, {"deep": None}]}, "logit_bias": {"50256": -100}, "service_tier": "flex"}
    client.chat.completions.create(
        model="openai/gpt-4o",
        messages=USER,
        temperature=0.3,
        extra_body=extra,  # type: ignore[arg-type]
    )
    sent = upstream.received[-1].json
    assert sent["model"] == "gpt-4o"
    assert sent["temperature"] == 0.3
    for key, value in extra.items():
        assert sent[key] == value


def test_streamed_text_arrives_in_order_with_usage_chunk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},  # type: ignore[arg-type]
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello!"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 12


def test_tool_calls_come_back_whole(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(
        Reply(
            json=completion(
                None,
                tool_calls=[
                    tool_call("call_1", "get_weather", '{"city": "Paris"}'),
                    tool_call("call_2", "get_time", '{"tz": "CET"}'),
                ],
            )
        )
    )
    tools = [_tool("get_weather"), _tool("get_time")]
    answer = client.chat.completions.create(model="gpt-4o", messages=USER, tools=tools)  # type: ignore[arg-type]
    calls = answer.choices[0].message.tool_calls
    assert answer.choices[0].finish_reason == "tool_calls"
    assert calls is not None and [(c.id, c.function.name) for c in calls] == [  # type: ignore[union-attr]
        ("call_1", "get_weather"),
        ("call_2", "get_time"),
    ]
    assert upstream.received[-1].json["tools"] == tools


def test_parallel_tool_calls_streamed_and_reassembled(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(
        Reply(
            stream=tool_call_stream(
                [  # type: ignore[arg-type]
                    ("call_a", "get_weather", ['{"ci', 'ty": ', '"Paris"}']),
                    ("call_b", "get_time", ['{"tz"', ': "CET"}']),
                ]
            )
        )
    )
    tools = [_tool("get_weather"), _tool("get_time")]
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in client.chat.completions.create(
        model="gpt-4o",
        messages=USER,
        tools=tools,  # type: ignore[arg-type]
        stream=True,
    ):
        for delta in chunk.choices[0].delta.tool_calls or ():
            entry = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += delta.id or ""
            entry["name"] += (delta.function.name or "") if delta.function else ""
            entry["arguments"] += (delta.function.arguments or "") if delta.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert calls == {
        0: {"id": "call_a", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        1: {"id": "call_b", "name": "get_time", "arguments": '{"tz": "CET"}'},
    }


class Weather(pydantic.BaseModel):
    city: str
    celsius: float


def test_structured_output_parse_with_pydantic(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(json=completion('{"city": "Paris", "celsius": 21.5}')))
    parsed = client.chat.completions.parse(model="gpt-4o", messages=USER, response_format=Weather)  # type: ignore[arg-type]
    assert parsed.choices[0].message.parsed == Weather(city="Paris", celsius=21.5)
    sent = upstream.received[-1].json["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["name"] == "Weather"
    assert sent["json_schema"]["schema"]["properties"]["celsius"]["type"] == "number"


def test_image_parts_are_forwarded_intact(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    content = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": content}])  # type: ignore[misc,list-item]
    assert upstream.received[-1].json["messages"][0]["content"] == content


def test_multi_turn_tool_round_trip_is_forwarded(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [tool_call("call_1", "get_weather", '{"city": "Paris"}')]},
        {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
    ]
    answer = client.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Hello!"
    assert upstream.received[-1].json["messages"] == messages


def test_configured_model_applies_defaults_and_overrides(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(f"""
providers:
  main:
    type: openai
    base_url: {upstream.base_url}
    api_key: env:OPENAI_API_KEY
models:
  fast:
    provider: main
    model: gpt-4o-mini
    defaults: {{temperature: 0.2, top_p: 0.5}}
    overrides: {{max_tokens: 64}}
aliases:
  gpt-4: fast
""")
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        client.chat.completions.create(model="gpt-4", messages=USER, top_p=0.9, max_tokens=1000)  # type: ignore[arg-type]
    sent = upstream.received[-1].json
    assert sent["model"] == "gpt-4o-mini"
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"]) == (0.2, 0.9, 64)


def test_reasoning_model_max_tokens_is_renamed_and_reported(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="o3-mini", messages=USER, max_tokens=100)  # type: ignore[arg-type]
    assert raw.headers["x-babelgate-adjusted-params"] == "max_tokens=renamed:max_completion_tokens"
    sent = upstream.received[-1].json
    assert "max_tokens" not in sent and sent["max_completion_tokens"] == 100


def test_response_carries_a_request_id(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=USER, extra_headers={"x-request-id": "req-abc.123"}
    )  # type: ignore[arg-type]
    assert raw.headers["x-request-id"] == "req-abc.123"
    assert json.loads(raw.text)["object"] == "chat.completion"


def _tool(name: str) -> dict[str, object]:
    return {
        "type": "function",
        "function": {"name": name, "description": f"{name} tool", "parameters": {"type": "object", "properties": {}}},
    }
