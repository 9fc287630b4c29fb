"""Golden tests of canonical chat → Mistral chat completions (providers/mistral/translate.py).

Requests are built the way the gateway builds them (OpenAI JSON → `validate_chat_body` →
`request_from_wire`); the expected bodies are exact (docs/decisions.md, "Nothing changed
silently" and "Mistral's tool-call ids"). Several bodies are also checked against the official `mistralai` SDK's request
model and against `wire.REQUEST_FIELDS`, since Mistral answers unknown top-level keys with 422 `extra_forbidden`.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from mistralai.client.models import ChatCompletionRequest

from babelgate.errors import GatewayError, InvalidRequest
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.providers.mistral.translate import mistral_tool_id, to_wire
from babelgate.providers.mistral.wire import BRIDGE_TEXT, REQUEST_FIELDS
from babelgate.providers.openai.translate import request_from_wire

JSON = dict[str, Any]
MODEL = "mistral-large-latest"
NINE = re.compile(r"^[a-zA-Z0-9]{9}$")

EMPTY_SCHEMA = {"type": "object", "properties": {}}
WEATHER_PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city", "parameters": WEATHER_PARAMS},
}

# Pinned values (sha256 of the UTF-8 id, first 8 bytes big-endian, 9 base62 digits least
# significant first): a change would give a stored conversation different ids mid-way.
KNOWN_IDS = {
    "call_abc": "zcLyzgNRz",
    "": "KLzhoi1sZ",
    "héllo": "DNkA9WVJS",
    "🙂🙂🙂🙂🙂": "ezVXyhNOZ",
    "abc": "Ap81kJunz",
}


# --- helpers -------------------------------------------------------------------------------------


def chat(messages: list[JSON] | None = None, **fields: Any) -> JSON:
    return {"model": "public-name", "messages": messages or [{"role": "user", "content": "Hi"}], **fields}


def translate(body: JSON) -> tuple[JSON, list[str]]:
    validate_chat_body(body)
    adjusted: list[str] = []
    wire = to_wire(request_from_wire(body), MODEL, adjusted)
    return wire, adjusted


def assert_sdk_accepts(wire: JSON) -> None:
    assert set(wire) <= REQUEST_FIELDS, set(wire) - REQUEST_FIELDS
    parsed = ChatCompletionRequest.model_validate(wire)
    assert parsed.model == MODEL
    assert len(parsed.messages) == len(wire["messages"])


# --- tool-call ids (docs/decisions.md, "Mistral's tool-call ids") ---


@pytest.mark.parametrize("native", ["abcDEF123", "000000000", "ZZZZZZZZZ", "a1B2c3D4e"])
def test_mistral_ids_pass_unchanged(native: str) -> None:
    assert mistral_tool_id(native) == native


@pytest.mark.parametrize(("foreign", "expected"), sorted(KNOWN_IDS.items()))
def test_foreign_ids_map_to_known_nine_character_ids(foreign: str, expected: str) -> None:
    assert mistral_tool_id(foreign) == expected


def test_foreign_ids_are_deterministic_distinct_and_valid() -> None:
    inputs = [
        "",
        "a",
        "abc",
        "abcDEF12",
        "abcDEF1234",
        "abc_EF123",
        "call_" + "x" * 24,
        "toolu_01A09q90qw90lq917835",
        "call_abc",
        "call_abd",
        "é" * 9,
        "工具调用",
        "🙂",
        "\x00",
        " " * 9,
        "abcdefgh-",
        *[f"call_{i}" for i in range(500)],
    ]
    mapped = [mistral_tool_id(value) for value in inputs]
    for value, result in zip(inputs, mapped, strict=True):
        assert NINE.fullmatch(result), (value, result)
        assert result != value
        assert mistral_tool_id(value) == result
        assert mistral_tool_id(result) == result  # an id already mapped is a Mistral id
    assert len(set(mapped)) == len(inputs)


def test_nine_characters_but_not_alphanumeric_is_foreign() -> None:
    assert mistral_tool_id("call_1234") != "call_1234"
    assert NINE.fullmatch(mistral_tool_id("call_1234"))


# --- fields --------------------------------------------------------------------------------------


def test_renames_and_kept_fields() -> None:
    wire, adjusted = translate(
        chat(
            seed=7,
            max_completion_tokens=100,
            tool_choice="required",
            tools=[WEATHER_TOOL],
            parallel_tool_calls=False,
            n=2,
            stop=["END"],
            presence_penalty=0.5,
            frequency_penalty=0.25,
            temperature=0.7,
            top_p=0.9,
            response_format={"type": "json_object"},
        )
    )
    assert wire == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [WEATHER_TOOL],
        "tool_choice": "any",
        "parallel_tool_calls": False,
        "response_format": {"type": "json_object"},
        "temperature": 0.7,
        "top_p": 0.9,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.25,
        "n": 2,
        "random_seed": 7,
        "stop": ["END"],
        "max_tokens": 100,
    }
    assert adjusted == []
    assert_sdk_accepts(wire)


def test_max_tokens_is_kept_as_is() -> None:
    wire, adjusted = translate(chat(max_tokens=64))
    assert wire == {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 64}
    assert adjusted == []


def test_named_tool_choice_and_json_schema_keep_their_form() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    wire, adjusted = translate(
        chat(
            tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
            parallel_tool_calls=True,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "answer", "description": "An answer", "schema": schema, "strict": True},
            },
        )
    )
    assert wire == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": True,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "description": "An answer", "schema": schema, "strict": True},
        },
    }
    assert adjusted == []
    assert_sdk_accepts(wire)


@pytest.mark.parametrize("choice", ["auto", "none"])
def test_auto_and_none_tool_choice_pass(choice: str) -> None:
    wire, _ = translate(chat(tools=[WEATHER_TOOL], tool_choice=choice))
    assert wire["tool_choice"] == choice
    assert_sdk_accepts(wire)


@pytest.mark.parametrize("temperature", [0, 1.0, 1.5])
def test_temperature_up_to_one_and_a_half_is_kept(temperature: float) -> None:
    wire, adjusted = translate(chat(temperature=temperature))
    assert wire["temperature"] == temperature
    assert adjusted == []


@pytest.mark.parametrize("temperature", [1.51, 2])
def test_temperature_above_one_and_a_half_is_refused(temperature: float) -> None:
    with pytest.raises(GatewayError) as caught:
        translate(chat(temperature=temperature))
    error = caught.value
    assert type(error) is InvalidRequest
    assert error.status == 400
    assert error.param == "temperature"
    assert error.type == "invalid_request_error"


def test_fields_mistral_refuses_are_dropped_with_notes() -> None:
    wire, adjusted = translate(
        chat(
            user="user-42",
            logit_bias={"50256": -100},
            store=True,
            modalities=["text"],
            safety_identifier="sid",
            verbosity="low",
            web_search_options={},
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert wire == {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    assert sorted(adjusted) == sorted(
        [
            "user=dropped",
            "logit_bias=dropped",
            "store=dropped",
            "modalities=dropped",
            "safety_identifier=dropped",
            "verbosity=dropped",
            "web_search_options=dropped",
        ]
    )
    assert "stream_options=dropped" not in adjusted
    assert_sdk_accepts(wire)


def test_stream_options_alone_is_removed_silently() -> None:
    wire, adjusted = translate(chat(stream=True, stream_options={"include_usage": False}))
    assert wire == {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    assert adjusted == []


def test_fields_mistral_accepts_pass_through_extra() -> None:
    wire, adjusted = translate(
        chat(metadata={"k": "v"}, reasoning_effort="high", safe_prompt=True, prompt_mode="reasoning")
    )
    assert wire == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hi"}],
        "reasoning_effort": "high",
        "metadata": {"k": "v"},
        "safe_prompt": True,
        "prompt_mode": "reasoning",
    }
    assert adjusted == []
    assert_sdk_accepts(wire)


# --- messages ------------------------------------------------------------------------------------

TOOL_TURN = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {
        "role": "assistant",
        "content": None,
        "reasoning_content": "two cities, two calls",
        "tool_calls": [
            {
                "id": "call_Paris01",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            },
            {
                "id": "abcDEF123",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_Paris01", "content": "18C"},
    {"role": "tool", "tool_call_id": "abcDEF123", "content": "24C"},
]


def test_tool_ids_are_mapped_consistently_and_reasoning_is_stripped() -> None:
    paris = mistral_tool_id("call_Paris01")
    wire, adjusted = translate(chat(TOOL_TURN, tools=[WEATHER_TOOL]))
    assert wire == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": paris,
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {
                        "id": "abcDEF123",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                    },
                ],
            },
            {"role": "tool", "content": "18C", "tool_call_id": paris},
            {"role": "tool", "content": "24C", "tool_call_id": "abcDEF123"},
        ],
        "tools": [WEATHER_TOOL],
    }
    assert NINE.fullmatch(paris)
    assert adjusted == []
    assert_sdk_accepts(wire)


def test_tool_then_user_is_bridged_and_a_trailing_assistant_is_a_prefix() -> None:
    messages = [
        *TOOL_TURN,
        {"role": "user", "content": "Thanks. And Oslo?"},
        {"role": "assistant", "content": "Oslo is"},
    ]
    wire, adjusted = translate(chat(messages, tools=[WEATHER_TOOL]))
    paris = mistral_tool_id("call_Paris01")
    assert wire["messages"][3:] == [
        {"role": "tool", "content": "18C", "tool_call_id": paris},
        {"role": "tool", "content": "24C", "tool_call_id": "abcDEF123"},
        {"role": "assistant", "content": BRIDGE_TEXT},
        {"role": "user", "content": "Thanks. And Oslo?"},
        {"role": "assistant", "content": "Oslo is", "prefix": True},
    ]
    assert BRIDGE_TEXT == "Tool results received."
    assert adjusted == ["messages=bridged"]
    assert_sdk_accepts(wire)


def test_two_bridges_give_one_note() -> None:
    call = {"id": "call_x", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_x", "content": "r"},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_x", "content": "r"},
        {"role": "user", "content": "c"},
    ]
    wire, adjusted = translate(chat(messages, tools=[WEATHER_TOOL]))
    assert [m["role"] for m in wire["messages"]] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert adjusted == ["messages=bridged"]
    assert "prefix" not in wire["messages"][-1]


def test_tool_last_is_not_bridged_nor_prefixed() -> None:
    wire, adjusted = translate(chat(TOOL_TURN, tools=[WEATHER_TOOL]))
    assert wire["messages"][-1] == {"role": "tool", "content": "24C", "tool_call_id": "abcDEF123"}
    assert all("prefix" not in message for message in wire["messages"])
    assert adjusted == []


def test_an_earlier_assistant_is_not_a_prefix() -> None:
    wire, _ = translate(
        chat(
            [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]
        )
    )
    assert wire["messages"] == [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]


def test_content_parts() -> None:
    wire, adjusted = translate(
        chat(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Look"},
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                        {"type": "file", "file": {"file_data": "JVBERi0xLjQ=", "filename": "a.pdf"}},
                        {
                            "type": "file",
                            "file": {"file_data": "data:application/pdf;base64,JVBERi0xLjQ=", "filename": "b.pdf"},
                        },
                        {"type": "file", "file": {"file_id": "file-abc123"}},
                    ],
                }
            ]
        )
    )
    assert wire["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "input_audio", "input_audio": "UklGRg=="},
                {"type": "document_url", "document_url": "data:application/pdf;base64,JVBERi0xLjQ="},
                {"type": "document_url", "document_url": "data:application/pdf;base64,JVBERi0xLjQ="},
                {"type": "file", "file_id": "file-abc123"},
            ],
        }
    ]
    assert adjusted == []
    assert_sdk_accepts(wire)
    parsed = ChatCompletionRequest.model_validate(wire)
    kinds = [type(chunk).__name__ for chunk in parsed.messages[0].content]
    assert kinds == [
        "TextChunk",
        "ImageURLChunk",
        "ImageURLChunk",
        "AudioChunk",
        "DocumentURLChunk",
        "DocumentURLChunk",
        "FileChunk",
    ]


def test_the_request_is_not_mutated() -> None:
    body = chat(TOOL_TURN, tools=[WEATHER_TOOL])
    validate_chat_body(body)
    request = request_from_wire(body)
    first = to_wire(request, MODEL, [])
    second = to_wire(request, MODEL, [])
    assert first == second
    assert request.messages[2].tool_calls is not None
    assert request.messages[2].tool_calls[0].id == "call_Paris01"
    assert request.messages[2].reasoning_content == "two cities, two calls"
