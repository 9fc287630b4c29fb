"""The Gemini frontend's reading of snake_case field names (frontends/gemini/field_names.py): the request's
messages renamed to camelCase, the caller's own data left as it came."""

from __future__ import annotations

from typing import Any

import orjson

from babelgate.frontends.gemini.field_names import (
    _ANY_SNAKE,
    CAMEL,
    COUNT_TOKENS_REQUEST,
    GENERATE_CONTENT_REQUEST,
    camel_case,
)


def _camel(body: dict[str, Any], message: dict[str, Any] = GENERATE_CONTENT_REQUEST) -> dict[str, Any]:
    camel_case(body, message, raw=orjson.dumps(body))
    return body


def test_messages_are_renamed_and_user_data_is_not() -> None:
    body = _camel(
        {
            "system_instruction": {"parts": [{"text": "Be brief."}]},
            "contents": [
                {"role": "model", "parts": [{"function_call": {"name": "f", "args": {"city_name": "Paris"}}}]},
                {"parts": [{"function_response": {"name": "f", "response": {"max_temp": 21}}}]},
                {"parts": [{"inline_data": {"mime_type": "image/png", "data": "x"}, "part_metadata": {"a_b": 1}}]},
            ],
            "tools": [
                {
                    "function_declarations": [
                        {
                            "name": "f",
                            "parameters": {
                                "type": "OBJECT",
                                "properties": {"city_name": {"type": "STRING", "max_length": 9}},
                                "any_of": [{"min_items": 1}],
                                "items": {"max_length": 2},
                            },
                            "parameters_json_schema": {"properties": {"zip_code": {"max_length": 5}}},
                        }
                    ]
                }
            ],
            "generation_config": {"top_k": 3, "response_json_schema": {"properties": {"a_b": {}}}},
            "labels": {"team_name": "x"},
        }
    )
    assert body == {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"city_name": "Paris"}}}]},
            {"parts": [{"functionResponse": {"name": "f", "response": {"max_temp": 21}}}]},
            {"parts": [{"inlineData": {"mimeType": "image/png", "data": "x"}, "partMetadata": {"a_b": 1}}]},
        ],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "f",
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {"city_name": {"type": "STRING", "maxLength": 9}},
                            "anyOf": [{"minItems": 1}],
                            "items": {"maxLength": 2},
                        },
                        "parametersJsonSchema": {"properties": {"zip_code": {"max_length": 5}}},
                    }
                ]
            }
        ],
        "generationConfig": {"topK": 3, "responseJsonSchema": {"properties": {"a_b": {}}}},
        "labels": {"team_name": "x"},
    }


def test_the_order_is_kept_and_camel_case_wins_over_its_twin() -> None:
    body = _camel({"contents": [], "generation_config": {"top_p": 0.5, "temperature": 1, "topK": 2, "top_k": 3}})
    assert list(body) == ["contents", "generationConfig"]
    assert list(body["generationConfig"].items()) == [("topP", 0.5), ("temperature", 1), ("topK", 2), ("top_k", 3)]


def test_unknown_snake_case_fields_stay_as_they_are() -> None:
    assert _camel({"contents": [], "some_new_field": {"inner_key": 1}}) == {
        "contents": [],
        "some_new_field": {"inner_key": 1},
    }


def test_one_content_where_a_list_goes_and_the_count_tokens_wrapper() -> None:
    assert _camel({"contents": {"parts": [{"file_data": {"file_uri": "gs://b/f"}}]}}) == {
        "contents": {"parts": [{"fileData": {"fileUri": "gs://b/f"}}]}
    }
    wrapped = _camel(
        {"generate_content_request": {"generation_config": {"max_output_tokens": 9}}}, COUNT_TOKENS_REQUEST
    )
    assert wrapped == {"generateContentRequest": {"generationConfig": {"maxOutputTokens": 9}}}


def test_a_camel_case_body_is_left_alone_without_a_walk() -> None:
    body = {"contents": [{"parts": [{"text": 'say "max_length": 3'}]}], "generationConfig": {"topK": 1}}
    before = orjson.dumps(body)
    assert _camel(body) == orjson.loads(before)


def test_every_camel_case_name_has_its_snake_case_twin() -> None:
    assert CAMEL["parameters_json_schema"] == "parametersJsonSchema"
    assert CAMEL["generate_content_request"] == "generateContentRequest"
    assert all("_" in snake and "_" not in camel for snake, camel in CAMEL.items())


def test_the_byte_search_finds_each_known_name_as_a_key_and_nothing_else() -> None:
    for snake in CAMEL:
        assert _ANY_SNAKE.fullmatch(f'"{snake}" :'.encode()), snake
        assert not _ANY_SNAKE.search(f'{{"{snake}x": 1, "x": "{snake}"}}'.encode()), snake
