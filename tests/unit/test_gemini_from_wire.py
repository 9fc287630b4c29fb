"""Golden tests of Gemini GenerateContentResponse → canonical response (providers/gemini/translate.py).

Each input is first parsed by the official SDK's `GenerateContentResponse` (unknown fields and
unknown enum values fail), so it has a shape the API really sends; each result is compared whole,
and encoded answers are validated by openai's `ChatCompletion`.
"""

from __future__ import annotations

import base64
import warnings
from typing import Any

import orjson
import pytest
from google.genai import types
from openai.types.chat import ChatCompletion

from babelgate import tool_ids
from babelgate.providers.gemini.translate import from_wire, minted_id
from babelgate.providers.gemini.wire import FINISH_REASONS, MINTED_ID_PREFIX
from babelgate.providers.openai.translate import response_to_wire
from babelgate.schema.chat import AssistantMessage, ChatResponse, Choice, ToolCall, Usage

JSON = dict[str, Any]
CREATED = 1_700_000_000
REQUESTED = "gemini-2.5-flash"
MODEL = "gemini-2.5-flash-preview-09-2025"  # what the API reports as modelVersion
RESPONSE_ID = "Yx9aaJ3nLsKMz7IPq5vF8Qc"
SIGNATURE = base64.b64encode(b"thought signature of call one").decode()
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n-image-bytes").decode()
USAGE = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}
USAGE_OUT = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15, cached_tokens=0, reasoning_tokens=0)
# Minted ids are a pure function of (responseId, candidate, position, name): pinned here.
MINTED_WEATHER_0 = "call_bgd754c9cc2527e95c55fc"  # (RESPONSE_ID, 0, 0, "get_weather")
MINTED_WEATHER_1 = "call_bg5c86f84435c2aa80735a"  # (RESPONSE_ID, 0, 1, "get_weather")
MINTED_WEATHER_CANDIDATE_1 = "call_bgd141bffc156e2b0e7bba"  # (RESPONSE_ID, 1, 0, "get_weather")


def sdk_checked(body: JSON) -> JSON:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the SDK only warns about unknown enum values
        types.GenerateContentResponse.model_validate_json(orjson.dumps(body))
    return body


def api_response(*candidates: JSON, usage: JSON | None = USAGE, **fields: Any) -> JSON:
    body: JSON = {"candidates": list(candidates), "modelVersion": MODEL, "responseId": RESPONSE_ID, **fields}
    if usage is not None:
        body["usageMetadata"] = usage
    return sdk_checked(body)


def candidate(*parts: JSON, finish: str | None = "STOP", index: int | None = 0) -> JSON:
    value: JSON = {"content": {"role": "model", "parts": list(parts)}}
    if finish is not None:
        value["finishReason"] = finish
    if index is not None:
        value["index"] = index
    return value


def translated(body: JSON) -> ChatResponse:
    return from_wire(body, created=CREATED, model=REQUESTED)


def response(message: AssistantMessage, finish: Any, usage: Usage | None = USAGE_OUT) -> ChatResponse:
    return ChatResponse(
        id=RESPONSE_ID,
        created=CREATED,
        model=MODEL,
        choices=[Choice(index=0, message=message, finish_reason=finish)],
        usage=usage,
    )


def encoded(result: ChatResponse) -> JSON:
    body = response_to_wire(result)
    ChatCompletion.model_validate(body)
    return body


# --- content -------------------------------------------------------------------------------------


def test_text() -> None:
    result = translated(api_response(candidate({"text": "Hello!"})))
    assert result == response(AssistantMessage(content="Hello!"), "stop")
    assert encoded(result) == {
        "id": RESPONSE_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!"},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def test_several_text_parts_are_concatenated() -> None:
    result = translated(api_response(candidate({"text": "Hello, "}, {"text": "world"}, {"text": ""}, {"text": "!"})))
    assert result.choices[0].message == AssistantMessage(content="Hello, world!")


def test_thought_parts_are_reasoning_content() -> None:
    result = translated(
        api_response(
            candidate(
                {"text": "**Planning** I should greet.", "thought": True},
                {"text": " Briefly.", "thought": True, "thoughtSignature": SIGNATURE},
                {"thought": True, "thoughtSignature": SIGNATURE},  # a signature-only thought part holds no text
                {"text": "Hi there."},
            ),
            usage={**USAGE, "thoughtsTokenCount": 40, "totalTokenCount": 55},
        )
    )
    assert result == response(
        AssistantMessage(content="Hi there.", reasoning_content="**Planning** I should greet. Briefly."),
        "stop",
        Usage(prompt_tokens=10, completion_tokens=45, total_tokens=55, cached_tokens=0, reasoning_tokens=40),
    )
    assert encoded(result)["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hi there.",
        "reasoning_content": "**Planning** I should greet. Briefly.",
    }


def test_only_thoughts_leave_content_none() -> None:
    result = translated(api_response(candidate({"text": "Hmm.", "thought": True}, finish="MAX_TOKENS")))
    assert result == response(AssistantMessage(content=None, reasoning_content="Hmm."), "length")


def test_function_calls_with_ids_carry_the_signature_in_the_tool_call_id() -> None:
    result = translated(
        api_response(
            candidate(
                {"text": "Checking both."},
                {
                    "functionCall": {"id": "fc_a1", "name": "get_weather", "args": {"city": "Paris", "days": [1, 2]}},
                    "thoughtSignature": SIGNATURE,
                },
                {"functionCall": {"id": "fc_b2", "name": "get_time"}},  # parallel calls: only the first is signed
            )
        )
    )
    signed = f"fc_a1~sig~{SIGNATURE}"
    assert signed == tool_ids.join("fc_a1", SIGNATURE)
    assert result == response(
        AssistantMessage(
            content="Checking both.",
            tool_calls=[
                ToolCall(id=signed, name="get_weather", arguments='{"city":"Paris","days":[1,2]}'),
                ToolCall(id="fc_b2", name="get_time", arguments="{}"),
            ],
        ),
        "tool_calls",
    )
    assert encoded(result)["choices"][0] == {
        "index": 0,
        "finish_reason": "tool_calls",
        "logprobs": None,
        "message": {
            "role": "assistant",
            "content": "Checking both.",
            "tool_calls": [
                {
                    "id": signed,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris","days":[1,2]}'},
                },
                {"id": "fc_b2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
            ],
        },
    }


def test_function_calls_without_ids_get_stable_minted_ids() -> None:
    body = api_response(
        candidate(
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}, "thoughtSignature": SIGNATURE},
        )
    )
    result = translated(body)
    assert result == response(
        AssistantMessage(
            content=None,
            tool_calls=[
                ToolCall(id=MINTED_WEATHER_0, name="get_weather", arguments='{"city":"Paris"}'),
                ToolCall(id=f"{MINTED_WEATHER_1}~sig~{SIGNATURE}", name="get_weather", arguments='{"city":"Rome"}'),
            ],
        ),
        "tool_calls",
    )
    assert translated(body) == result  # the same answer gives the same ids
    assert encoded(result)["choices"][0]["message"]["content"] is None


def test_minted_ids() -> None:
    assert minted_id(RESPONSE_ID, 0, 0, "get_weather") == MINTED_WEATHER_0
    assert minted_id(RESPONSE_ID, 0, 1, "get_weather") == MINTED_WEATHER_1
    assert minted_id(RESPONSE_ID, 1, 0, "get_weather") == MINTED_WEATHER_CANDIDATE_1
    # The response id, the candidate, the position and the name all count.
    others = {
        minted_id("another-response", 0, 0, "get_weather"),
        minted_id(RESPONSE_ID, 0, 0, "get_time"),
        minted_id("", 0, 0, "get_weather"),
    }
    assert len(others) == 3
    assert not others & {MINTED_WEATHER_0, MINTED_WEATHER_1, MINTED_WEATHER_CANDIDATE_1}
    for value in (*others, MINTED_WEATHER_0):
        assert value.startswith(MINTED_ID_PREFIX) and len(value) == len(MINTED_ID_PREFIX) + 20
        int(value.removeprefix(MINTED_ID_PREFIX), 16)


def test_images_become_message_images_as_data_urls() -> None:
    result = translated(
        api_response(
            candidate(
                {"text": "Here is your cat."},
                {"inlineData": {"mimeType": "image/png", "data": PNG}},
                {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}},
            )
        )
    )
    images = [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
    ]
    assert result == response(AssistantMessage(content="Here is your cat.", images=images), "stop")
    assert encoded(result)["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Here is your cat.",
        "images": images,
    }


def test_other_parts_are_kept_in_gemini_parts() -> None:
    code = {"executableCode": {"language": "PYTHON", "code": "print(2 + 2)"}}
    outcome = {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "4\n"}}
    audio = {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}
    result = translated(
        api_response(candidate({"text": "Let me compute."}, code, outcome, audio, {"text": "It is 4."}))
    )
    assert result == response(
        AssistantMessage(content="Let me compute.It is 4.", extra={"gemini_parts": [code, outcome, audio]}), "stop"
    )
    assert encoded(result)["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Let me compute.It is 4.",
        "gemini_parts": [code, outcome, audio],
    }


# --- finish reasons ------------------------------------------------------------------------------

EXPECTED_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "CONTINUATION": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "LANGUAGE": "stop",
    "OTHER": "stop",
    "MALFORMED_FUNCTION_CALL": "stop",
    "UNEXPECTED_TOOL_CALL": "stop",
    "TOO_MANY_TOOL_CALLS": "stop",
    "MISSING_THOUGHT_SIGNATURE": "stop",
    "NO_IMAGE": "stop",
    "IMAGE_OTHER": "stop",
    "FINISH_REASON_UNSPECIFIED": "stop",
}


def test_the_finish_table_is_the_documented_one_and_uses_sdk_names() -> None:
    assert dict(FINISH_REASONS) == EXPECTED_FINISH
    assert set(FINISH_REASONS) <= {reason.value for reason in types.FinishReason}


@pytest.mark.parametrize(("reason", "finish"), sorted(EXPECTED_FINISH.items()))
def test_every_finish_reason(reason: str, finish: str) -> None:
    result = translated(api_response(candidate({"text": "x"}, finish=reason)))
    assert result.choices[0].finish_reason == finish
    encoded(result)


@pytest.mark.parametrize(
    ("reason", "finish"),
    [("STOP", "tool_calls"), ("OTHER", "tool_calls"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter")],
)
def test_finish_reasons_of_a_turn_with_function_calls(reason: str, finish: str) -> None:
    result = translated(
        api_response(candidate({"functionCall": {"id": "fc_1", "name": "f", "args": {}}}, finish=reason))
    )
    assert result.choices[0].finish_reason == finish


def test_a_finish_reason_newer_than_the_table_is_stop() -> None:
    result = translated(api_response(candidate({"text": "x"}, finish="ESCALATION")))
    assert result.choices[0].finish_reason == "stop"


def test_a_candidate_blocked_mid_answer_has_no_content() -> None:
    body = api_response(
        {
            "finishReason": "SAFETY",
            "index": 0,
            "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}],
        }
    )
    result = translated(body)
    assert result == response(AssistantMessage(content=None), "content_filter")
    encoded(result)


def test_a_blocked_prompt_is_a_filtered_empty_answer() -> None:
    body = sdk_checked(
        {
            "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
            "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
            "modelVersion": MODEL,
            "responseId": RESPONSE_ID,
        }
    )
    result = translated(body)
    assert result == response(
        AssistantMessage(content=None),
        "content_filter",
        Usage(prompt_tokens=8, completion_tokens=0, total_tokens=8, cached_tokens=0, reasoning_tokens=0),
    )
    assert encoded(result)["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": None},
            "finish_reason": "content_filter",
            "logprobs": None,
        }
    ]


# --- several candidates, ids, usage --------------------------------------------------------------


def test_several_candidates_become_choices_by_index() -> None:
    body = api_response(
        candidate({"text": "Blue."}, index=0),
        candidate({"functionCall": {"name": "get_weather", "args": {}}}, index=1),
        candidate({"text": "Cut"}, index=2, finish="MAX_TOKENS"),
    )
    result = translated(body)
    assert result.choices == [
        Choice(index=0, message=AssistantMessage(content="Blue."), finish_reason="stop"),
        Choice(
            index=1,
            message=AssistantMessage(
                tool_calls=[ToolCall(id=MINTED_WEATHER_CANDIDATE_1, name="get_weather", arguments="{}")]
            ),
            finish_reason="tool_calls",
        ),
        Choice(index=2, message=AssistantMessage(content="Cut"), finish_reason="length"),
    ]
    assert [choice["index"] for choice in encoded(result)["choices"]] == [0, 1, 2]


def test_a_candidate_without_index_takes_its_position() -> None:
    result = translated(api_response(candidate({"text": "only"}, index=None)))
    assert result == response(AssistantMessage(content="only"), "stop")


def test_without_model_version_or_response_id_the_requested_model_is_named() -> None:
    body = sdk_checked({"candidates": [candidate({"text": "Hi"})], "usageMetadata": USAGE})
    result = translated(body)
    assert (result.id, result.model) == ("", REQUESTED)


def test_usage_mapping() -> None:
    usage = {
        "promptTokenCount": 100,
        "toolUsePromptTokenCount": 20,
        "candidatesTokenCount": 30,
        "thoughtsTokenCount": 50,
        "cachedContentTokenCount": 40,
        "totalTokenCount": 200,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 100}],
    }
    result = translated(api_response(candidate({"text": "x"}), usage=usage))
    assert result.usage == Usage(
        prompt_tokens=120, completion_tokens=80, total_tokens=200, cached_tokens=40, reasoning_tokens=50
    )
    assert encoded(result)["usage"] == {
        "prompt_tokens": 120,
        "completion_tokens": 80,
        "total_tokens": 200,
        "prompt_tokens_details": {"cached_tokens": 40},
        "completion_tokens_details": {"reasoning_tokens": 50},
    }


def test_usage_without_total_is_the_sum() -> None:
    result = translated(
        api_response(candidate({"text": "x"}), usage={"promptTokenCount": 7, "candidatesTokenCount": 3})
    )
    assert result.usage == Usage(
        prompt_tokens=7, completion_tokens=3, total_tokens=10, cached_tokens=0, reasoning_tokens=0
    )


def test_no_usage_metadata_means_no_usage() -> None:
    result = translated(api_response(candidate({"text": "x"}), usage=None))
    assert result.usage is None
    assert "usage" not in encoded(result)
