"""The OpenAI Chat Completions frontend (frontends/openai_chat/): decode, encode, stream encoding.

Encoded JSON is also checked against the official SDK's types.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from babelgate.frontends.openai_chat.stream import OpenAIChatStreamEncoder
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.providers.openai.stream import OpenAIStreamTranslator
from babelgate.providers.openai.translate import from_wire, request_from_wire, response_to_wire, to_wire, usage_to_wire
from babelgate.schema.chat import (
    AssistantMessage,
    ChatRequest,
    ChatResponse,
    Choice,
    FinishReason,
    ImagePart,
    Message,
    NamedToolChoice,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    Usage,
)
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta, ToolCallDelta
from babelgate.streaming import SSE_DONE, SSEDecoder
from tests.unit.stream_builder import OpenAIStream

RICH_BODY: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "developer", "content": "Answer in JSON."},
        {
            "role": "user",
            "name": "alice",
            "content": [
                {"type": "text", "text": "What is this?", "cache_control": {"type": "ephemeral"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "high"}},
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "mp3"}},
                {"type": "file", "file": {"file_id": "file-1"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": "{}"}},
                {"id": "call_2", "type": "custom", "custom": {"name": "sql", "input": "SELECT 1"}},
            ],
            "refusal": None,
            "audio": {"id": "audio_1"},
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}], "reasoning_content": "r"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "look",
                "description": "Look closer",
                "parameters": {"type": "object", "properties": {}},
                "strict": False,
            },
        },
        {"type": "custom", "custom": {"name": "sql", "format": {"type": "grammar", "grammar": {"syntax": "lark"}}}},
    ],
    "tool_choice": {"type": "function", "function": {"name": "look"}},
    "parallel_tool_calls": True,
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "answer", "description": "d", "schema": {"type": "object"}, "strict": True},
    },
    "temperature": 0.7,
    "top_p": 0.95,
    "presence_penalty": 0.1,
    "frequency_penalty": 0.2,
    "stop": ["\n\n", "END"],
    "n": 1,
    "seed": 42,
    "max_completion_tokens": 256,
    "stream": True,
    "stream_options": {"include_usage": True},
    "reasoning_effort": "minimal",
    "user": "user-1",
    "metadata": {"k": "v"},
    # Fields the canonical request does not model travel in `extra`.
    "logprobs": True,
    "top_logprobs": 2,
    "store": False,
    "modalities": ["text", "audio"],
    "audio": {"voice": "alloy", "format": "wav"},
    "prediction": {"type": "content", "content": "x"},
    "service_tier": "priority",
    "logit_bias": {"50256": -100},
    "x_vendor_flag": {"nested": [1, 2]},
}


def round_trip(body: dict[str, Any]) -> dict[str, Any]:
    validate_chat_body(body)
    return to_wire(request_from_wire(copy.deepcopy(body)), body["model"])


def test_decode_then_to_wire_gives_back_the_same_json() -> None:
    assert round_trip(RICH_BODY) == RICH_BODY


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10, "tool_choice": "auto"},
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}},
        {
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
            "stream_options": {"include_usage": False, "x": 1},
        },
        {
            "model": "m",
            "messages": [
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": ""}, "x_extra": True}
                    ],
                }
            ],
        },
        {
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "tool_choice": {
                "type": "allowed_tools",
                "allowed_tools": {"mode": "required", "tools": [{"type": "function"}]},
            },
        },
    ],
    ids=["minimal", "max_tokens", "json_object", "other stream_options", "empty content", "allowed_tools"],
)
def test_round_trip_of_smaller_bodies(body: dict[str, Any]) -> None:
    assert round_trip(body) == body


def test_round_trip_turns_a_stop_string_into_a_list() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stop": "END"}
    assert round_trip(body) == {**body, "stop": ["END"]}


def test_round_trip_leaves_out_false_stream_and_usage_options() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
        "stream_options": {"include_usage": False},
    }
    assert round_trip(body) == {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_round_trip_keeps_other_stream_options_next_to_include_usage() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True, "include_obfuscation": False},
    }
    assert round_trip(body) == body


def test_decode_request_golden() -> None:
    body = {
        "model": "gpt-4o",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": "https://x/a.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "content": "ok", "tool_call_id": "c1"},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}},
        "max_tokens": 9,
        "stop": "x",
        "stream": True,
        "stream_options": {"include_usage": True},
        "store": True,
    }
    assert request_from_wire(body) == ChatRequest(
        model="gpt-4o",
        messages=[
            Message("user", [TextPart("hi"), ImagePart("https://x/a.png")]),
            Message("assistant", None, tool_calls=[ToolCall("c1", "f", "{}")]),
            Message("tool", "ok", tool_call_id="c1"),
        ],
        tools=[Tool("f", parameters={"type": "object"})],
        tool_choice=NamedToolChoice("f"),
        response_format=ResponseFormat("json_schema", name="s", schema={"type": "object"}),
        max_tokens=9,
        max_tokens_field="max_tokens",
        stop=["x"],
        stream=True,
        include_usage=True,
        extra={"store": True},
    )


def test_decode_request_prefers_max_completion_tokens() -> None:
    request = request_from_wire(
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 7}
    )
    assert (request.max_tokens, request.max_tokens_field) == (7, "max_completion_tokens")


RESPONSE = ChatResponse(
    id="chatcmpl-1",
    created=1_700_000_000,
    model="gpt-4o-mini",
    choices=[
        Choice(
            0,
            AssistantMessage(
                content=None,
                tool_calls=[
                    ToolCall("call_1", "get_weather", '{"city":"Paris"}'),
                    ToolCall("call_2", "sql", "SELECT 1", type="custom"),
                ],
                extra={"annotations": []},
            ),
            "tool_calls",
        ),
        Choice(
            1,
            AssistantMessage(content="Hi", reasoning_content="greeting", refusal="partly"),
            "stop",
            logprobs={"content": None, "refusal": None},
        ),
    ],
    usage=Usage(
        20,
        10,
        30,
        cached_tokens=4,
        reasoning_tokens=6,
        extra={"prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 0}},
    ),
    system_fingerprint="fp_1",
    extra={"service_tier": "default"},
)
RESPONSE_JSON = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {"id": "call_2", "type": "custom", "custom": {"name": "sql", "input": "SELECT 1"}},
                ],
                "annotations": [],
            },
            "finish_reason": "tool_calls",
            "logprobs": None,
        },
        {
            "index": 1,
            "message": {"role": "assistant", "content": "Hi", "refusal": "partly", "reasoning_content": "greeting"},
            "finish_reason": "stop",
            "logprobs": {"content": None, "refusal": None},
        },
    ],
    "usage": {
        "prompt_tokens": 20,
        "completion_tokens": 10,
        "total_tokens": 30,
        "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 6},
    },
    "system_fingerprint": "fp_1",
    "service_tier": "default",
}


def test_encode_response_golden() -> None:
    encoded = response_to_wire(RESPONSE)
    assert encoded == RESPONSE_JSON
    assert orjson.dumps(encoded) == orjson.dumps(RESPONSE_JSON)


def test_encoded_response_is_a_valid_sdk_chat_completion() -> None:
    completion = ChatCompletion.model_validate(response_to_wire(RESPONSE))
    first, second = completion.choices
    assert first.finish_reason == "tool_calls"
    assert first.message.tool_calls is not None
    assert [call.id for call in first.message.tool_calls] == ["call_1", "call_2"]
    assert second.message.content == "Hi"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 4
    assert completion.service_tier == "default"


def test_encode_response_of_a_wire_response_gives_it_back() -> None:
    wire: dict[str, Any] = {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hey", "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 1,
            "completion_tokens": 2,
            "total_tokens": 3,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0},
        },
        "system_fingerprint": "fp",
        "service_tier": "default",
    }
    expected = copy.deepcopy(wire)
    del expected["choices"][0]["message"]["refusal"]  # a null refusal is left out
    assert response_to_wire(from_wire(wire)) == expected


def test_encode_usage_without_details() -> None:
    assert usage_to_wire(Usage(1, 2, 3)) == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}


def text_chunk(content: str | None = None, *, role: str | None = None, finish: FinishReason | None = None) -> ChatChunk:
    return ChatChunk(
        id="chatcmpl-9",
        created=5,
        model="gpt-4o-mini",
        choices=[ChunkChoice(0, Delta(role=role, content=content), finish)],
    )


CHUNKS = [
    text_chunk("", role="assistant"),
    text_chunk("Hel"),
    text_chunk("lo"),
    text_chunk(finish="stop"),
    ChatChunk(id="chatcmpl-9", created=5, model="gpt-4o-mini", choices=[], usage=Usage(9, 3, 12)),
]


def frames(data: bytes) -> list[Any]:
    events = SSEDecoder().feed(data)
    return [event.data if event.data == "[DONE]" else orjson.loads(event.data) for event in events]


def test_stream_encoder_with_include_usage() -> None:
    encoder = OpenAIChatStreamEncoder(include_usage=True)
    encoded = [encoder.feed(chunk) for chunk in CHUNKS]
    assert encoded[-1] == b""  # usage goes out in finish(), once
    tail = encoder.finish()
    assert tail.endswith(SSE_DONE)
    payloads = frames(b"".join(encoded) + tail)
    assert payloads == [
        {
            "id": "chatcmpl-9",
            "object": "chat.completion.chunk",
            "created": 5,
            "model": "gpt-4o-mini",
            "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None, "logprobs": None}
            ],
            "usage": None,
        },
        {
            "id": "chatcmpl-9",
            "object": "chat.completion.chunk",
            "created": 5,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None, "logprobs": None}],
            "usage": None,
        },
        {
            "id": "chatcmpl-9",
            "object": "chat.completion.chunk",
            "created": 5,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": None, "logprobs": None}],
            "usage": None,
        },
        {
            "id": "chatcmpl-9",
            "object": "chat.completion.chunk",
            "created": 5,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "logprobs": None}],
            "usage": None,
        },
        {
            "id": "chatcmpl-9",
            "object": "chat.completion.chunk",
            "created": 5,
            "model": "gpt-4o-mini",
            "choices": [],
            "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
        },
        "[DONE]",
    ]
    for payload in payloads[:-1]:
        ChatCompletionChunk.model_validate(payload)


def test_stream_encoder_without_include_usage() -> None:
    encoder = OpenAIChatStreamEncoder(include_usage=False)
    encoded = [encoder.feed(chunk) for chunk in CHUNKS]
    assert encoded[-1] == b""  # the usage-only chunk is dropped
    assert encoder.finish() == SSE_DONE
    payloads = frames(b"".join(encoded) + SSE_DONE)
    assert len(payloads) == 5
    assert payloads[-1] == "[DONE]"
    for payload in payloads[:-1]:
        assert "usage" not in payload
        ChatCompletionChunk.model_validate(payload)
    assert [p["choices"][0]["delta"] for p in payloads[:-1]] == [
        {"role": "assistant", "content": ""},
        {"content": "Hel"},
        {"content": "lo"},
        {},
    ]


def test_usage_on_a_chunk_with_choices_is_sent_once_at_the_end() -> None:
    encoder = OpenAIChatStreamEncoder(include_usage=True)
    last = ChatChunk(id="c", created=1, model="m", choices=[ChunkChoice(0, Delta(), "stop")], usage=Usage(1, 1, 2))
    body = orjson.loads(encoder.feed(last)[6:-2])
    assert body["usage"] is None
    assert frames(encoder.finish())[0]["usage"] == {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}


def test_finish_without_known_usage_or_chunks_is_only_done() -> None:
    assert OpenAIChatStreamEncoder(include_usage=True).finish() == SSE_DONE
    encoder = OpenAIChatStreamEncoder(include_usage=True)
    encoder.feed(CHUNKS[1])
    assert encoder.finish() == SSE_DONE


def test_stream_encoder_tool_call_deltas() -> None:
    encoder = OpenAIChatStreamEncoder(include_usage=False)
    chunk = ChatChunk(
        id="c",
        created=1,
        model="m",
        choices=[
            ChunkChoice(
                0,
                Delta(
                    tool_calls=[
                        ToolCallDelta(0, "call_1", "get_weather", ""),
                        ToolCallDelta(0, arguments='{"a":'),
                        ToolCallDelta(1, "call_2", "sql", "SEL", type="custom"),
                        ToolCallDelta(1, arguments="ECT", type="custom"),
                    ]
                ),
            )
        ],
        system_fingerprint="fp",
    )
    payload = frames(encoder.feed(chunk))[0]
    assert payload["system_fingerprint"] == "fp"
    assert payload["choices"][0]["delta"] == {
        "tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
            {"index": 0, "function": {"arguments": '{"a":'}},
            {"index": 1, "id": "call_2", "type": "custom", "custom": {"name": "sql", "input": "SEL"}},
            {"index": 1, "custom": {"input": "ECT"}},
        ]
    }


def test_stream_encoder_reasoning_refusal_and_extra() -> None:
    encoder = OpenAIChatStreamEncoder(include_usage=False)
    chunk = ChatChunk(
        id="c",
        created=1,
        model="m",
        choices=[
            ChunkChoice(
                0, Delta(reasoning_content="hmm", refusal="no", extra={"annotations": []}), logprobs={"content": []}
            )
        ],
    )
    choice = frames(encoder.feed(chunk))[0]["choices"][0]
    assert choice == {
        "index": 0,
        "delta": {"reasoning_content": "hmm", "refusal": "no", "annotations": []},
        "finish_reason": None,
        "logprobs": {"content": []},
    }


@pytest.mark.parametrize("include_usage", [True, False])
def test_upstream_stream_through_translator_and_encoder_is_valid_for_the_sdk(include_usage: bool) -> None:
    stream = (
        OpenAIStream(include_usage=True)
        .role()
        .text("Hi", " there")
        .tool_call(0, "call_a", "f", '{"x":', "1}")
        .tool_call(1, "call_b", "g", "{}")
        .finish("tool_calls")
        .usage(5, 7)
        .done()
    )
    decoder = SSEDecoder()
    translator = OpenAIStreamTranslator("openai", str)
    encoder = OpenAIChatStreamEncoder(include_usage=include_usage)
    out = b""
    for event in decoder.feed(stream.to_bytes()):
        for chunk in translator.feed(event):
            out += encoder.feed(chunk)
    out += encoder.finish()
    assert translator.done
    payloads = frames(out)
    assert payloads[-1] == "[DONE]"
    parsed = [ChatCompletionChunk.model_validate(p) for p in payloads[:-1]]
    text = "".join(c.choices[0].delta.content or "" for c in parsed if c.choices)
    assert text == "Hi there"
    if include_usage:
        assert parsed[-1].choices == []
        assert parsed[-1].usage is not None
        assert (parsed[-1].usage.prompt_tokens, parsed[-1].usage.completion_tokens) == (5, 7)
        assert all("usage" in p for p in payloads[:-1])
    else:
        assert all("usage" not in p for p in payloads[:-1])
    assert parsed[-1 if not include_usage else -2].choices[0].finish_reason == "tool_calls"
