"""Golden tests of canonical chat → Anthropic Messages (providers/anthropic/translate.py `to_wire`).

Requests are built the way the gateway builds them (OpenAI JSON → `validate_chat_body` →
`request_from_wire`); the expected bodies are exact. Several bodies are also checked against the
official SDK's own request type, so a shape the SDK does not know (a stray key, a wrong literal)
fails here rather than as a 400 upstream.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming, MessageCreateParamsStreaming

from babelgate.errors import GatewayError, InvalidRequest, UnsupportedCapability
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.i18n import render_message
from babelgate.providers.anthropic.profiles import ModelProfile
from babelgate.providers.anthropic.translate import WireRequest, to_wire
from babelgate.providers.anthropic.translate_tools import JSON_OBJECT_INSTRUCTION
from babelgate.providers.openai.translate import request_from_wire
from babelgate.schema.chat import ChatRequest

JSON = dict[str, Any]
MODEL = "claude-upstream-name"

# Profiles spelled out here, so these tests do not depend on the built-in model table.
BOTH = ModelProfile(max_tokens=4096, sampling="both", structured_output="native", thinking="budget")
ONE = ModelProfile(max_tokens=4096, sampling="one", structured_output="native", thinking="budget")
NONE = ModelProfile(max_tokens=4096, sampling="none", structured_output="native", thinking="budget")
ADAPTIVE = ModelProfile(max_tokens=16384, sampling="none", structured_output="native", thinking="adaptive")
TOOL_JSON = ModelProfile(max_tokens=4096, sampling="both", structured_output="tool", thinking="none")
BUDGET_16K = ModelProfile(max_tokens=16384, sampling="both", structured_output="native", thinking="budget")

EMPTY_SCHEMA = {"type": "object", "properties": {}}
WEATHER_PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city", "parameters": WEATHER_PARAMS},
}
WEATHER_WIRE = {"name": "get_weather", "description": "Weather for a city", "input_schema": WEATHER_PARAMS}


# --- helpers -------------------------------------------------------------------------------------


def decoded(body: JSON) -> ChatRequest:
    validate_chat_body(body)
    return request_from_wire(body)


def chat(messages: list[JSON] | None = None, **fields: Any) -> JSON:
    return {"model": "public-name", "messages": messages or [{"role": "user", "content": "Hi"}], **fields}


def translate(body: JSON, profile: ModelProfile = BOTH) -> tuple[WireRequest, list[str]]:
    adjusted: list[str] = []
    wire = to_wire(decoded(body), MODEL, profile, adjusted)
    return wire, adjusted


def wire_body(body: JSON, profile: ModelProfile = BOTH) -> tuple[JSON, list[str]]:
    wire, adjusted = translate(body, profile)
    assert wire.json_tool is None
    return wire.body, adjusted


def refused(body: JSON, profile: ModelProfile = BOTH) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        translate(body, profile)
    return caught.value


_NON_STREAMING: pydantic.TypeAdapter[MessageCreateParamsNonStreaming] = pydantic.TypeAdapter(
    MessageCreateParamsNonStreaming
)
_STREAMING: pydantic.TypeAdapter[MessageCreateParamsStreaming] = pydantic.TypeAdapter(MessageCreateParamsStreaming)
# SDK ≥ 1.0 no longer types the sampling parameters (they are still accepted by older models).
_UNTYPED = ("temperature", "top_p", "top_k")


def _materialized(value: Any) -> Any:
    """The SDK types message lists as Iterable: pydantic validates those lazily, so walk them."""
    if isinstance(value, dict):
        return {key: _materialized(item) for key, item in value.items()}
    if isinstance(value, list | tuple) or (isinstance(value, Iterator) and not isinstance(value, str | bytes)):
        return [_materialized(item) for item in value]
    return value


def assert_sdk_accepts(body: JSON) -> None:
    """The body validates against the SDK's request type, and nothing in it is unknown to the SDK
    (pydantic drops keys a TypedDict does not declare, so the round trip must come back equal)."""
    typed = {key: value for key, value in body.items() if key not in _UNTYPED}
    adapter: pydantic.TypeAdapter[Any] = _STREAMING if body.get("stream") else _NON_STREAMING
    assert _materialized(adapter.validate_python(typed)) == typed


def test_the_sdk_check_catches_unknown_keys_and_bad_literals() -> None:
    ok: JSON = {
        "model": MODEL,
        "max_tokens": 5,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}],
    }
    assert_sdk_accepts(ok)
    stray = copy.deepcopy(ok)
    stray["messages"][0]["content"][0]["stray"] = 1
    with pytest.raises(AssertionError):
        assert_sdk_accepts(stray)
    bmp = copy.deepcopy(ok)
    bmp["messages"][0]["content"] = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "Qk0="}}
    ]
    with pytest.raises(pydantic.ValidationError):
        assert_sdk_accepts(bmp)


# --- message shaping -----------------------------------------------------------------------------


def test_leading_system_is_hoisted_later_ones_stay_in_place_and_turns_merge() -> None:
    body, adjusted = wire_body(
        chat(
            [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {
                    "role": "developer",
                    "content": [{"type": "text", "text": "Use metric units."}, {"type": "text", "text": "  "}],
                },
                {
                    "role": "user",
                    "content": [{"type": "text", "text": ""}, {"type": "text", "text": "Weather in Paris?"}],
                },
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {
                            "id": "toolu_01",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris", "units": ["C"]}'},
                        },
                        {"id": "toolu_02", "type": "function", "function": {"name": "get_time", "arguments": ""}},
                    ],
                },
                {"role": "tool", "tool_call_id": "toolu_01", "content": "18°C"},
                {"role": "tool", "tool_call_id": "toolu_02", "content": [{"type": "text", "text": "12:00"}]},
                {"role": "user", "content": "Thanks! And tomorrow?"},
                {"role": "system", "content": "   "},
            ]
        )
    )
    assert body == {
        "model": MODEL,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Hi"},
                    {"type": "text", "text": "<system-reminder>\nUse metric units.\n</system-reminder>"},
                    {"type": "text", "text": "Weather in Paris?"},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "get_weather",
                        "input": {"city": "Paris", "units": ["C"]},
                    },
                    {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18°C"},
                    {"type": "tool_result", "tool_use_id": "toolu_02", "content": [{"type": "text", "text": "12:00"}]},
                    {"type": "text", "text": "Thanks! And tomorrow?"},
                ],
            },
        ],
        "max_tokens": 4096,
        "system": [{"type": "text", "text": "Be brief."}],
    }
    assert adjusted == ["messages[2]=system-as-user", "messages[8]=system-as-user"]
    assert_sdk_accepts(body)


def test_tool_results_open_the_user_turn_even_when_user_text_comes_between_them() -> None:
    body, _ = wire_body(
        chat(
            [
                {"role": "user", "content": "Two lookups please"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "toolu_a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                        {"id": "toolu_b", "type": "function", "function": {"name": "g", "arguments": "{}"}},
                    ],
                },
                {"role": "tool", "tool_call_id": "toolu_a", "content": "A"},
                {"role": "user", "content": "hurry"},
                {"role": "tool", "tool_call_id": "toolu_b", "content": "B"},
            ]
        )
    )
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Two lookups please"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_a", "name": "f", "input": {}},
                {"type": "tool_use", "id": "toolu_b", "name": "g", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "A"},
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": "B"},
                {"type": "text", "text": "hurry"},
            ],
        },
    ]
    assert_sdk_accepts(body)


def test_a_tool_message_with_empty_content_sends_a_result_without_content() -> None:
    body, _ = wire_body(
        chat(
            [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "toolu_a", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                },
                {"role": "tool", "tool_call_id": "toolu_a", "content": ""},
            ]
        )
    )
    assert body["messages"][2] == {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_a"}]}


def test_consecutive_assistant_messages_merge_into_one_turn() -> None:
    body, _ = wire_body(
        chat(
            [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello."},
                {"role": "assistant", "content": [{"type": "text", "text": "How can I help?"}]},
                {"role": "user", "content": "Bye"},
            ]
        )
    )
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Hello."}, {"type": "text", "text": "How can I help?"}],
        },
        {"role": "user", "content": [{"type": "text", "text": "Bye"}]},
    ]


def test_a_refusal_part_of_an_assistant_turn_becomes_text() -> None:
    body, _ = wire_body(
        chat(
            [
                {"role": "user", "content": "Do the bad thing"},
                {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't help with that."}]},
                {"role": "user", "content": "OK"},
            ]
        )
    )
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "I can't help with that."}],
    }


def test_an_empty_refusal_part_is_dropped_like_empty_text() -> None:
    body, _ = wire_body(
        chat(
            [
                {"role": "user", "content": "Hi"},
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "Hello"}, {"type": "refusal", "refusal": ""}],
                },
                {"role": "user", "content": "OK"},
            ]
        )
    )
    assert body["messages"][1] == {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]}


# --- media ---------------------------------------------------------------------------------------


def test_images_by_url_and_data_uri_and_a_pdf_document_with_cache_control() -> None:
    body, adjusted = wire_body(
        chat(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Compare these", "cache_control": {"type": "ephemeral"}},
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "high"}},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRg=="},
                            "cache_control": {"type": "ephemeral", "ttl": "1h"},
                        },
                        {"type": "image_url", "image_url": {"url": "data:IMAGE/WEBP;base64,UklGRg=="}},
                        {
                            "type": "file",
                            "file": {"file_data": "data:application/pdf;base64,JVBERi0xLjQK", "filename": "report.pdf"},
                        },
                        {"type": "file", "file": {"file_data": "JVBERi0xLjcK"}},
                    ],
                }
            ]
        )
    )
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare these", "cache_control": {"type": "ephemeral"}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQSkZJRg=="},
                    "cache_control": {"type": "ephemeral", "ttl": "1h"},
                },
                {"type": "image", "source": {"type": "base64", "media_type": "image/webp", "data": "UklGRg=="}},
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"},
                    "title": "report.pdf",
                },
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjcK"},
                },
            ],
        }
    ]
    assert adjusted == []
    assert_sdk_accepts(body)


def test_an_image_media_type_anthropic_refuses_is_a_400_naming_the_part() -> None:
    error = refused(
        chat(
            [
                {"role": "system", "content": "s"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "see"},
                        {"type": "text", "text": "this"},
                        {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}},
                    ],
                },
            ]
        )
    )
    assert type(error) is InvalidRequest
    assert (error.status, error.param, error.message_key) == (400, "messages[1].content[2].image_url", "invalid_value")
    assert render_message(error) == (
        "Invalid value for 'messages[1].content[2].image_url': Anthropic accepts "
        "image/gif, image/jpeg, image/png, image/webp, not image/bmp"
    )


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("data:image/png,rawbytes", "expected an https URL or a base64 data: URI"),
        ("data:image/png;base64,@@@@", "the data URI is not valid base64"),
    ],
)
def test_a_data_uri_that_is_not_base64_is_a_400(url: str, detail: str) -> None:
    error = refused(chat([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]))
    assert type(error) is InvalidRequest
    assert (error.param, error.params) == ("messages[0].content[0].image_url", {"detail": detail})


def test_input_audio_is_an_unsupported_capability_naming_the_part() -> None:
    error = refused(
        chat(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Transcribe"},
                        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                    ],
                }
            ]
        )
    )
    assert type(error) is UnsupportedCapability
    assert (error.status, error.code, error.param) == (400, "unsupported_capability", "messages[0].content[1]")
    assert render_message(error) == "Provider 'anthropic' does not support audio input."


def test_a_file_id_is_an_unsupported_capability() -> None:
    error = refused(chat([{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-123"}}]}]))
    assert type(error) is UnsupportedCapability
    assert error.param == "messages[0].content[0].file"


def test_a_file_that_is_not_a_pdf_is_a_400() -> None:
    error = refused(
        chat(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "file", "file": {"file_data": "data:text/plain;base64,aGk=", "filename": "a.txt"}}
                    ],
                }
            ]
        )
    )
    assert type(error) is InvalidRequest
    assert (error.param, error.params) == (
        "messages[0].content[0].file.file_data",
        {"detail": "Anthropic accepts PDF documents, not text/plain"},
    )


# --- tool calls and tools ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "detail"),
    [
        ('{"city": ', "the arguments are not valid JSON"),
        ("[1, 2]", "the arguments must be a JSON object"),
    ],
)
def test_tool_call_arguments_that_are_not_a_json_object_are_a_400(arguments: str, detail: str) -> None:
    error = refused(
        chat(
            [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                        {"id": "toolu_2", "type": "function", "function": {"name": "g", "arguments": arguments}},
                    ],
                },
            ]
        )
    )
    assert type(error) is InvalidRequest
    assert (error.param, error.params) == ("messages[1].tool_calls[1].function.arguments", {"detail": detail})


def test_tools_become_input_schemas_with_strict_and_cache_control_passed_on() -> None:
    body, adjusted = wire_body(
        chat(
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "description": "Weather for a city",
                        "parameters": WEATHER_PARAMS,
                        "strict": True,
                        "cache_control": {"type": "ephemeral"},
                    },
                },
                {"type": "function", "function": {"name": "ping"}},
                {"type": "function", "function": {"name": "noop", "parameters": {}}},
            ]
        )
    )
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": WEATHER_PARAMS,
            "strict": True,
            "cache_control": {"type": "ephemeral"},
        },
        {"name": "ping", "input_schema": EMPTY_SCHEMA},
        {"name": "noop", "input_schema": EMPTY_SCHEMA},
    ]
    assert "tool_choice" not in body
    assert adjusted == []
    assert_sdk_accepts(body)


def test_a_custom_tool_is_an_unsupported_capability() -> None:
    error = refused(chat(tools=[WEATHER_TOOL, {"type": "custom", "custom": {"name": "grammar"}}]))
    assert type(error) is UnsupportedCapability
    assert error.param == "tools[1]"


NAMED = {"type": "function", "function": {"name": "get_weather"}}


@pytest.mark.parametrize(
    ("tool_choice", "parallel", "expected"),
    [
        (None, None, None),
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        (NAMED, None, {"type": "tool", "name": "get_weather"}),
        ("auto", True, {"type": "auto"}),
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (NAMED, False, {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
    ],
)
def test_tool_choice_and_parallel_tool_calls(tool_choice: Any, parallel: bool | None, expected: JSON | None) -> None:
    fields: JSON = {"tools": [WEATHER_TOOL]}
    if tool_choice is not None:
        fields["tool_choice"] = tool_choice
    if parallel is not None:
        fields["parallel_tool_calls"] = parallel
    body, adjusted = wire_body(chat(**fields))
    assert body.get("tool_choice") == expected
    assert ("tool_choice" in body) == (expected is not None)
    assert body["tools"] == [WEATHER_WIRE]
    assert adjusted == []
    assert_sdk_accepts(body)


def test_an_allowed_tools_choice_is_an_unsupported_capability() -> None:
    error = refused(
        chat(
            tools=[WEATHER_TOOL],
            tool_choice={"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [NAMED]}},
        )
    )
    assert type(error) is UnsupportedCapability
    assert error.param == "tool_choice"


# --- top-level parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, 4096),
        ({"max_tokens": 100}, 100),
        ({"max_completion_tokens": 200}, 200),
    ],
)
def test_max_tokens_comes_from_the_client_or_the_profile(fields: JSON, expected: int) -> None:
    body, adjusted = wire_body(chat(**fields))
    assert body["max_tokens"] == expected
    assert adjusted == []


def test_the_profile_default_max_tokens_is_used_as_it_is() -> None:
    body, _ = wire_body(chat(), ModelProfile(max_tokens=1234))
    assert body["max_tokens"] == 1234


@pytest.mark.parametrize(("stop", "expected"), [("END", ["END"]), (["a", "b"], ["a", "b"])])
def test_stop_becomes_stop_sequences(stop: Any, expected: list[str]) -> None:
    body, _ = wire_body(chat(stop=stop))
    assert body["stop_sequences"] == expected
    assert "stop" not in body
    assert_sdk_accepts(body)


SAMPLING_CASES = [
    (BOTH, {"temperature": 0.3, "top_p": 0.9}, {"temperature": 0.3, "top_p": 0.9}, []),
    (BOTH, {"temperature": 0}, {"temperature": 0}, []),
    (ONE, {"temperature": 0.3, "top_p": 0.9}, {"temperature": 0.3}, ["top_p=dropped"]),
    (ONE, {"top_p": 0.9}, {"top_p": 0.9}, []),
    (NONE, {"temperature": 0.3, "top_p": 0.9}, {}, ["temperature=dropped", "top_p=dropped"]),
    (NONE, {"temperature": 1.5}, {}, ["temperature=dropped"]),
    (
        ModelProfile(sampling="one", clamp_temperature=True),
        {"temperature": 1.7, "top_p": 0.5},
        {"temperature": 1.0},
        ["temperature=clamped:1.0", "top_p=dropped"],
    ),
    (ModelProfile(sampling="both", clamp_temperature=True), {"temperature": 1.0}, {"temperature": 1.0}, []),
]


@pytest.mark.parametrize(("profile", "fields", "sent", "notes"), SAMPLING_CASES)
def test_sampling_parameters_follow_the_profile(
    profile: ModelProfile, fields: JSON, sent: JSON, notes: list[str]
) -> None:
    body, adjusted = wire_body(chat(**fields), profile)
    assert {key: body[key] for key in ("temperature", "top_p") if key in body} == sent
    assert adjusted == notes


def test_a_temperature_above_one_is_a_400_unless_the_profile_clamps() -> None:
    error = refused(chat(temperature=1.5), ONE)
    assert type(error) is InvalidRequest
    assert (error.param, error.message_key) == ("temperature", "out_of_range")
    assert render_message(error) == "Invalid value for 'temperature': expected a value from 0 to 1 for Claude."


def test_user_becomes_metadata_user_id_and_stream_is_sent() -> None:
    body, adjusted = wire_body(chat(user="user-42", stream=True, stream_options={"include_usage": True}))
    assert body == {
        "model": MODEL,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "max_tokens": 4096,
        "metadata": {"user_id": "user-42"},
        "stream": True,
    }
    assert adjusted == []
    assert_sdk_accepts(body)


def test_safety_identifier_becomes_metadata_user_id() -> None:
    body, adjusted = wire_body(chat(safety_identifier="sid-7"))
    assert body.get("metadata") == {"user_id": "sid-7"}
    assert adjusted == []


@pytest.mark.parametrize(
    ("fields", "param", "capability"),
    [
        ({"n": 2}, "n", "n > 1"),
        ({"logprobs": True}, "logprobs", "logprobs"),
    ],
)
def test_what_would_change_the_answer_shape_is_refused(fields: JSON, param: str, capability: str) -> None:
    error = refused(chat(**fields))
    assert type(error) is UnsupportedCapability
    assert (error.status, error.param, error.params) == (
        400,
        param,
        {"provider": "anthropic", "capability": capability},
    )


def test_parameters_without_an_equivalent_are_dropped_and_listed() -> None:
    body, adjusted = wire_body(
        chat(
            seed=7,
            presence_penalty=0.5,
            frequency_penalty=0.2,
            n=1,
            logit_bias={"50256": -100},
            foo="bar",
            logprobs=False,
            nothing=None,
            metadata={"k": "v"},
        )
    )
    assert body == {
        "model": MODEL,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "max_tokens": 4096,
    }
    assert adjusted == [
        "logit_bias=dropped",
        "foo=dropped",
        "logprobs=dropped",
        "seed=dropped",
        "presence_penalty=dropped",
        "frequency_penalty=dropped",
        "metadata=dropped",
    ]


def test_native_anthropic_fields_pass_through() -> None:
    thinking = {"type": "enabled", "budget_tokens": 2048}
    body, adjusted = wire_body(chat(top_k=5, thinking=thinking, service_tier="auto", inference_geo="us"))
    assert body == {
        "model": MODEL,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "max_tokens": 4096,
        "top_k": 5,
        "thinking": thinking,
        "service_tier": "auto",
        "inference_geo": "us",
    }
    assert adjusted == []
    assert_sdk_accepts(body)


def test_an_openai_service_tier_anthropic_does_not_know_is_dropped() -> None:
    body, adjusted = wire_body(chat(service_tier="priority"))
    assert "service_tier" not in body
    assert adjusted == ["service_tier=dropped"]


# --- structured output ---------------------------------------------------------------------------

SCHEMA_IN = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 50, "description": "full name"},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}, "minItems": 2, "maxItems": 5},
        "nick": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "address": {"type": "object", "properties": {"minimum": {"type": "number", "multipleOf": 0.5}}},
        "pet": {"anyOf": [{"$ref": "#/$defs/Pet"}, {"type": "null"}]},
    },
    "required": ["name", "age"],
    "$defs": {"Pet": {"type": "object", "properties": {"kind": {"type": "string"}}, "minProperties": 1}},
}
SCHEMA_OUT = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "full name"},
        "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "nick": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "address": {"type": "object", "properties": {"minimum": {"type": "number"}}, "additionalProperties": False},
        "pet": {"anyOf": [{"$ref": "#/$defs/Pet"}, {"type": "null"}]},
    },
    "required": ["name", "age"],
    "$defs": {"Pet": {"type": "object", "properties": {"kind": {"type": "string"}}, "additionalProperties": False}},
    "additionalProperties": False,
}


def json_schema_format(schema: JSON, **spec: Any) -> JSON:
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, **spec}}


def test_json_schema_on_a_native_profile_is_output_config_with_a_sanitised_schema() -> None:
    schema = copy.deepcopy(SCHEMA_IN)
    body, adjusted = wire_body(chat(response_format=json_schema_format(schema, strict=True)))
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA_OUT}}
    assert adjusted == [
        "response_format=schema_keywords_dropped:maxItems,maxLength,maximum,minItems,minLength,"
        "minProperties,minimum,multipleOf,pattern"
    ]
    assert schema == SCHEMA_IN  # the client's schema is not edited in place
    assert "tools" not in body and "tool_choice" not in body
    assert_sdk_accepts(body)


def test_a_schema_anthropic_accepts_as_it_is_is_not_reported() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}
    body, adjusted = wire_body(chat(response_format=json_schema_format(schema)))
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert adjusted == []


def test_json_schema_on_a_tool_profile_forces_the_json_tool() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]}
    wire, adjusted = translate(
        chat(
            tools=[WEATHER_TOOL],
            tool_choice="auto",
            parallel_tool_calls=False,
            response_format=json_schema_format(schema, description="The answer"),
        ),
        TOOL_JSON,
    )
    assert wire.json_tool == "babelgate_json_output"
    assert wire.body["tools"] == [
        WEATHER_WIRE,
        {"name": "babelgate_json_output", "description": "The answer", "input_schema": schema},
    ]
    assert wire.body["tool_choice"] == {"type": "tool", "name": "babelgate_json_output"}
    assert "output_config" not in wire.body
    assert adjusted == []
    assert_sdk_accepts(wire.body)


def test_the_json_tool_has_a_default_description() -> None:
    schema = {"type": "object", "properties": {}}
    wire, _ = translate(chat(response_format=json_schema_format(schema)), TOOL_JSON)
    assert wire.body["tools"] == [
        {
            "name": "babelgate_json_output",
            "description": "Return the answer as this tool's input.",
            "input_schema": schema,
        }
    ]


@pytest.mark.parametrize(
    ("messages", "system"),
    [
        (
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            [{"type": "text", "text": "Be brief."}, {"type": "text", "text": JSON_OBJECT_INSTRUCTION}],
        ),
        ([{"role": "user", "content": "Hi"}], [{"type": "text", "text": JSON_OBJECT_INSTRUCTION}]),
    ],
)
def test_json_object_adds_a_system_instruction(messages: list[JSON], system: list[JSON]) -> None:
    body, adjusted = wire_body(chat(messages, response_format={"type": "json_object"}))
    assert body["system"] == system
    assert JSON_OBJECT_INSTRUCTION == "Respond with a single valid JSON object and nothing else."
    assert "output_config" not in body
    assert adjusted == []


def test_response_format_text_changes_nothing() -> None:
    body, adjusted = wire_body(chat(response_format={"type": "text"}))
    assert body == {
        "model": MODEL,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "max_tokens": 4096,
    }
    assert adjusted == []


# --- reasoning -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effort", "max_tokens", "budget", "notes"),
    [
        ("minimal", None, 1024, []),
        ("low", None, 2048, []),
        ("medium", None, 8192, []),
        ("high", None, 16383, ["reasoning_effort=clamped:budget_tokens=16383"]),
        ("xhigh", 40000, 32768, []),
        ("low", 1025, 1024, ["reasoning_effort=clamped:budget_tokens=1024"]),
    ],
)
def test_reasoning_effort_becomes_a_thinking_budget_below_max_tokens(
    effort: str, max_tokens: int | None, budget: int, notes: list[str]
) -> None:
    fields: JSON = {"reasoning_effort": effort}
    if max_tokens is not None:
        fields["max_tokens"] = max_tokens
    body, adjusted = wire_body(chat(**fields), BUDGET_16K)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert body["max_tokens"] == (max_tokens or 16384)
    assert adjusted == notes
    assert_sdk_accepts(body)


def test_a_thinking_budget_that_cannot_reach_1024_tokens_is_a_400() -> None:
    error = refused(chat(reasoning_effort="low", max_tokens=1024), BUDGET_16K)
    assert type(error) is InvalidRequest
    assert (error.param, error.message_key) == ("max_tokens", "out_of_range")


def test_thinking_drops_the_sampling_parameters() -> None:
    body, adjusted = wire_body(chat(reasoning_effort="low", temperature=0.5, top_p=0.9), BOTH)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "temperature" not in body and "top_p" not in body
    assert adjusted == ["temperature=dropped", "top_p=dropped"]


def test_an_effort_without_a_budget_is_a_400() -> None:
    error = refused(chat(reasoning_effort="max"), BUDGET_16K)
    assert type(error) is InvalidRequest
    assert error.param == "reasoning_effort"
    assert render_message(error) == (
        "Invalid value for 'reasoning_effort': expected one of minimal, low, medium, high, xhigh"
    )


@pytest.mark.parametrize("profile", [BUDGET_16K, ADAPTIVE])
def test_reasoning_effort_none_sends_no_thinking(profile: ModelProfile) -> None:
    body, adjusted = wire_body(chat(reasoning_effort="none"), profile)
    assert "thinking" not in body and "output_config" not in body
    assert adjusted == []


def test_reasoning_effort_on_a_model_without_thinking_is_dropped() -> None:
    body, adjusted = wire_body(chat(reasoning_effort="high"), TOOL_JSON)
    assert "thinking" not in body
    assert adjusted == ["reasoning_effort=dropped"]


@pytest.mark.parametrize(
    ("effort", "wire_effort"),
    [
        ("minimal", "low"),
        ("low", "low"),
        ("medium", "medium"),
        ("high", "high"),
        ("xhigh", "xhigh"),
        ("max", "max"),
    ],
)
def test_an_adaptive_profile_sends_adaptive_thinking_and_an_effort(effort: str, wire_effort: str) -> None:
    body, adjusted = wire_body(chat(reasoning_effort=effort), ADAPTIVE)
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": wire_effort}
    assert body["max_tokens"] == 16384
    assert adjusted == []
    assert_sdk_accepts(body)


def test_adaptive_effort_sits_beside_the_structured_output_format() -> None:
    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    body, adjusted = wire_body(
        chat(reasoning_effort="high", response_format=json_schema_format(schema), output_config={"effort": "low"}),
        ADAPTIVE,
    )
    assert body["output_config"] == {"effort": "high", "format": {"type": "json_schema", "schema": schema}}
    assert body["thinking"] == {"type": "adaptive"}
    assert adjusted == []
    assert_sdk_accepts(body)


def test_a_client_output_config_is_merged_under_ours() -> None:
    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    body, _ = wire_body(chat(response_format=json_schema_format(schema), output_config={"effort": "medium"}))
    assert body["output_config"] == {"effort": "medium", "format": {"type": "json_schema", "schema": schema}}


@pytest.mark.parametrize("profile", [BUDGET_16K, ADAPTIVE])
@pytest.mark.parametrize("tool_choice", ["required", NAMED])
def test_thinking_gives_way_when_tool_choice_forces_a_tool(profile: ModelProfile, tool_choice: Any) -> None:
    body, adjusted = wire_body(chat(tools=[WEATHER_TOOL], tool_choice=tool_choice, reasoning_effort="high"), profile)
    assert "thinking" not in body and "output_config" not in body
    assert body["tool_choice"]["type"] in ("any", "tool")
    assert adjusted == ["reasoning_effort=dropped"]


def test_thinking_gives_way_to_the_forced_json_tool() -> None:
    profile = ModelProfile(max_tokens=16384, sampling="both", structured_output="tool", thinking="budget")
    wire, adjusted = translate(
        chat(reasoning_effort="medium", response_format=json_schema_format(EMPTY_SCHEMA)), profile
    )
    assert wire.json_tool == "babelgate_json_output"
    assert "thinking" not in wire.body
    assert adjusted == ["reasoning_effort=dropped"]


def test_adaptive_thinking_drops_the_sampling_parameters_too() -> None:
    profile = ModelProfile(max_tokens=16384, sampling="one", thinking="adaptive")  # the claude-*-4-6 row
    body, adjusted = wire_body(chat(reasoning_effort="high", temperature=0.5), profile)
    assert body["thinking"] == {"type": "adaptive"}
    assert "temperature" not in body
    assert adjusted == ["temperature=dropped"]


def test_reasoning_details_replay_signed_thinking_before_the_tool_use_blocks() -> None:
    body, adjusted = wire_body(
        chat(
            [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": "Let me check.",
                    "tool_calls": [
                        {
                            "id": "toolu_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                        },
                    ],
                    "reasoning_details": [
                        {
                            "type": "reasoning.text",
                            "text": "I should call the tool.",
                            "signature": "EqQBsig==",
                            "format": "anthropic-claude-v1",
                        },
                        {"type": "reasoning.encrypted", "data": "EmwKAhgBEgy", "format": "anthropic-claude-v1"},
                        {
                            "type": "reasoning.summary",
                            "summary": "skipped: no Anthropic block",
                            "format": "anthropic-claude-v1",
                        },
                        {
                            "type": "reasoning.text",
                            "text": "another vendor's",
                            "signature": "x",
                            "format": "openai-responses-v1",
                        },
                        {"type": "reasoning.text", "text": "unsigned, so not replayable"},
                    ],
                },
                {"role": "tool", "tool_call_id": "toolu_1", "content": "-3°C"},
            ],
            reasoning_effort="low",
        )
    )
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "I should call the tool.", "signature": "EqQBsig=="},
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy"},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
    }
    assert body["messages"][2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "-3°C"}],
    }
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert adjusted == []
    assert_sdk_accepts(body)
