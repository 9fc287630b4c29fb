"""Mistral through the gateway, driven by the official `openai` SDK, against a fake Mistral upstream
that refuses whatever the real API would refuse (unknown fields, foreign tool ids, role order…)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pydantic
import pytest

from babelgate.providers.mistral.translate import mistral_tool_id
from tests.conftest import MISTRAL_KEY, GatewayFactory
from tests.fakes.mistral_upstream import (
    FakeMistral,
    Reply,
    chunk,
    completion,
    error_422,
    error_body,
    text_stream,
    thinking_content,
    tool_call,
    tool_call_stream,
)
from tests.fakes.servers import RunningApp

USER = [{"role": "user", "content": "Hi"}]
MODEL = "mistral-small-latest"


@pytest.fixture
def mistral_gateway(make_gateway: GatewayFactory, mistral_upstream: FakeMistral) -> RunningApp:
    return make_gateway(env={"MISTRAL_API_KEY": MISTRAL_KEY, "MISTRAL_BASE_URL": mistral_upstream.base_url})


@pytest.fixture
def mistral(mistral_gateway: RunningApp) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=mistral_gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        yield client


def _sent(fake: FakeMistral) -> dict[str, object]:
    return next(r for r in reversed(fake.received) if r.path == "/v1/chat/completions").json  # type: ignore[no-any-return]


def test_text_chat_with_renamed_and_dropped_fields(mistral_gateway: RunningApp, mistral_upstream: FakeMistral) -> None:
    body = {
        "model": MODEL,
        "messages": USER,
        "seed": 7,
        "max_completion_tokens": 50,
        "user": "u-1",
        "stream_options": {"include_usage": True},
        "temperature": 0.2,
    }
    response = httpx.post(mistral_gateway.url + "/v1/chat/completions", json=body, timeout=10)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Hello!"
    assert response.headers["x-babelgate-adjusted-params"] == "user=dropped"
    request = next(r for r in mistral_upstream.received if r.path == "/v1/chat/completions")
    assert request.headers["Authorization"] == f"Bearer {MISTRAL_KEY}"
    assert request.json == {"model": MODEL, "messages": USER, "temperature": 0.2, "random_seed": 7, "max_tokens": 50}


@pytest.mark.parametrize("include_usage", [True, False])
def test_stream_usage_only_when_asked(
    mistral: openai.OpenAI, mistral_upstream: FakeMistral, include_usage: bool
) -> None:
    mistral_upstream.script(Reply(stream=text_stream(["Hel", "lo", "!"])))  # type: ignore[arg-type]
    chunks = list(
        mistral.chat.completions.create(
            model="mistral/mistral-large-latest",
            messages=USER,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": include_usage},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello!"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == (1 if include_usage else 0)
    if include_usage:
        assert usage_chunks[0].choices == [] and chunks[-1] is usage_chunks[0]
    assert "stream_options" not in _sent(mistral_upstream)


def test_tool_calls_with_object_arguments(mistral: openai.OpenAI, mistral_upstream: FakeMistral) -> None:
    mistral_upstream.script(
        Reply(
            json=completion(
                None,
                tool_calls=[
                    tool_call("abcDEF123", "get_weather", {"city": "Paris"}),
                    tool_call("xyz987QWE", "get_time", "{}"),
                ],
            )
        )
    )
    answer = mistral.chat.completions.create(
        model=MODEL,
        messages=USER,
        tool_choice="required",  # type: ignore[arg-type]
        tools=[_tool("get_weather"), _tool("get_time")],
    )
    calls = answer.choices[0].message.tool_calls
    assert answer.choices[0].finish_reason == "tool_calls" and calls is not None
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [  # type: ignore[union-attr]
        ("abcDEF123", "get_weather", '{"city":"Paris"}'),
        ("xyz987QWE", "get_time", "{}"),
    ]
    assert _sent(mistral_upstream)["tool_choice"] == "any"


def test_parallel_tool_calls_streamed(mistral: openai.OpenAI, mistral_upstream: FakeMistral) -> None:
    mistral_upstream.script(
        Reply(
            stream=tool_call_stream(
                [  # type: ignore[arg-type]
                    ("abcDEF123", "get_weather", '{"city": "Paris"}'),
                    ("xyz987QWE", "get_time", "{}"),
                ]
            )
        )
    )
    calls: dict[int, list[str]] = {}
    for piece in mistral.chat.completions.create(
        model=MODEL,
        messages=USER,
        stream=True,  # type: ignore[arg-type]
        tools=[_tool("get_weather"), _tool("get_time")],
    ):
        for delta in piece.choices[0].delta.tool_calls if piece.choices and piece.choices[0].delta.tool_calls else ():
            entry = calls.setdefault(delta.index, ["", "", ""])
            if delta.id:
                assert not entry[0], "id sent twice"
                entry[0], entry[1] = delta.id, (delta.function.name or "") if delta.function else ""
            entry[2] += (delta.function.arguments or "") if delta.function else ""
    assert calls == {0: ["abcDEF123", "get_weather", '{"city": "Paris"}'], 1: ["xyz987QWE", "get_time", "{}"]}


def test_tool_round_trip_with_foreign_ids_and_a_user_after_the_tool(
    mistral_gateway: RunningApp, mistral_upstream: FakeMistral
) -> None:
    messages = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_Xy12-openai",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_Xy12-openai", "content": "21C"},
        {"role": "user", "content": "And tomorrow?"},
    ]
    response = httpx.post(
        mistral_gateway.url + "/v1/chat/completions",
        timeout=10,
        json={"model": MODEL, "messages": messages, "tools": [_tool("get_weather")]},
    )
    assert response.status_code == 200
    assert response.headers["x-babelgate-adjusted-params"] == "messages=bridged"
    mapped = mistral_tool_id("call_Xy12-openai")
    sent = _sent(mistral_upstream)["messages"]
    assert sent[1]["tool_calls"][0]["id"] == mapped == sent[2]["tool_call_id"]  # type: ignore[index]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "assistant", "user"]  # type: ignore[index]


class City(pydantic.BaseModel):
    name: str
    population: int


def test_structured_output_via_parse(mistral: openai.OpenAI, mistral_upstream: FakeMistral) -> None:
    mistral_upstream.script(Reply(json=completion('{"name": "Paris", "population": 2100000}')))
    parsed = mistral.chat.completions.parse(model=MODEL, messages=USER, response_format=City)  # type: ignore[arg-type]
    assert parsed.choices[0].message.parsed == City(name="Paris", population=2100000)
    rf = _sent(mistral_upstream)["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["name"] == "City"  # type: ignore[index]


def test_images_for_vision_models(mistral: openai.OpenAI, mistral_upstream: FakeMistral) -> None:
    content = [
        {"type": "text", "text": "What is it?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    mistral.chat.completions.create(model="pixtral-large-latest", messages=[{"role": "user", "content": content}])  # type: ignore[misc,list-item]
    assert _sent(mistral_upstream)["messages"] == [{"role": "user", "content": content}]


def test_magistral_reasoning_becomes_reasoning_content(mistral: openai.OpenAI, mistral_upstream: FakeMistral) -> None:
    mistral_upstream.script(Reply(json=completion(thinking_content("Let me think.", "42"))))
    answer = mistral.chat.completions.create(model="magistral-medium-latest", messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "42"
    assert (answer.choices[0].message.model_extra or {})["reasoning_content"] == "Let me think."


def test_model_length_is_length(mistral: openai.OpenAI, mistral_upstream: FakeMistral) -> None:
    mistral_upstream.script(Reply(json=completion("Hel", finish_reason="model_length")))
    assert mistral.chat.completions.create(model=MODEL, messages=USER).choices[0].finish_reason == "length"  # type: ignore[arg-type]


def test_error_finish_in_a_stream_ends_with_an_error(mistral: openai.OpenAI, mistral_upstream: FakeMistral) -> None:
    mistral_upstream.script(
        Reply(
            stream=[
                chunk({"role": "assistant", "content": "a"}),  # type: ignore[list-item]
                chunk({"content": ""}, finish_reason="error"),
            ]
        )
    )
    with pytest.raises(openai.APIError):
        for _ in mistral.chat.completions.create(model=MODEL, messages=USER, stream=True):  # type: ignore[arg-type]
            pass


def test_validation_error_names_the_param(mistral_gateway: RunningApp, mistral_upstream: FakeMistral) -> None:
    mistral_upstream.script(Reply(status=422, json=error_422(["messages", 0, "content"], "Input should be a string")))
    response = httpx.post(
        mistral_gateway.url + "/v1/chat/completions", json={"model": MODEL, "messages": USER}, timeout=10
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "messages[0].content"
    assert "Input should be a string" in error["message"]


@pytest.mark.parametrize(
    ("status", "expected", "code"),
    [
        (401, 401, "upstream_authentication_error"),
        (404, 404, None),
        (429, 429, "rate_limit_exceeded"),
        (500, 502, "upstream_error"),
        (503, 503, "upstream_unavailable"),
    ],
)
def test_error_mapping(
    mistral_gateway: RunningApp, mistral_upstream: FakeMistral, status: int, expected: int, code: str | None
) -> None:
    mistral_upstream.script(Reply(status=status, json=error_body(f"mistral says {status}")))
    response = httpx.post(
        mistral_gateway.url + "/v1/chat/completions", json={"model": MODEL, "messages": USER}, timeout=10
    )
    assert response.status_code == expected
    assert response.json()["error"]["code"] == code
    assert MISTRAL_KEY not in response.text


def test_temperature_above_mistrals_range_is_a_400(mistral_gateway: RunningApp, mistral_upstream: FakeMistral) -> None:
    response = httpx.post(
        mistral_gateway.url + "/v1/chat/completions",
        timeout=10,
        json={"model": MODEL, "messages": USER, "temperature": 1.8},
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "temperature"


def test_mid_stream_drop_raises_in_the_sdk(mistral: openai.OpenAI, mistral_upstream: FakeMistral) -> None:
    mistral_upstream.script(Reply(stream=text_stream(["a", "b", "c"]), drop_after=2))  # type: ignore[arg-type]
    with pytest.raises(openai.APIError):
        for _ in mistral.chat.completions.create(model=MODEL, messages=USER, stream=True):  # type: ignore[arg-type]
            pass


def _tool(name: str) -> dict[str, object]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} tool",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }


def test_models_are_listed_with_the_provider_prefix(mistral_gateway: RunningApp) -> None:
    ids = [m["id"] for m in httpx.get(mistral_gateway.url + "/v1/models", timeout=10).json()["data"]]
    assert any(i.startswith("mistral/") for i in ids)
