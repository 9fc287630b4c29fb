"""Golden tests of the OpenAI translator (providers/openai/translate.py): canonical ↔ wire JSON."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from babelgate.providers.openai.translate import (
    finish_reason_from_wire,
    from_wire,
    to_wire,
    tool_call_from_wire,
    usage_from_wire,
)
from babelgate.schema.chat import (
    AssistantMessage,
    AudioPart,
    ChatRequest,
    ChatResponse,
    Choice,
    FilePart,
    ImagePart,
    Message,
    NamedToolChoice,
    RefusalPart,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    Usage,
)

WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def same_json(actual: Any, expected: Any) -> None:
    """Equal values and the same key order throughout (wire shapes follow the spec's order)."""
    assert actual == expected
    assert orjson.dumps(actual) == orjson.dumps(expected)


def full_request() -> ChatRequest:
    return ChatRequest(
        model="public-name",
        messages=[
            Message("system", "Be brief."),
            Message(
                "user",
                [
                    TextPart("What is in this image?", extra={"cache_control": {"type": "ephemeral"}}),
                    ImagePart("https://example.com/cat.png", detail="low"),
                    ImagePart("data:image/png;base64,iVBORw0KGgo="),
                    AudioPart("UklGRg==", "wav"),
                    FilePart(file_data="data:application/pdf;base64,JVBERi0=", filename="a.pdf"),
                    FilePart(file_id="file-123"),
                ],
                name="alice",
            ),
            Message(
                "assistant",
                None,
                tool_calls=[
                    ToolCall("call_1", "get_weather", '{"city":"Paris"}'),
                    ToolCall("call_2", "grammar", "SELECT 1", type="custom"),
                ],
                reasoning_content="thinking…",
            ),
            Message("tool", "18°C", tool_call_id="call_1"),
            Message("assistant", [TextPart("It is "), RefusalPart("no")], extra={"annotations": []}),
        ],
        tools=[
            Tool("get_weather", description="Weather by city", parameters=WEATHER_SCHEMA, strict=True),
            Tool("grammar", type="custom", description="SQL", extra={"format": {"type": "text"}}),
        ],
        tool_choice=NamedToolChoice("get_weather"),
        parallel_tool_calls=False,
        response_format=ResponseFormat(
            "json_schema", name="answer", schema=WEATHER_SCHEMA, strict=True, description="the answer"
        ),
        temperature=0.2,
        top_p=0.9,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        stop=["END"],
        n=2,
        seed=7,
        max_tokens=100,
        max_tokens_field="max_completion_tokens",
        stream=True,
        include_usage=True,
        reasoning_effort="low",
        user="u-1",
        metadata={"team": "a"},
        extra={"logprobs": True, "top_logprobs": 3, "service_tier": "flex"},
    )


FULL_WIRE: dict[str, Any] = {
    "model": "gpt-4o-2024-08-06",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image?", "cache_control": {"type": "ephemeral"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}},
                {"type": "file", "file": {"file_id": "file-123"}},
            ],
            "name": "alice",
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {"id": "call_2", "type": "custom", "custom": {"name": "grammar", "input": "SELECT 1"}},
            ],
            "reasoning_content": "thinking…",
        },
        {"role": "tool", "content": "18°C", "tool_call_id": "call_1"},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "It is "}, {"type": "refusal", "refusal": "no"}],
            "annotations": [],
        },
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather by city",
                "parameters": WEATHER_SCHEMA,
                "strict": True,
            },
        },
        {"type": "custom", "custom": {"name": "grammar", "description": "SQL", "format": {"type": "text"}}},
    ],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "parallel_tool_calls": False,
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "answer", "description": "the answer", "schema": WEATHER_SCHEMA, "strict": True},
    },
    "temperature": 0.2,
    "top_p": 0.9,
    "presence_penalty": 0.5,
    "frequency_penalty": -0.5,
    "n": 2,
    "seed": 7,
    "reasoning_effort": "low",
    "user": "u-1",
    "metadata": {"team": "a"},
    "stop": ["END"],
    "max_completion_tokens": 100,
    "stream": True,
    "stream_options": {"include_usage": True},
    "logprobs": True,
    "top_logprobs": 3,
    "service_tier": "flex",
}


def test_to_wire_golden_full_request() -> None:
    same_json(to_wire(full_request(), "gpt-4o-2024-08-06"), FULL_WIRE)


def test_to_wire_minimal_request_sends_only_what_was_set() -> None:
    request = ChatRequest(model="m", messages=[Message("user", "hi")])
    same_json(to_wire(request, "upstream-m"), {"model": "upstream-m", "messages": [{"role": "user", "content": "hi"}]})


def test_to_wire_uses_the_max_tokens_name_the_client_chose() -> None:
    request = ChatRequest(model="m", messages=[Message("user", "hi")], max_tokens=5)
    assert to_wire(request, "m")["max_tokens"] == 5
    assert "max_completion_tokens" not in to_wire(request, "m")


def test_to_wire_include_usage_without_stream_sends_no_stream_options() -> None:
    request = ChatRequest(model="m", messages=[Message("user", "hi")], include_usage=True)
    body = to_wire(request, "m")
    assert "stream" not in body
    assert "stream_options" not in body


def test_to_wire_stream_without_usage_has_no_stream_options() -> None:
    body = to_wire(ChatRequest(model="m", messages=[Message("user", "hi")], stream=True), "m")
    assert body["stream"] is True
    assert "stream_options" not in body


def test_to_wire_extra_never_overrides_a_modelled_field() -> None:
    request = ChatRequest(
        model="m",
        messages=[Message("user", "hi")],
        temperature=0.5,
        extra={"temperature": 1.9, "model": "other", "store": False},
    )
    body = to_wire(request, "upstream")
    assert body["temperature"] == 0.5
    assert body["model"] == "upstream"
    assert body["store"] is False


def test_to_wire_zero_and_false_values_are_sent() -> None:
    request = ChatRequest(
        model="m", messages=[Message("user", "")], temperature=0.0, seed=0, parallel_tool_calls=False, stop=[]
    )
    body = to_wire(request, "m")
    assert body["messages"] == [{"role": "user", "content": ""}]
    assert body["temperature"] == 0.0
    assert body["seed"] == 0
    assert body["parallel_tool_calls"] is False
    assert body["stop"] == []


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        (NamedToolChoice("f"), {"type": "function", "function": {"name": "f"}}),
        (NamedToolChoice("g", type="custom"), {"type": "custom", "custom": {"name": "g"}}),
        (
            {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}},
            {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}},
        ),
    ],
)
def test_to_wire_tool_choice(choice: Any, wire: Any) -> None:
    request = ChatRequest(model="m", messages=[Message("user", "hi")], tool_choice=choice)
    assert to_wire(request, "m")["tool_choice"] == wire


@pytest.mark.parametrize(
    ("fmt", "wire"),
    [
        (ResponseFormat("text"), {"type": "text"}),
        (ResponseFormat("json_object"), {"type": "json_object"}),
        (
            ResponseFormat("json_schema", name="n", schema={"type": "object"}),
            {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}}},
        ),
        (
            ResponseFormat("json_schema", name="n", schema={"type": "object"}, strict=False),
            {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}, "strict": False}},
        ),
    ],
)
def test_to_wire_response_format(fmt: ResponseFormat, wire: Any) -> None:
    same_json(
        to_wire(ChatRequest(model="m", messages=[Message("user", "hi")], response_format=fmt), "m")["response_format"],
        wire,
    )


def test_to_wire_assistant_without_content_sends_null_but_other_roles_omit_it() -> None:
    request = ChatRequest(model="m", messages=[Message("assistant"), Message("user", None)])
    assert to_wire(request, "m")["messages"] == [{"role": "assistant", "content": None}, {"role": "user"}]


def test_to_wire_tool_call_extra_is_kept() -> None:
    call = ToolCall("c", "f", "{}", extra={"x_cache": 1})
    request = ChatRequest(model="m", messages=[Message("assistant", None, tool_calls=[call])])
    assert to_wire(request, "m")["messages"][0]["tool_calls"] == [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}, "x_cache": 1}
    ]


WIRE_RESPONSE: dict[str, Any] = {
    "id": "chatcmpl-abc",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "annotations": [],
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {"id": "call_2", "type": "custom", "custom": {"name": "sql", "input": "SELECT 1"}},
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        },
        {
            "index": 1,
            "message": {
                "role": "assistant",
                "content": "Hi",
                "reasoning_content": "hmm",
                "refusal": "nope",
                "audio": {"id": "a1", "data": "AAA=", "transcript": "Hi", "expires_at": 1},
            },
            "logprobs": {"content": []},
            "finish_reason": "abort",
        },
    ],
    "usage": {
        "prompt_tokens": 20,
        "completion_tokens": 10,
        "total_tokens": 30,
        "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 6, "audio_tokens": 0},
    },
    "system_fingerprint": "fp_44709d6fcb",
    "service_tier": "default",
}


def test_from_wire_golden_response() -> None:
    assert from_wire(WIRE_RESPONSE) == ChatResponse(
        id="chatcmpl-abc",
        created=1_700_000_000,
        model="gpt-4o-2024-08-06",
        choices=[
            Choice(
                index=0,
                message=AssistantMessage(
                    content=None,
                    tool_calls=[
                        ToolCall("call_1", "get_weather", '{"city":"Paris"}'),
                        ToolCall("call_2", "sql", "SELECT 1", type="custom"),
                    ],
                    extra={"annotations": []},
                ),
                finish_reason="tool_calls",
            ),
            Choice(
                index=1,
                message=AssistantMessage(
                    content="Hi",
                    reasoning_content="hmm",
                    refusal="nope",
                    audio={"id": "a1", "data": "AAA=", "transcript": "Hi", "expires_at": 1},
                ),
                finish_reason="stop",  # vLLM's "abort" is not an OpenAI finish reason
                logprobs={"content": []},
            ),
        ],
        usage=Usage(
            prompt_tokens=20,
            completion_tokens=10,
            total_tokens=30,
            cached_tokens=4,
            reasoning_tokens=6,
            extra={
                "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 6, "audio_tokens": 0},
            },
        ),
        system_fingerprint="fp_44709d6fcb",
        extra={"service_tier": "default"},
    )


def test_from_wire_reads_reasoning_as_reasoning_content() -> None:
    response = from_wire({"choices": [{"message": {"content": "4", "reasoning": "2+2"}, "finish_reason": "stop"}]})
    assert response.choices[0].message.reasoning_content == "2+2"
    assert response.choices[0].message.extra == {}
    assert response.choices[0].index == 0


def test_from_wire_of_a_sparse_body() -> None:
    assert from_wire({}) == ChatResponse(id="", created=0, model="", choices=[])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("content_filter", "content_filter"),
        ("function_call", "function_call"),
        (None, None),
        ("abort", "stop"),
        ("eos", "stop"),
    ],
)
def test_finish_reason_from_wire(value: str | None, expected: str | None) -> None:
    assert finish_reason_from_wire(value) == expected


def test_tool_call_from_wire_defaults_to_function() -> None:
    assert tool_call_from_wire({"id": "c", "function": {"name": "f", "arguments": "{}"}}) == ToolCall("c", "f", "{}")


@pytest.mark.parametrize("usage", [None, "x", 3, []])
def test_usage_from_wire_of_no_usage_is_none(usage: Any) -> None:
    assert usage_from_wire(usage) is None


def test_usage_from_wire_computes_a_missing_total() -> None:
    assert usage_from_wire({"prompt_tokens": 3, "completion_tokens": 4}) == Usage(3, 4, 7)


def test_usage_from_wire_with_null_details() -> None:
    usage = {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }
    assert usage_from_wire(usage) == Usage(3, 4, 7)


def test_usage_from_wire_cache_write_tokens() -> None:
    usage = usage_from_wire(
        {
            "prompt_tokens": 10,
            "completion_tokens": 1,
            "total_tokens": 11,
            "prompt_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 8},
        }
    )
    assert usage is not None
    assert (usage.cached_tokens, usage.cache_write_tokens, usage.reasoning_tokens) == (2, 8, None)


def test_tool_call_arguments_sent_as_an_object_become_json_text() -> None:
    from babelgate.providers.openai.translate import tool_call_from_wire

    call = tool_call_from_wire({"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}})
    assert call.arguments == '{"a":1}'
