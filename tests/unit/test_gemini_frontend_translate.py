"""Gemini API → chat (frontends/gemini/translate*.py), golden: a generateContent body in → the exact chat
request out (written as a chat body by the OpenAI codec, which chat validation accepts and reads back as the
same request), each rule on its own; and a canonical answer in → a
GenerateContentResponse the google-genai SDK's own type accepts; errors in Google's shape."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from google.genai import types as gt

from babelgate.errors import GatewayError, InvalidRequest, ModelNotFound, UpstreamRateLimited
from babelgate.frontends.gemini import wire
from babelgate.frontends.gemini.translate import (
    budget_effort,
    decode_request,
    encode_error,
    encode_response,
    model_object,
    usage_to_wire,
)
from babelgate.frontends.gemini.translate_contents import minted_id
from babelgate.frontends.gemini.translate_schema import json_schema
from babelgate.frontends.responses.reasoning import ReasoningSeal, ReasoningState
from babelgate.schema.chat import AssistantMessage, ChatResponse, Choice, ToolCall, Usage
from babelgate.schema.models import ModelInfo
from babelgate.sealing import Sealer
from tests.chat_wire import written

MODEL = "openai/gpt-4o-mini"
HI: Any = [{"role": "user", "parts": [{"text": "Hi"}]}]


def _decode(body: dict[str, Any], opener: Any = None) -> tuple[dict[str, Any], list[str]]:
    adjusted: list[str] = []
    return written(decode_request(body, MODEL, adjusted=adjusted, opener=opener)), adjusted


# -- contents and roles --------------------------------------------------------------------------


def test_contents_roles_and_system_instruction() -> None:
    chat, adjusted = _decode(
        {
            "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Hi"}, {"text": " there"}]},
                {"role": "model", "parts": [{"text": "Bonjour"}]},
                {"parts": [{"text": "Again"}]},  # no role: the user's
            ],
        }
    )
    assert chat == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "Be brief.\nAnswer in French."},
            {"role": "user", "content": "Hi there"},
            {"role": "assistant", "content": "Bonjour"},
            {"role": "user", "content": "Again"},
        ],
    }
    assert adjusted == []


def test_a_single_content_and_a_string_system_instruction() -> None:
    chat, _ = _decode({"systemInstruction": "Short.", "contents": {"role": "user", "parts": [{"text": "Hi"}]}})
    assert chat["messages"] == [{"role": "system", "content": "Short."}, {"role": "user", "content": "Hi"}]


def test_unknown_role_is_a_400() -> None:
    with pytest.raises(InvalidRequest) as caught:
        _decode({"contents": [{"role": "system", "parts": [{"text": "x"}]}]})
    assert caught.value.param == "contents[0].role"


def test_system_instruction_parts_of_the_wrong_type_are_a_400_and_one_part_is_taken_as_a_list() -> None:
    user = [{"role": "user", "parts": [{"text": "Hi"}]}]
    with pytest.raises(InvalidRequest) as caught:
        _decode({"systemInstruction": {"parts": 5}, "contents": user})
    assert caught.value.param == "systemInstruction.parts"
    chat, _ = _decode({"systemInstruction": {"parts": {"text": "Be brief."}}, "contents": user})
    assert chat["messages"][0] == {"role": "system", "content": "Be brief."}
    chat, _ = _decode({"systemInstruction": {"parts": [{"text": "A"}, {"text": "B"}]}, "contents": user})
    assert chat["messages"][0] == {"role": "system", "content": "A\nB"}


def test_missing_contents_is_a_400() -> None:
    with pytest.raises(InvalidRequest) as caught:
        _decode({})
    assert caught.value.param == "contents"


# -- media -----------------------------------------------------------------------------------------


def test_inline_and_file_data() -> None:
    chat, _ = _decode(
        {
            "contents": [
                {
                    "role": "user",
                    "parts": [
                        {"text": "What is this?"},
                        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                        {"inlineData": {"mimeType": "audio/mpeg", "data": "SUQz"}},
                        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
                        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}},
                        {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://bucket/doc.pdf"}},
                    ],
                }
            ]
        }
    )
    assert chat["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "input_audio", "input_audio": {"data": "SUQz", "format": "mp3"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "file", "file": {"file_id": "gs://bucket/doc.pdf"}},
    ]


def test_parts_only_gemini_runs_are_dropped_and_listed() -> None:
    chat, adjusted = _decode(
        {
            "contents": [
                *HI,
                {
                    "role": "model",
                    "parts": [
                        {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
                        {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1"}},
                        {"text": "It printed 1."},
                    ],
                },
            ]
        }
    )
    assert chat["messages"][1] == {"role": "assistant", "content": "It printed 1."}
    assert adjusted == [
        "contents[1].parts[0].executableCode=dropped",
        "contents[1].parts[1].codeExecutionResult=dropped",
    ]


# -- function calling ----------------------------------------------------------------------------


def test_function_declarations_in_both_schema_spellings() -> None:
    chat, _ = _decode(
        {
            "contents": HI,
            "tools": [
                {
                    "functionDeclarations": [
                        {
                            "name": "get_weather",
                            "description": "Weather for a city",
                            "parameters": {
                                "type": "OBJECT",
                                "properties": {
                                    "city": {"type": "STRING", "description": "the city"},
                                    "days": {"type": "INTEGER", "nullable": True},
                                    "units": {"type": "STRING", "enum": ["C", "F"]},
                                    "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
                                },
                                "required": ["city"],
                                "propertyOrdering": ["city", "days"],
                            },
                        },
                        {"name": "now"},
                    ]
                },
                {
                    "functionDeclarations": [
                        {
                            "name": "search",
                            "parametersJsonSchema": {
                                "type": "object",
                                "properties": {"q": {"type": "string"}},
                                "additionalProperties": False,
                            },
                        }
                    ]
                },
            ],
        }
    )
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string", "description": "the city"},
                        "days": {"type": ["integer", "null"]},
                        "units": {"type": "string", "enum": ["C", "F"]},
                        "tags": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["city"],
                },
            },
        },
        {"type": "function", "function": {"name": "now"}},
        {
            "type": "function",
            "function": {
                "name": "search",
                "parameters": {
                    "type": "object",
                    "properties": {"q": {"type": "string"}},
                    "additionalProperties": False,
                },
            },
        },
    ]


def test_schema_subset_nullable_anyof_and_enum() -> None:
    assert json_schema({"anyOf": [{"type": "STRING"}], "nullable": True}, "p") == {
        "anyOf": [{"type": "string"}, {"type": "null"}]
    }
    assert json_schema({"type": "STRING", "enum": ["a"], "nullable": True}, "p") == {
        "type": ["string", "null"],
        "enum": ["a", None],
    }
    assert json_schema({"type": "TYPE_UNSPECIFIED", "description": "any"}, "p") == {"description": "any"}


def test_a_schema_seen_before_converts_to_the_same_objects_of_its_own() -> None:
    """A conversation's tools come with every turn: the second conversion of a schema is the kept one, the
    same as converting it again, in objects of the caller's own (a translator may change what it gets); a wrong
    schema is refused each time, naming its place, and never kept."""
    from babelgate.frontends.gemini import translate_schema

    schema = {
        "type": "OBJECT",
        "properties": {"city": {"type": "STRING", "nullable": True}, "days": {"type": "INTEGER", "minimum": 1}},
        "required": ["city"],
        "propertyOrdering": ["city", "days"],
    }
    expected = {
        "type": "object",
        "properties": {"city": {"type": ["string", "null"]}, "days": {"type": "integer", "minimum": 1}},
        "required": ["city"],
    }
    translate_schema._CONVERTED.clear()
    first = json_schema(schema, "p")
    assert first == expected and len(translate_schema._CONVERTED) == 1
    first["properties"]["city"]["type"] = "changed by a translator"
    second = json_schema(schema, "p")
    assert second == expected and second is not first and second["properties"] is not first["properties"]
    assert json_schema(dict(schema), "p") == expected  # an equal schema, another object: found by its JSON
    wrong = {"type": "OBJECT", "properties": {"city": {"type": 5}}}
    for _ in range(2):
        with pytest.raises(InvalidRequest) as caught:
            json_schema(wrong, "tools[0].parameters")
        assert caught.value.param == "tools[0].parameters.properties.city.type"
    assert len(translate_schema._CONVERTED) == 1


def test_the_kept_schemas_are_bounded() -> None:
    from babelgate.frontends.gemini import translate_schema

    translate_schema._CONVERTED.clear()
    for index in range(translate_schema._CACHED_SCHEMAS + 3):
        assert json_schema({"type": "STRING", "description": f"d{index}"}, "p") == {
            "type": "string",
            "description": f"d{index}",
        }
    assert len(translate_schema._CONVERTED) <= translate_schema._CACHED_SCHEMAS
    large = {"type": "STRING", "description": "x" * translate_schema._CACHED_BYTES}
    before = len(translate_schema._CONVERTED)
    assert json_schema(large, "p") == {"type": "string", "description": "x" * translate_schema._CACHED_BYTES}
    assert len(translate_schema._CONVERTED) == before  # too large to keep: converted each time


@pytest.mark.parametrize(
    ("config", "choice"),
    [
        ({"mode": "AUTO"}, "auto"),
        ({"mode": "NONE"}, "none"),
        ({"mode": "ANY"}, "required"),
        ({"mode": "ANY", "allowedFunctionNames": ["f"]}, {"type": "function", "function": {"name": "f"}}),
        (
            {"mode": "ANY", "allowedFunctionNames": ["f", "g"]},
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [
                        {"type": "function", "function": {"name": "f"}},
                        {"type": "function", "function": {"name": "g"}},
                    ],
                },
            },
        ),
    ],
)
def test_function_calling_modes(config: dict[str, Any], choice: Any) -> None:
    tools = [{"functionDeclarations": [{"name": "f"}, {"name": "g"}]}]
    chat, _ = _decode({"contents": HI, "tools": tools, "toolConfig": {"functionCallingConfig": config}})
    assert chat["tool_choice"] == choice


def test_validated_mode_is_approximated_as_auto() -> None:
    chat, adjusted = _decode(
        {
            "contents": HI,
            "tools": [{"functionDeclarations": [{"name": "f"}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "VALIDATED"}, "retrievalConfig": {"languageCode": "en"}},
        }
    )
    assert chat["tool_choice"] == "auto"
    assert adjusted == ["toolConfig.retrievalConfig=dropped", "toolConfig.functionCallingConfig.mode=approximated:AUTO"]


def test_function_calls_and_responses_with_ids() -> None:
    chat, _ = _decode(
        {
            "contents": [
                *HI,
                {
                    "role": "model",
                    "parts": [
                        {"text": "Let me look."},
                        {"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}},
                        {"functionCall": {"id": "call_2", "name": "get_weather", "args": {"city": "Rome"}}},
                    ],
                },
                {
                    "role": "user",
                    "parts": [
                        {"functionResponse": {"id": "call_2", "name": "get_weather", "response": {"output": "rain"}}},
                        {"functionResponse": {"id": "call_1", "name": "get_weather", "response": {"temp": 21}}},
                        {"text": "And tomorrow?"},
                    ],
                },
            ]
        }
    )
    assert chat["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_2", "content": "rain"},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp":21}'},
        {"role": "user", "content": "And tomorrow?"},
    ]


def test_calls_without_ids_get_made_up_ones_their_responses_find_by_name() -> None:
    chat, _ = _decode(
        {
            "contents": [
                *HI,
                {
                    "role": "model",
                    "parts": [
                        {"functionCall": {"name": "a", "args": {}}},
                        {"functionCall": {"name": "b"}},
                        {"functionCall": {"name": "a", "args": {"n": 2}}},
                    ],
                },
                {
                    "role": "user",
                    "parts": [
                        {"functionResponse": {"name": "a", "response": {"result": "first"}}},
                        {"functionResponse": {"name": "b", "response": {}}},
                        {"functionResponse": {"name": "a", "response": {"result": "second"}}},
                    ],
                },
            ]
        }
    )
    ids = [call["id"] for call in chat["messages"][1]["tool_calls"]]
    assert ids == [minted_id(1, 0, "a"), minted_id(1, 1, "b"), minted_id(1, 2, "a")]
    assert ids[0].startswith("call_bg") and len(set(ids)) == 3
    assert [(m["tool_call_id"], m["content"]) for m in chat["messages"][2:]] == [
        (ids[0], "first"),
        (ids[1], "{}"),
        (ids[2], "second"),
    ]


def test_a_response_to_no_call_is_a_400() -> None:
    with pytest.raises(InvalidRequest) as caught:
        _decode({"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "a", "response": {}}}]}]})
    assert caught.value.param == "contents[0].parts[0].functionResponse.name"


# -- thought signatures --------------------------------------------------------------------------


SEALER = Sealer(b"k" * 32, purpose=b"test")


def test_a_sealed_signature_opens_into_the_reasoning_state() -> None:
    seal = ReasoningSeal(SEALER, "anthropic")
    details = [{"type": "reasoning.text", "text": "Hmm.", "signature": "EqSig==", "format": "anthropic-claude-v1"}]
    signature = wire.signature_of(seal.seal("Hmm.", details))
    chat, adjusted = _decode(
        {
            "contents": [
                *HI,
                {
                    "role": "model",
                    "parts": [
                        {"text": "Hmm.", "thought": True, "thoughtSignature": signature},
                        {"functionCall": {"id": "t1", "name": "f", "args": {}}},
                    ],
                },
                {"role": "user", "parts": [{"functionResponse": {"id": "t1", "name": "f", "response": {}}}]},
            ]
        },
        opener=seal.open,
    )
    assert chat["messages"][1]["reasoning_content"] == "Hmm."
    assert chat["messages"][1]["reasoning_details"] == details
    assert adjusted == []


def test_a_signature_for_another_provider_or_from_gemini_is_dropped_and_listed() -> None:
    other = ReasoningSeal(SEALER, "other")
    token = wire.signature_of(other.seal("x", []))
    _, adjusted = _decode(
        {
            "contents": [
                *HI,
                {
                    "role": "model",
                    "parts": [{"text": "a", "thoughtSignature": token}, {"text": "b", "thoughtSignature": "CiQB"}],
                },
            ]
        },
        opener=ReasoningSeal(SEALER, "anthropic").open,
    )
    assert adjusted == [
        "contents[1].parts[0].thoughtSignature=dropped",
        "contents[1].parts[1].thoughtSignature=dropped",
    ]


def test_a_sealed_token_is_valid_base64_for_the_sdk() -> None:
    signature = wire.signature_of(ReasoningSeal(SEALER, "p").seal("t", []))
    part = gt.Part.model_validate({"text": "", "thoughtSignature": signature})
    assert part.thought_signature is not None and part.thought_signature.startswith(b"bg1.")
    assert wire.token_of(signature) == part.thought_signature.decode()
    assert wire.token_of("CiQBVKhc") is None


# -- generation config ---------------------------------------------------------------------------


def test_generation_config() -> None:
    chat, adjusted = _decode(
        {
            "contents": HI,
            "generationConfig": {
                "temperature": 0.4,
                "topP": 0.9,
                "topK": 40,
                "maxOutputTokens": 256,
                "stopSequences": ["END"],
                "candidateCount": 1,
                "presencePenalty": 0.1,
                "frequencyPenalty": 0.2,
                "seed": 7,
                "responseLogprobs": True,
                "logprobs": 3,
                "mediaResolution": "MEDIA_RESOLUTION_LOW",
            },
        }
    )
    assert chat == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hi"}],
        "temperature": 0.4,
        "top_p": 0.9,
        "max_tokens": 256,
        "n": 1,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
        "seed": 7,
        "top_k": 40,
        "stop": ["END"],
        "logprobs": True,
        "top_logprobs": 3,
    }
    assert adjusted == ["generationConfig.mediaResolution=dropped"]


def test_structured_output_in_each_spelling() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    by_json_schema, _ = _decode(
        {"contents": HI, "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema}}
    )
    by_subset, _ = _decode(
        {
            "contents": HI,
            "generationConfig": {
                "responseMimeType": "application/json",
                "responseSchema": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}},
            },
        }
    )
    plain_json, _ = _decode({"contents": HI, "generationConfig": {"responseMimeType": "application/json"}})
    expected = {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
    assert by_json_schema["response_format"] == expected == by_subset["response_format"]
    assert plain_json["response_format"] == {"type": "json_object"}


def test_enum_answers_are_approximated_as_json() -> None:
    chat, adjusted = _decode(
        {
            "contents": HI,
            "generationConfig": {
                "responseMimeType": "text/x.enum",
                "responseSchema": {"type": "STRING", "enum": ["a", "b"]},
            },
        }
    )
    assert chat["response_format"]["json_schema"]["schema"] == {
        "type": "object",
        "properties": {"value": {"type": "string", "enum": ["a", "b"]}},
        "required": ["value"],
    }
    assert adjusted == ["generationConfig.responseMimeType=approximated:application/json"]


def test_image_or_audio_answers_are_a_400() -> None:
    with pytest.raises(InvalidRequest) as caught:
        _decode({"contents": HI, "generationConfig": {"responseModalities": ["TEXT", "IMAGE"]}})
    assert caught.value.param == "generationConfig.responseModalities"
    chat, _ = _decode({"contents": HI, "generationConfig": {"responseModalities": ["TEXT"]}})
    assert "responseModalities" not in chat


@pytest.mark.parametrize(
    ("thinking", "effort"),
    [
        ({"thinkingLevel": "LOW"}, "low"),
        ({"thinkingLevel": "high"}, "high"),
        ({"thinkingBudget": 0}, "none"),
        ({"thinkingBudget": -1}, None),
        ({"thinkingBudget": 1024}, "low"),
        ({"thinkingBudget": 4000}, "medium"),
        ({"thinkingBudget": 100_000}, "xhigh"),
        ({"includeThoughts": True}, None),
    ],
)
def test_thinking_config_is_reasoning_effort(thinking: dict[str, Any], effort: str | None) -> None:
    chat, _ = _decode({"contents": HI, "generationConfig": {"thinkingConfig": thinking}})
    assert chat.get("reasoning_effort") == effort


def test_budget_effort_table() -> None:
    assert [budget_effort(n) for n in (0, 1, 512, 513, 8192, 8193, 16384, 24576)] == [
        "none",
        "minimal",
        "minimal",
        "low",
        "medium",
        "high",
        "high",
        "xhigh",
    ]


# -- Gemini-only request fields ------------------------------------------------------------------


def test_safety_settings_and_unknown_fields_are_dropped_and_listed() -> None:
    chat, adjusted = _decode(
        {
            "contents": HI,
            "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
            "labels": {"team": "a"},
        }
    )
    assert set(chat) == {"model", "messages"}
    assert adjusted == ["safetySettings=dropped", "labels=dropped"]


def test_cached_content_is_a_400() -> None:
    with pytest.raises(InvalidRequest) as caught:
        _decode({"contents": HI, "cachedContent": "cachedContents/abc"})
    assert caught.value.param == "cachedContent"


def test_google_only_tools_become_hosted_tools() -> None:
    chat, adjusted = _decode(
        {
            "contents": HI,
            "tools": [
                {"googleSearch": {}},
                {"codeExecution": {}},
                {"urlContext": {}},
                {"googleSearchRetrieval": {}},
                {"retrieval": {"vertexAiSearch": {}}},
            ],
        }
    )
    assert chat["tools"] == [
        {"type": "web_search"},
        {"type": "code_interpreter"},
        {"type": "url_context"},
        {"type": "web_search"},
    ]
    assert adjusted == ["tools[4].retrieval=dropped"]


# -- answers -------------------------------------------------------------------------------------


def _response(message: AssistantMessage, finish: Any = "stop", usage: Usage | None = None) -> ChatResponse:
    return ChatResponse(
        id="resp-1", created=1, model="m", choices=[Choice(index=0, message=message, finish_reason=finish)], usage=usage
    )


def test_answer_with_thoughts_text_and_calls() -> None:
    response = _response(
        AssistantMessage(
            content="Let me check.",
            reasoning_content="Thinking.",
            tool_calls=[ToolCall("call_1", "get_weather", '{"city":"Paris"}')],
        ),
        "tool_calls",
        Usage(prompt_tokens=10, completion_tokens=7, total_tokens=17, cached_tokens=4, reasoning_tokens=3),
    )
    answer = encode_response(response, model=MODEL, seal=None)
    assert answer == {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Thinking.", "thought": True},
                        {"text": "Let me check."},
                        {"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}},
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 4,
            "totalTokenCount": 17,
            "thoughtsTokenCount": 3,
            "cachedContentTokenCount": 4,
        },
        "modelVersion": MODEL,
        "responseId": "resp-1",
    }
    gt.GenerateContentResponse.model_validate(answer)


def test_the_reasoning_state_is_sealed_into_the_first_part() -> None:
    details = [{"type": "reasoning.text", "text": "T", "signature": "S", "format": "anthropic-claude-v1"}]
    seal = ReasoningSeal(SEALER, "anthropic")
    response = _response(AssistantMessage(content="Hi", reasoning_content="T", extra={"reasoning_details": details}))
    parts = encode_response(response, model=MODEL, seal=seal)["candidates"][0]["content"]["parts"]
    token = wire.token_of(parts[0]["thoughtSignature"])
    assert token is not None and seal.open(token) == ReasoningState("T", details)
    assert "thoughtSignature" not in parts[1]


def test_signed_tool_ids_give_their_signature_back() -> None:
    response = _response(AssistantMessage(tool_calls=[ToolCall("c1~sig~QUJD", "f", "{}")]), "tool_calls")
    parts = encode_response(response, model=MODEL, seal=None)["candidates"][0]["content"]["parts"]
    assert parts == [{"functionCall": {"id": "c1", "name": "f", "args": {}}, "thoughtSignature": "QUJD"}]


@pytest.mark.parametrize(
    ("finish", "reason"),
    [("stop", "STOP"), ("length", "MAX_TOKENS"), ("content_filter", "SAFETY"), ("tool_calls", "STOP"), (None, "STOP")],
)
def test_finish_reasons(finish: Any, reason: str) -> None:
    answer = encode_response(_response(AssistantMessage(content="x"), finish), model=MODEL, seal=None)
    assert answer["candidates"][0]["finishReason"] == reason


def test_no_usage_is_an_empty_usage_metadata() -> None:
    assert usage_to_wire(None) == {}


def test_model_object_is_a_gemini_model() -> None:
    listed = model_object(ModelInfo("openai/gpt-4o-mini", owned_by="openai"), {"context_window": 128000})
    assert listed == {
        "name": "models/openai/gpt-4o-mini",
        "baseModelId": "openai/gpt-4o-mini",
        "version": "001",
        "displayName": "openai/gpt-4o-mini",
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
        "inputTokenLimit": 128000,
    }
    embedding = model_object(ModelInfo("text-embedding-3-small", owned_by="openai"), {})
    assert embedding["supportedGenerationMethods"] == ["embedContent", "batchEmbedContents"]


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (InvalidRequest("missing_field", param="contents"), 400, "INVALID_ARGUMENT"),
        (ModelNotFound(model="x", providers="openai"), 404, "NOT_FOUND"),
        (UpstreamRateLimited(provider="openai"), 429, "RESOURCE_EXHAUSTED"),
        (GatewayError(), 500, "INTERNAL"),
    ],
)
def test_errors_in_google_shape(error: GatewayError, code: int, status: str) -> None:
    body = orjson.loads(encode_error(error, "en"))
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["status"] == status
    assert body["error"]["message"]


# The contents' paths are made only where an error or a dropped field names one (translate_contents.py): each is
# still exact.
@pytest.mark.parametrize(
    ("contents", "key", "param"),
    [
        ([{"role": "user", "parts": [{"text": "a"}, 5]}], "wrong_type", "contents[0].parts[1]"),
        ([{"role": "user", "parts": [{"text": 5}]}], "wrong_type", "contents[0].parts[0].text"),
        ([{"role": "user", "parts": "a"}], "wrong_type", "contents[0].parts"),
        ([{"role": "user"}], "missing_field", "contents[0].parts"),
        ([{"role": "user", "parts": [{"text": "a"}]}, "x"], "wrong_type", "contents[1]"),
        ([{"role": "robot", "parts": [{"text": "a"}]}], "invalid_value", "contents[0].role"),
        (
            [{"role": "user", "parts": [{"text": "a"}]}, {"role": "model", "parts": [{"text": 1}]}],
            "wrong_type",
            "contents[1].parts[0].text",
        ),
        (
            [{"role": "user", "parts": [{"text": "a"}]}, {"role": "model", "parts": [7]}],
            "wrong_type",
            "contents[1].parts[0]",
        ),
        (
            [{"role": "user", "parts": [{"text": "a"}]}, {"role": "model", "parts": [{"functionCall": {"args": {}}}]}],
            "missing_field",
            "contents[1].parts[0].functionCall.name",
        ),
        (
            [{"role": "user", "parts": [{"text": "a"}, {"inlineData": {"data": "x"}}]}],
            "missing_field",
            "contents[0].parts[1].inlineData.mimeType",
        ),
        (
            [{"role": "user", "parts": [{"text": "a"}, {"functionResponse": 5}]}],
            "wrong_type",
            "contents[0].parts[1].functionResponse",
        ),
        (
            [{"role": "user", "parts": [{"functionResponse": {"id": "c"}}]}],
            "missing_field",
            "contents[0].parts[0].functionResponse.name",
        ),
        (
            [
                {"role": "user", "parts": [{"text": "a"}]},
                {"role": "model", "parts": [{"text": "b"}, {"functionCall": []}]},
            ],
            "wrong_type",
            "contents[1].parts[1].functionCall",
        ),
        (
            [
                {"role": "user", "parts": [{"text": "a"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "f", "args": []}}]},
            ],
            "wrong_type",
            "contents[1].parts[0].functionCall.args",
        ),
    ],
)
def test_each_contents_error_names_its_exact_path(contents: list[Any], key: str, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        _decode({"contents": contents})
    assert (caught.value.message_key, caught.value.param) == (key, param)


def test_text_parts_read_as_before_with_thoughts_and_empty_text_left_out() -> None:
    body, _ = _decode(
        {
            "contents": [
                {"role": "user", "parts": [{"text": "a"}, {"text": ""}, {"text": "b", "thought": True}, {"text": "c"}]}
            ]
        }
    )
    assert body["messages"] == [{"role": "user", "content": "ac"}]


def test_a_model_s_method_is_what_follows_its_last_colon() -> None:
    """`{model}:method`: the model keeps its slashes and colons; a method is ASCII letters only."""
    from babelgate.frontends.gemini.wire import ROUTE_NAMES, split_method

    assert split_method("gemini-2.5-flash:generateContent") == ("gemini-2.5-flash", "generateContent")
    assert split_method("models/openai/gpt-4o-mini:streamGenerateContent") == (
        "models/openai/gpt-4o-mini",
        "streamGenerateContent",
    )
    assert split_method("ollama/qwen3:8b:countTokens") == ("ollama/qwen3:8b", "countTokens")
    for rest in ("gemini-2.5-flash", "m:", "m:gen2", "m:génère", "m:gen\n", "qwen3:8b"):
        assert split_method(rest) is None, rest
    assert ROUTE_NAMES["generateContent"] == "gemini.generateContent"
