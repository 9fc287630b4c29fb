"""Golden tests of canonical chat → Gemini generateContent (providers/gemini/translate.py `to_wire`).

Requests are built the way the gateway builds them (OpenAI JSON → `validate_chat_body` →
`request_from_wire`); the expected bodies are exact. Several bodies are also run through the official
`google-genai` SDK's own models (which forbid unknown fields) and must come back unchanged, so a key
the API does not know, or a wrong enum value, fails here rather than as a 400 upstream.
"""

from __future__ import annotations

import base64
import copy
import warnings
from typing import Any

import orjson
import pydantic
import pytest
from google.genai import types

from babelgate.errors import GatewayError, InvalidRequest, UnsupportedCapability
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.i18n import render_message
from babelgate.providers.gemini.profiles import ModelProfile
from babelgate.providers.gemini.translate import to_wire
from babelgate.providers.gemini.translate_parts import InlineMedia
from babelgate.providers.openai.translate import request_from_wire
from babelgate.schema.chat import ChatRequest, ImagePart, Message

JSON = dict[str, Any]

# Profiles spelled out here, so these tests do not depend on the built-in model table.
LEVEL = ModelProfile(thinking="level", signatures_required=True)  # Gemini 3
BUDGET = ModelProfile(thinking="budget", multiple_candidates=True)  # Gemini 2.5
LEGACY = ModelProfile(thinking="none", penalties=True, multiple_candidates=True)  # Gemini 2.0
SAFETY = (
    {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_NONE"},
)

# The SDK writes bytes back as url-safe base64, so the fixtures avoid "+" and "/" for the round trip.
SIGNATURE = base64.b64encode(b"opaque thought signature 0001").decode()
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n0000").decode()
PDF = base64.b64encode(b"%PDF-1.7 ...").decode()
WAV = base64.b64encode(b"RIFF....WAVEfmt ").decode()
WEATHER_PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city", "parameters": WEATHER_PARAMS},
}
USER = {"role": "user", "parts": [{"text": "Hi"}]}
TOP_LEVEL = {
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "safetySettings",
    "cachedContent",
    "generationConfig",
    "labels",
}


# --- helpers -------------------------------------------------------------------------------------


def decoded(body: JSON) -> ChatRequest:
    validate_chat_body(body)
    return request_from_wire(body)


def chat(messages: list[JSON] | None = None, **fields: Any) -> JSON:
    return {"model": "gemini/some-model", "messages": messages or [{"role": "user", "content": "Hi"}], **fields}


def wire_body(
    body: JSON, profile: ModelProfile = LEVEL, inline: dict[str, InlineMedia] | None = None
) -> tuple[JSON, list[str]]:
    adjusted: list[str] = []
    request = decoded(body)
    before = copy.deepcopy(request)
    wire = to_wire(request, profile, adjusted, inline=inline or {})
    assert request == before  # translation never changes the canonical request
    return wire, adjusted


def refused(body: JSON, profile: ModelProfile = LEVEL) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        wire_body(body, profile)
    return caught.value


def generation_config(profile: ModelProfile = LEVEL, **fields: Any) -> tuple[JSON | None, list[str]]:
    body, adjusted = wire_body(chat(**fields), profile)
    assert body["contents"] == [USER]
    return body.get("generationConfig"), adjusted


def _round_trip(model: type[pydantic.BaseModel], value: Any) -> None:
    """Parsed as the API's JSON (base64 bytes included) and dumped back: equal, so nothing unknown.
    The SDK only warns about an enum value it does not know: that warning is an error here."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parsed = model.model_validate_json(orjson.dumps(value))
    assert parsed.model_dump(mode="json", by_alias=True, exclude_none=True) == value


def assert_sdk_accepts(body: JSON) -> None:
    assert set(body) <= TOP_LEVEL, set(body) - TOP_LEVEL
    for content in body["contents"]:
        assert content["role"] in ("user", "model")
        _round_trip(types.Content, content)
    if "systemInstruction" in body:
        assert "role" not in body["systemInstruction"]
        _round_trip(types.Content, body["systemInstruction"])
    for tool in body.get("tools", ()):
        _round_trip(types.Tool, tool)
    if "toolConfig" in body:
        _round_trip(types.ToolConfig, body["toolConfig"])
    for setting in body.get("safetySettings", ()):
        _round_trip(types.SafetySetting, setting)
    if "generationConfig" in body:
        _round_trip(types.GenerationConfig, body["generationConfig"])
    if "cachedContent" in body:
        assert isinstance(body["cachedContent"], str)


def test_the_sdk_check_catches_unknown_keys_and_bad_enums() -> None:
    ok: JSON = {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "generationConfig": {"thinkingConfig": {"thinkingLevel": "HIGH"}},
    }
    assert_sdk_accepts(ok)
    stray = copy.deepcopy(ok)
    stray["contents"][0]["parts"][0]["stray"] = 1
    with pytest.raises(pydantic.ValidationError):
        assert_sdk_accepts(stray)
    snake = copy.deepcopy(ok)
    snake["generationConfig"] = {"max_output_tokens": 5}  # accepted by name, but not the wire spelling
    with pytest.raises(AssertionError):
        assert_sdk_accepts(snake)
    level = copy.deepcopy(ok)
    level["generationConfig"]["thinkingConfig"]["thinkingLevel"] = "EXTREME"
    with pytest.raises(UserWarning, match="EXTREME is not a valid ThinkingLevel"):
        assert_sdk_accepts(level)
    top = {**ok, "generation_config": {}}
    with pytest.raises(AssertionError):
        assert_sdk_accepts(top)


# --- message shaping -----------------------------------------------------------------------------


def test_a_full_tool_conversation() -> None:
    body, adjusted = wire_body(
        chat(
            [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": ""}, {"type": "text", "text": "Weather in Paris?"}],
                },
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {
                            "id": f"fc_1~sig~{SIGNATURE}",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris", "units": ["C"]}'},
                        },
                        {
                            "id": "call_bg0123456789abcdef0123",
                            "type": "function",
                            "function": {"name": "get_time", "arguments": ""},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": f"fc_1~sig~{SIGNATURE}", "content": '{"temp": 18, "unit": "C"}'},
                {
                    "role": "tool",
                    "tool_call_id": "call_bg0123456789abcdef0123",
                    "content": [{"type": "text", "text": "12:00"}],
                },
                {"role": "user", "content": "Thanks! And tomorrow?"},
            ]
        )
    )
    assert body == {
        "contents": [
            # A developer message after the first turn stays where it was sent (system_messages.py).
            {
                "role": "user",
                "parts": [
                    {"text": "Hi"},
                    {"text": "<system-reminder>\nUse metric units.\n</system-reminder>"},
                    {"text": "Weather in Paris?"},
                ],
            },
            {
                "role": "model",
                "parts": [
                    {"text": "Checking."},
                    {
                        "functionCall": {
                            "id": "fc_1",
                            "name": "get_weather",
                            "args": {"city": "Paris", "units": ["C"]},
                        },
                        "thoughtSignature": SIGNATURE,
                    },
                    # A minted id (Gemini 2.5 gave none) is never sent back (docs/decisions.md, "Gemini's function-call
                    # ids").
                    {"functionCall": {"name": "get_time", "args": {}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"id": "fc_1", "name": "get_weather", "response": {"temp": 18, "unit": "C"}}},
                    {"functionResponse": {"name": "get_time", "response": {"result": "12:00"}}},
                    {"text": "Thanks! And tomorrow?"},
                ],
            },
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
    }
    assert adjusted == ["messages[2]=system-as-user"]
    assert_sdk_accepts(body)


def test_a_signed_id_with_a_plain_gemini_id_keeps_id_and_signature_apart() -> None:
    body, _ = wire_body(
        chat(
            [
                {"role": "user", "content": "Time?"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "a1b2c3~sig~c2ln",
                            "type": "function",
                            "function": {"name": "get_time", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "a1b2c3~sig~c2ln", "content": "noon"},
            ]
        )
    )
    assert body["contents"][1:] == [
        {
            "role": "model",
            "parts": [{"functionCall": {"id": "a1b2c3", "name": "get_time", "args": {}}, "thoughtSignature": "c2ln"}],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"id": "a1b2c3", "name": "get_time", "response": {"result": "noon"}}}],
        },
    ]
    assert_sdk_accepts(body)


def test_a_client_id_without_signature_is_sent_as_the_call_id() -> None:
    body, _ = wire_body(
        chat(
            [
                {"role": "user", "content": "Time?"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "call_Xy12", "type": "function", "function": {"name": "get_time", "arguments": " "}}
                    ],
                },
                {"role": "tool", "tool_call_id": "call_Xy12", "content": "noon"},
            ]
        )
    )
    assert body["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"id": "call_Xy12", "name": "get_time", "args": {}},
                    "thoughtSignature": "skip_thought_signature_validator",
                }
            ],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"id": "call_Xy12", "name": "get_time", "response": {"result": "noon"}}}],
        },
    ]


def test_consecutive_turns_of_one_role_merge_and_empty_turns_vanish() -> None:
    body, _ = wire_body(
        chat(
            [
                {"role": "system", "content": ""},
                {"role": "user", "content": "One"},
                {"role": "user", "content": [{"type": "text", "text": "Two"}]},
                {"role": "assistant", "content": "Three"},
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "Four"}, {"type": "refusal", "refusal": "No."}],
                },
                {"role": "assistant", "content": None},
                {"role": "user", "content": ""},
                {"role": "user", "content": "Five"},
            ]
        )
    )
    assert body == {
        "contents": [
            {"role": "user", "parts": [{"text": "One"}, {"text": "Two"}]},
            {"role": "model", "parts": [{"text": "Three"}, {"text": "Four"}, {"text": "No."}]},
            {"role": "user", "parts": [{"text": "Five"}]},
        ]
    }
    assert_sdk_accepts(body)


@pytest.mark.parametrize(
    ("result", "response"),
    [
        ('{"temp": 18}', {"temp": 18}),
        ('{"nested": {"a": [1, null]}}', {"nested": {"a": [1, None]}}),
        ("[1, 2]", {"result": "[1, 2]"}),
        ('"quoted"', {"result": '"quoted"'}),
        ("42", {"result": "42"}),
        ("18°C and sunny", {"result": "18°C and sunny"}),
        ("", {"result": ""}),
    ],
)
def test_a_tool_result_is_always_an_object(result: str, response: JSON) -> None:
    body, _ = wire_body(
        chat(
            [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "fc_9", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "fc_9", "content": result},
            ]
        )
    )
    assert body["contents"][2] == {
        "role": "user",
        "parts": [{"functionResponse": {"id": "fc_9", "name": "get_weather", "response": response}}],
    }
    assert_sdk_accepts(body)


def test_a_tool_result_in_text_parts_is_joined_first() -> None:
    body, _ = wire_body(
        chat(
            [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "fc_9", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                    ],
                },
                {
                    "role": "tool",
                    "tool_call_id": "fc_9",
                    "content": [{"type": "text", "text": '{"temp":'}, {"type": "text", "text": " 18}"}],
                },
            ]
        )
    )
    assert body["contents"][2]["parts"] == [
        {"functionResponse": {"id": "fc_9", "name": "get_weather", "response": {"temp": 18}}}
    ]


def test_an_unknown_tool_call_id_is_a_400() -> None:
    error = refused(
        chat(
            [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "fc_9", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "fc_other", "content": "18C"},
            ]
        )
    )
    assert type(error) is InvalidRequest
    assert (error.status, error.param) == (400, "messages[2].tool_call_id")


def test_an_unknown_tool_call_id_with_a_name_uses_the_name() -> None:
    body, _ = wire_body(
        chat(
            [
                {"role": "user", "content": "Weather?"},
                {"role": "tool", "tool_call_id": "call_elsewhere", "name": "lookup", "content": "18C"},
            ]
        )
    )
    assert body["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "Weather?"},
                {"functionResponse": {"id": "call_elsewhere", "name": "lookup", "response": {"result": "18C"}}},
            ],
        }
    ]


def test_a_legacy_function_message_answers_by_name_without_id() -> None:
    body, _ = wire_body(
        chat(
            [
                {"role": "user", "content": "Time?"},
                {"role": "function", "name": "get_time", "content": "noon"},
            ]
        )
    )
    assert body["contents"] == [
        {
            "role": "user",
            "parts": [{"text": "Time?"}, {"functionResponse": {"name": "get_time", "response": {"result": "noon"}}}],
        }
    ]
    assert_sdk_accepts(body)


@pytest.mark.parametrize("arguments", ['{"city": ', "not json", "[1, 2]", '"Paris"', "null"])
def test_tool_call_arguments_must_be_a_json_object(arguments: str) -> None:
    error = refused(
        chat(
            [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "fc_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
                        {"id": "fc_2", "type": "function", "function": {"name": "get_weather", "arguments": arguments}},
                    ],
                },
            ]
        )
    )
    assert type(error) is InvalidRequest
    assert (error.status, error.param) == (400, "messages[1].tool_calls[1].function.arguments")


# --- media ---------------------------------------------------------------------------------------


def user_parts(*parts: JSON) -> JSON:
    return chat([{"role": "user", "content": [{"type": "text", "text": "Look:"}, *parts]}])


def image(url: str) -> JSON:
    return {"type": "image_url", "image_url": {"url": url}}


def test_media_parts() -> None:
    body, adjusted = wire_body(
        user_parts(
            image(f"data:image/PNG;base64,{PNG}"),
            image("https://example.com/cat.png"),
            image("https://example.com/photo.webp?X-Goog-Signature=abc&x=.png"),
            image("https://example.com/render"),
            image("https://generativelanguage.googleapis.com/v1beta/files/abc123"),
            {"type": "input_audio", "input_audio": {"data": WAV, "format": "wav"}},
            {"type": "input_audio", "input_audio": {"data": WAV, "format": "mp3"}},
            {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": "a.pdf"}},
            {"type": "file", "file": {"file_data": PDF}},
            {"type": "file", "file": {"file_id": "gs://bucket/report.pdf"}},
            {"type": "file", "file": {"file_id": "https://example.com/scan.png"}},
        )
    )
    assert body == {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "Look:"},
                    {"inlineData": {"mimeType": "image/png", "data": PNG}},
                    {"fileData": {"fileUri": "https://example.com/cat.png", "mimeType": "image/png"}},
                    {
                        "fileData": {
                            "fileUri": "https://example.com/photo.webp?X-Goog-Signature=abc&x=.png",
                            "mimeType": "image/webp",
                        }
                    },
                    {"fileData": {"fileUri": "https://example.com/render", "mimeType": "image/jpeg"}},
                    {
                        "fileData": {
                            "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc123",
                            "mimeType": "image/jpeg",
                        }
                    },
                    {"inlineData": {"mimeType": "audio/wav", "data": WAV}},
                    {"inlineData": {"mimeType": "audio/mp3", "data": WAV}},
                    {"inlineData": {"mimeType": "application/pdf", "data": PDF}},
                    {"inlineData": {"mimeType": "application/pdf", "data": PDF}},
                    {"fileData": {"fileUri": "gs://bucket/report.pdf", "mimeType": "application/pdf"}},
                    {"fileData": {"fileUri": "https://example.com/scan.png", "mimeType": "image/png"}},
                ],
            }
        ]
    }
    assert adjusted == []
    assert_sdk_accepts(body)


def test_an_url_the_provider_fetched_is_inlined() -> None:
    fetched = {"https://example.com/cat.png": InlineMedia("image/gif", "R0lGODlhAQABAAAAACw=")}
    body, _ = wire_body(
        user_parts(image("https://example.com/cat.png"), image("https://example.com/dog.png")), inline=fetched
    )
    assert body["contents"][0]["parts"] == [
        {"text": "Look:"},
        {"inlineData": {"mimeType": "image/gif", "data": "R0lGODlhAQABAAAAACw="}},
        {"fileData": {"fileUri": "https://example.com/dog.png", "mimeType": "image/png"}},
    ]
    assert_sdk_accepts(body)


def test_a_gs_uri_on_a_canonical_image_part_is_file_data() -> None:
    # The OpenAI frontend admits only http(s) and data: URLs; other frontends may carry gs:// URIs.
    request = ChatRequest(model="m", messages=[Message(role="user", content=[ImagePart("gs://bucket/cat.jpeg")])])
    body = to_wire(request, LEVEL, [], inline={})
    assert body == {
        "contents": [
            {"role": "user", "parts": [{"fileData": {"fileUri": "gs://bucket/cat.jpeg", "mimeType": "image/jpeg"}}]}
        ]
    }


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("wav", "audio/wav"),
        ("mp3", "audio/mp3"),
        ("flac", "audio/flac"),
        ("aac", "audio/aac"),
        ("ogg", "audio/ogg"),
        ("opus", "audio/ogg"),
        ("pcm16", "audio/pcm"),
        ("webm", "audio/webm"),
        ("m4a", "audio/mp4"),
    ],
)
def test_every_audio_format_has_its_mime_type(fmt: str, mime: str) -> None:
    body, _ = wire_body(user_parts({"type": "input_audio", "input_audio": {"data": WAV, "format": fmt}}))
    assert body["contents"][0]["parts"][1] == {"inlineData": {"mimeType": mime, "data": WAV}}


def test_an_unknown_audio_format_is_a_400_naming_the_part() -> None:
    error = refused(user_parts({"type": "input_audio", "input_audio": {"data": WAV, "format": "aiff"}}))
    assert type(error) is InvalidRequest
    assert error.param == "messages[0].content[1].input_audio.format"
    assert render_message(error, "en") == (
        "Invalid value for 'messages[0].content[1].input_audio.format': "
        "Gemini takes aac, flac, m4a, mp3, ogg, opus, pcm16, wav, webm audio"
    )


@pytest.mark.parametrize("url", ["data:image/png,rawtext", "data:image/png;base64", "data:;utf8,abc"])
def test_a_data_uri_that_is_not_base64_is_a_400(url: str) -> None:
    error = refused(user_parts(image(url)))
    assert type(error) is InvalidRequest
    assert error.param == "messages[0].content[1].image_url"


def test_a_pdf_data_uri_that_is_not_base64_names_the_file_data() -> None:
    error = refused(user_parts({"type": "file", "file": {"file_data": "data:application/pdf,%PDF"}}))
    assert type(error) is InvalidRequest
    assert error.param == "messages[0].content[1].file.file_data"


def test_an_openai_file_id_is_unsupported() -> None:
    error = refused(user_parts({"type": "file", "file": {"file_id": "file-abc123"}}))
    assert type(error) is UnsupportedCapability
    assert (error.status, error.code, error.param) == (400, "unsupported_capability", "messages[0].content[1].file")
    assert render_message(error, "en") == "Provider 'gemini' does not support OpenAI file ids."


# --- tools ---------------------------------------------------------------------------------------


def test_tools_become_function_declarations_with_the_json_schema_as_is() -> None:
    # Keywords the proto Schema subset refuses travel untouched in parametersJsonSchema.
    rich = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "unit": {"const": "C"},
            "when": {"type": ["string", "null"]},
            "n": {"oneOf": [{"type": "integer", "exclusiveMinimum": 0}, {"type": "null"}]},
        },
        "additionalProperties": False,
    }
    body, adjusted = wire_body(
        chat(
            tools=[
                WEATHER_TOOL,
                {"type": "function", "function": {"name": "get_time"}},
                {
                    "type": "function",
                    "function": {"name": "plan", "description": "Plan it", "parameters": rich, "strict": True},
                },
            ]
        )
    )
    assert body == {
        "contents": [USER],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Weather for a city",
                        "parametersJsonSchema": WEATHER_PARAMS,
                    },
                    {"name": "get_time"},
                    {"name": "plan", "description": "Plan it", "parametersJsonSchema": rich},
                ]
            }
        ],
    }
    assert adjusted == []
    assert_sdk_accepts(body)


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tool_choice(choice: Any, config: JSON) -> None:
    body, adjusted = wire_body(chat(tools=[WEATHER_TOOL], tool_choice=choice))
    assert body["toolConfig"] == {"functionCallingConfig": config}
    assert adjusted == []
    assert_sdk_accepts(body)


def test_no_tool_choice_sends_no_tool_config() -> None:
    body, _ = wire_body(chat(tools=[WEATHER_TOOL]))
    assert "toolConfig" not in body


@pytest.mark.parametrize(
    "choice",
    [
        {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}},
        {"type": "custom", "custom": {"name": "grep"}},
    ],
)
def test_tool_choices_gemini_lacks_are_unsupported(choice: JSON) -> None:
    error = refused(chat(tools=[WEATHER_TOOL], tool_choice=choice))
    assert type(error) is UnsupportedCapability
    assert error.param == "tool_choice"


def test_a_custom_tool_is_unsupported() -> None:
    error = refused(chat(tools=[WEATHER_TOOL, {"type": "custom", "custom": {"name": "grep"}}]))
    assert type(error) is UnsupportedCapability
    assert error.param == "tools[1]"
    assert render_message(error, "en") == "Provider 'gemini' does not support custom tools."


@pytest.mark.parametrize("parallel", [True, False])
def test_parallel_tool_calls_is_dropped_and_reported(parallel: bool) -> None:
    body, adjusted = wire_body(chat(tools=[WEATHER_TOOL], parallel_tool_calls=parallel))
    assert body == {
        "contents": [USER],
        "tools": [
            {
                "functionDeclarations": [
                    {"name": "get_weather", "description": "Weather for a city", "parametersJsonSchema": WEATHER_PARAMS}
                ]
            }
        ],
    }
    assert adjusted == ["parallel_tool_calls=dropped"]


# --- generationConfig ----------------------------------------------------------------------------


def test_sampling_and_length() -> None:
    config, adjusted = generation_config(
        temperature=0.3, top_p=0.9, seed=42, max_tokens=256, stop=["END", "##"], logprobs=True, top_logprobs=5
    )
    assert config == {
        "temperature": 0.3,
        "topP": 0.9,
        "seed": 42,
        "maxOutputTokens": 256,
        "stopSequences": ["END", "##"],
        "responseLogprobs": True,
        "logprobs": 5,
    }
    assert adjusted == []
    _round_trip(types.GenerationConfig, config)


def test_zero_values_are_sent() -> None:
    config, _ = generation_config(temperature=0, top_p=0, seed=0)
    assert config == {"temperature": 0, "topP": 0, "seed": 0}


def test_max_completion_tokens_and_a_single_stop_string() -> None:
    config, _ = generation_config(max_completion_tokens=100, stop="END")
    assert config == {"maxOutputTokens": 100, "stopSequences": ["END"]}


def test_logprobs_without_top_logprobs_and_logprobs_false() -> None:
    assert generation_config(logprobs=True) == ({"responseLogprobs": True}, [])
    assert generation_config(logprobs=False) == (None, [])


def test_nothing_set_means_no_generation_config() -> None:
    body, adjusted = wire_body(chat(stream=True, stream_options={"include_usage": True}))
    assert (body, adjusted) == ({"contents": [USER]}, [])


def test_n_becomes_candidate_count_where_the_profile_allows_it() -> None:
    assert generation_config(BUDGET, n=3) == ({"candidateCount": 3}, [])
    assert generation_config(LEVEL, n=1) == (None, [])


def test_n_above_one_on_gemini_3_is_a_400() -> None:
    error = refused(chat(n=2), LEVEL)
    assert type(error) is UnsupportedCapability
    assert (error.status, error.param) == (400, "n")
    assert render_message(error, "en") == "Provider 'gemini' does not support n > 1 on this model."


def test_penalties_are_sent_on_gemini_2_0() -> None:
    config, adjusted = generation_config(LEGACY, presence_penalty=0.5, frequency_penalty=-0.25)
    assert config == {"presencePenalty": 0.5, "frequencyPenalty": -0.25}
    assert adjusted == []
    assert generation_config(LEGACY, presence_penalty=0, frequency_penalty=0) == (
        {"presencePenalty": 0, "frequencyPenalty": 0},
        [],
    )


@pytest.mark.parametrize("profile", [LEVEL, BUDGET], ids=["gemini-3", "gemini-2.5"])
def test_penalties_are_dropped_and_reported_on_newer_models(profile: ModelProfile) -> None:
    assert generation_config(profile, presence_penalty=0.5, frequency_penalty=-0.25) == (
        None,
        ["presence_penalty=dropped", "frequency_penalty=dropped"],
    )
    # A zero penalty changes nothing, so leaving it out is no adjustment.
    assert generation_config(profile, presence_penalty=0, frequency_penalty=0.0) == (None, [])


def test_json_object() -> None:
    assert generation_config(response_format={"type": "json_object"}) == ({"responseMimeType": "application/json"}, [])


def test_json_schema_is_sent_as_response_json_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
        "required": ["name", "tags"],
        "additionalProperties": False,
        "$defs": {"unused": {"type": "string"}},
    }
    config, adjusted = generation_config(
        response_format={"type": "json_schema", "json_schema": {"name": "Person", "strict": True, "schema": schema}}
    )
    assert config == {"responseMimeType": "application/json", "responseJsonSchema": schema}
    assert adjusted == []
    _round_trip(types.GenerationConfig, config)


def test_text_response_format_sends_nothing() -> None:
    assert generation_config(response_format={"type": "text"}) == (None, [])


# --- reasoning -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effort", "level"), [("minimal", "MINIMAL"), ("low", "LOW"), ("medium", "MEDIUM"), ("high", "HIGH")]
)
def test_reasoning_effort_is_a_thinking_level_on_gemini_3(effort: str, level: str) -> None:
    config, adjusted = generation_config(LEVEL, reasoning_effort=effort)
    assert config == {"thinkingConfig": {"thinkingLevel": level, "includeThoughts": True}}
    assert adjusted == []
    _round_trip(types.GenerationConfig, config)


@pytest.mark.parametrize(
    ("effort", "budget"), [("minimal", 512), ("low", 1024), ("medium", 8192), ("high", 16384), ("xhigh", 24576)]
)
def test_reasoning_effort_is_a_thinking_budget_on_gemini_2_5(effort: str, budget: int) -> None:
    config, adjusted = generation_config(BUDGET, reasoning_effort=effort)
    assert config == {"thinkingConfig": {"thinkingBudget": budget, "includeThoughts": True}}
    assert adjusted == []
    _round_trip(types.GenerationConfig, config)


def test_reasoning_effort_none() -> None:
    assert generation_config(BUDGET, reasoning_effort="none") == ({"thinkingConfig": {"thinkingBudget": 0}}, [])
    # Gemini 3 cannot switch thinking off: the least it does is MINIMAL.
    config, _ = generation_config(LEVEL, reasoning_effort="none")
    assert config == {"thinkingConfig": {"thinkingLevel": "MINIMAL"}}


def test_reasoning_effort_xhigh_on_gemini_3_is_xhigh_or_reported() -> None:
    config, adjusted = generation_config(LEVEL, reasoning_effort="xhigh")
    assert config is not None
    level = config["thinkingConfig"]["thinkingLevel"]
    assert level == types.ThinkingLevel.XHIGH.value or any(note.startswith("reasoning_effort=") for note in adjusted)


@pytest.mark.parametrize("profile", [LEVEL, BUDGET], ids=["gemini-3", "gemini-2.5"])
def test_an_unknown_reasoning_effort_is_a_400(profile: ModelProfile) -> None:
    error = refused(chat(reasoning_effort="extreme"), profile)
    assert type(error) is InvalidRequest
    assert (error.status, error.param) == (400, "reasoning_effort")
    assert render_message(error, "en") == (
        "Invalid value for 'reasoning_effort': expected none or one of minimal, low, medium, high, xhigh"
    )


@pytest.mark.parametrize("effort", ["high", "none"])
def test_reasoning_effort_is_dropped_and_reported_on_gemini_2_0(effort: str) -> None:
    assert generation_config(LEGACY, reasoning_effort=effort) == (None, ["reasoning_effort=dropped"])


# --- safety, native fields, extras ---------------------------------------------------------------


def test_safety_settings_come_from_the_profile() -> None:
    body, adjusted = wire_body(chat(), ModelProfile(safety_settings=SAFETY))
    assert body == {"contents": [USER], "safetySettings": [dict(setting) for setting in SAFETY]}
    assert adjusted == []
    assert_sdk_accepts(body)


def test_native_fields_pass_through_and_win_over_the_profile() -> None:
    own = [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_LOW_AND_ABOVE"}]
    body, adjusted = wire_body(
        chat(
            safetySettings=own,
            cachedContent="cachedContents/abc123",
            toolConfig={"functionCallingConfig": {"mode": "VALIDATED"}},
        ),
        ModelProfile(safety_settings=SAFETY),
    )
    assert body == {
        "contents": [USER],
        "safetySettings": own,
        "cachedContent": "cachedContents/abc123",
        "toolConfig": {"functionCallingConfig": {"mode": "VALIDATED"}},
    }
    assert adjusted == []
    assert_sdk_accepts(body)


def test_other_fields_are_dropped_and_reported() -> None:
    body, adjusted = wire_body(
        chat(
            logit_bias={"50256": -100},
            store=True,
            service_tier="auto",
            unknown_null=None,
            user="user-1",
            metadata={"team": "a"},
            stream_options={"include_usage": True},
        )
    )
    assert body == {"contents": [USER]}
    assert adjusted == [
        "logit_bias=dropped",
        "store=dropped",
        "service_tier=dropped",
        "user=dropped",
        "metadata=dropped",
    ]


def test_top_k_from_other_frontends_becomes_topk() -> None:
    body, adjusted = wire_body(chat(top_k=40))
    assert body == {"contents": [USER], "generationConfig": {"topK": 40}} and adjusted == []


def test_gemini_3_calls_without_a_signature_get_the_documented_placeholder() -> None:
    history = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "noon"},
    ]
    body, _ = wire_body(chat(history))
    calls = body["contents"][1]["parts"]
    assert calls[0]["thoughtSignature"] == "skip_thought_signature_validator"
    assert "thoughtSignature" not in calls[1]  # parallel calls carry one signature, on the first
    older, _ = wire_body(chat(history), profile=ModelProfile(thinking="budget"))
    assert "thoughtSignature" not in older["contents"][1]["parts"][0]


def test_everything_at_once_validates_with_the_sdk() -> None:
    body, adjusted = wire_body(
        chat(
            [
                {"role": "developer", "content": "JSON only."},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Plan a trip"}, image(f"data:image/png;base64,{PNG}")],
                },
            ],
            tools=[WEATHER_TOOL],
            tool_choice="required",
            temperature=1.0,
            top_p=0.95,
            max_tokens=2048,
            seed=7,
            stop=["DONE"],
            n=2,
            presence_penalty=0.1,
            reasoning_effort="medium",
            logprobs=True,
            top_logprobs=2,
            response_format={"type": "json_object"},
            cachedContent="cachedContents/xyz",
        ),
        ModelProfile(thinking="budget", multiple_candidates=True, safety_settings=SAFETY),
    )
    assert body == {
        "contents": [
            {"role": "user", "parts": [{"text": "Plan a trip"}, {"inlineData": {"mimeType": "image/png", "data": PNG}}]}
        ],
        "systemInstruction": {"parts": [{"text": "JSON only."}]},
        "tools": [
            {
                "functionDeclarations": [
                    {"name": "get_weather", "description": "Weather for a city", "parametersJsonSchema": WEATHER_PARAMS}
                ]
            }
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
        "safetySettings": [dict(setting) for setting in SAFETY],
        "generationConfig": {
            "temperature": 1.0,
            "topP": 0.95,
            "seed": 7,
            "maxOutputTokens": 2048,
            "stopSequences": ["DONE"],
            "candidateCount": 2,
            "responseLogprobs": True,
            "logprobs": 2,
            "responseMimeType": "application/json",
            "thinkingConfig": {"thinkingBudget": 8192, "includeThoughts": True},
        },
        "cachedContent": "cachedContents/xyz",
    }
    assert adjusted == ["presence_penalty=dropped"]
    assert_sdk_accepts(body)
