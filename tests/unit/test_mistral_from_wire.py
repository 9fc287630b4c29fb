"""Golden tests of Mistral chat completions → canonical → OpenAI (providers/mistral/translate.py
`from_wire`/`normalize`). Mistral bodies are checked against the `mistralai`
SDK's response model, the encoded answers against the `openai` SDK's `ChatCompletion`."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from mistralai.client.models import ChatCompletionResponse as MistralResponse
from openai.types.chat import ChatCompletion

from babelgate.errors import UpstreamError
from babelgate.providers.mistral.translate import from_wire, mistral_tool_id, normalize
from babelgate.providers.openai.translate import response_to_wire

JSON = dict[str, Any]
NINE = re.compile(r"^[a-zA-Z0-9]{9}$")
USAGE = {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42}


def mistral_body(message: JSON, finish_reason: str = "stop", **extra: Any) -> JSON:
    body = {
        "id": "cmpl-e5cc70bb28c444948073e77776eb30ef",
        "object": "chat.completion",
        "model": "mistral-small-latest",
        "created": 1702256327,
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish_reason}],
        "usage": USAGE,
        **extra,
    }
    MistralResponse.model_validate(body)  # the fixture is a body Mistral's own SDK reads
    return body


def openai_answer(body: JSON) -> JSON:
    encoded = response_to_wire(from_wire(copy.deepcopy(body)))
    ChatCompletion.model_validate(encoded)
    return encoded


def expected(message: JSON, finish_reason: str, usage: JSON | None = None) -> JSON:
    return {
        "id": "cmpl-e5cc70bb28c444948073e77776eb30ef",
        "object": "chat.completion",
        "created": 1702256327,
        "model": "mistral-small-latest",
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish_reason, "logprobs": None}
        ],
        "usage": usage or USAGE,
    }


def test_null_tool_calls_give_no_tool_calls() -> None:
    body = mistral_body({"content": "Bonjour !", "tool_calls": None, "prefix": False})
    answer = openai_answer(body)
    message = answer["choices"][0]["message"]
    assert "tool_calls" not in message
    assert (message["role"], message["content"]) == ("assistant", "Bonjour !")
    assert answer["choices"][0]["finish_reason"] == "stop"


def test_string_content_exact() -> None:
    answer = openai_answer(mistral_body({"content": "Bonjour !"}))
    assert answer == expected({"content": "Bonjour !"}, "stop")


def test_content_chunks_split_into_content_and_reasoning() -> None:
    body = mistral_body(
        {
            "content": [
                {
                    "type": "thinking",
                    "thinking": [
                        {"type": "text", "text": "The user greets; "},
                        {"type": "text", "text": "answer briefly."},
                    ],
                },
                {"type": "text", "text": "Hello"},
                {"type": "text", "text": " there."},
            ]
        }
    )
    assert openai_answer(body) == expected(
        {"content": "Hello there.", "reasoning_content": "The user greets; answer briefly."}, "stop"
    )


def test_content_chunks_without_text() -> None:
    body = mistral_body({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]}]}, "length")
    assert openai_answer(body) == expected({"content": None, "reasoning_content": "hmm"}, "length")


def test_tool_calls_with_object_and_string_arguments() -> None:
    body = mistral_body(
        {
            "content": "",
            "tool_calls": [
                {
                    "id": "D681PevKs",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}},
                },
                {"id": "a1B2c3D4e", "type": "function", "function": {"name": "get_time", "arguments": '{"tz":"CET"}'}},
            ],
        },
        "tool_calls",
    )
    assert openai_answer(body) == expected(
        {
            "content": "",
            "tool_calls": [
                {
                    "id": "D681PevKs",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris","days":2}'},
                },
                {"id": "a1B2c3D4e", "type": "function", "function": {"name": "get_time", "arguments": '{"tz":"CET"}'}},
            ],
        },
        "tool_calls",
    )


@pytest.mark.parametrize("missing", ["null", None, "", "absent"])
def test_missing_ids_are_minted(missing: str | None) -> None:
    call: JSON = {"function": {"name": "f", "arguments": {}}}
    second: JSON = {"function": {"name": "g", "arguments": "{}"}}
    if missing != "absent":
        call["id"] = missing
        second["id"] = missing
    body = mistral_body({"content": None, "tool_calls": [call, second]}, "tool_calls")
    body["choices"][0]["message"]["tool_calls"] = [call, second]  # the SDK fixture check defaults these
    answer = openai_answer(body)
    calls = answer["choices"][0]["message"]["tool_calls"]
    first_id = mistral_tool_id("cmpl-e5cc70bb28c444948073e77776eb30ef:0:0")
    second_id = mistral_tool_id("cmpl-e5cc70bb28c444948073e77776eb30ef:0:1")
    assert calls == [
        {"id": first_id, "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": second_id, "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
    assert NINE.fullmatch(first_id) and NINE.fullmatch(second_id) and first_id != second_id
    assert openai_answer(body) == answer  # deterministic


@pytest.mark.parametrize(
    ("mistral", "openai"),
    [("stop", "stop"), ("length", "length"), ("model_length", "length"), ("tool_calls", "tool_calls")],
)
def test_finish_reasons(mistral: str, openai: str) -> None:
    assert openai_answer(mistral_body({"content": "x"}, mistral)) == expected({"content": "x"}, openai)


def test_finish_reason_error_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError) as caught:
        from_wire(mistral_body({"content": "partial"}, "error"))
    error = caught.value
    assert type(error) is UpstreamError
    assert error.status == 502
    assert error.raw_message == "Mistral ended the answer with finish_reason 'error'."


def test_usage_without_details() -> None:
    response = from_wire(mistral_body({"content": "x"}))
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens, response.usage.total_tokens) == (12, 30, 42)
    assert response.usage.cached_tokens is None and response.usage.reasoning_tokens is None


def test_usage_with_audio_seconds_and_no_total() -> None:
    body = mistral_body({"content": "x"})
    body["usage"] = {"prompt_tokens": 3, "completion_tokens": 4, "prompt_audio_seconds": 7}
    answer = openai_answer(body)
    assert answer["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


def test_normalize_stream_delta() -> None:
    chunk = {
        "id": "c",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "content": [
                        {"type": "thinking", "thinking": [{"type": "text", "text": "r"}]},
                        {"type": "text", "text": "t"},
                    ],
                    "tool_calls": [{"id": "null", "function": {"name": "f", "arguments": {"a": [1, 2]}}, "index": 0}],
                },
                "finish_reason": "model_length",
            }
        ],
    }
    assert normalize(chunk, stream=True) == {
        "id": "c",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "content": "t",
                    "reasoning_content": "r",
                    "tool_calls": [{"function": {"name": "f", "arguments": '{"a":[1,2]}'}, "index": 0}],
                },
                "finish_reason": "length",
            }
        ],
    }


def test_mistrals_prefix_flag_does_not_reach_the_client() -> None:
    from babelgate.providers.mistral.translate import from_wire as mistral_from_wire

    body = {
        "id": "a",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi", "prefix": False, "tool_calls": None},
                "finish_reason": "stop",
            }
        ],
    }
    assert "prefix" not in mistral_from_wire(body).choices[0].message.extra
