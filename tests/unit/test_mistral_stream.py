"""Golden tests of Mistral stream chunks → canonical chunks → OpenAI chunks
(providers/mistral/stream.py). Every Mistral chunk fixture is read by the
`mistralai` SDK's `CompletionChunk`, every encoded chunk by the `openai` SDK's `ChatCompletionChunk`."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from mistralai.client.models import CompletionChunk
from openai.types.chat import ChatCompletionChunk

from babelgate.errors import UpstreamError, UpstreamProtocolError
from babelgate.frontends.openai_chat.stream import OpenAIChatStreamEncoder
from babelgate.observability.logging import Scrubber
from babelgate.providers.mistral.stream import MistralStreamTranslator
from babelgate.providers.mistral.translate import mistral_tool_id
from babelgate.schema.chunks import ChatChunk
from babelgate.streaming import SSEEvent

JSON = dict[str, Any]
SECRET = "mistral-key-AbCdEf0123456789"
SCRUB = Scrubber([SECRET])
ID = "9d6a2c3f1b4e4b0c8a7d6e5f4a3b2c1d"
MODEL = "mistral-small-latest"
USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
NINE = re.compile(r"^[a-zA-Z0-9]{9}$")


def chunk(delta: JSON, finish_reason: str | None = None, *, usage: JSON | None = None, sdk: bool = True) -> JSON:
    payload: JSON = {
        "id": ID,
        "object": "chat.completion.chunk",
        "created": 1750000000,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if usage is not None:
        payload["usage"] = usage
    if sdk:
        CompletionChunk.model_validate(payload)
    return payload


def feed_all(payloads: list[JSON], translator: MistralStreamTranslator | None = None) -> list[ChatChunk]:
    translator = translator or MistralStreamTranslator("mistral", SCRUB)
    out: list[ChatChunk] = []
    for payload in payloads:
        out += translator.feed(SSEEvent(data=orjson.dumps(payload).decode()))
    return out


def encode(chunks: list[ChatChunk], *, include_usage: bool) -> list[JSON | str]:
    """The client's view: each `data:` payload parsed, `[DONE]` as the string."""
    encoder = OpenAIChatStreamEncoder(include_usage=include_usage)
    raw = b"".join(encoder.feed(c) for c in chunks) + encoder.finish()
    events: list[JSON | str] = []
    for frame in raw.split(b"\n\n"):
        if not frame:
            continue
        assert frame.startswith(b"data: ")
        data = frame[len(b"data: ") :]
        if data == b"[DONE]":
            events.append("[DONE]")
            continue
        parsed = orjson.loads(data)
        ChatCompletionChunk.model_validate(parsed)
        events.append(parsed)
    return events


def openai_chunk(delta: JSON, finish_reason: str | None = None, **extra: Any) -> JSON:
    return {
        "id": ID,
        "object": "chat.completion.chunk",
        "created": 1750000000,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        **extra,
    }


TEXT_STREAM = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Hello"}),
    chunk({"content": " world"}),
    chunk({"content": ""}, "stop", usage=USAGE),
]


def test_text_stream_without_include_usage() -> None:
    translator = MistralStreamTranslator("mistral", SCRUB)
    chunks = feed_all(TEXT_STREAM, translator)
    assert [c.usage for c in chunks[:3]] == [None, None, None]
    assert chunks[3].usage is not None and chunks[3].usage.total_tokens == 15
    assert translator.finish_reason == "stop"
    assert translator.done is False
    assert translator.feed(SSEEvent(data="[DONE]")) == []
    assert translator.done is True
    assert encode(chunks, include_usage=False) == [
        openai_chunk({"role": "assistant", "content": ""}),
        openai_chunk({"content": "Hello"}),
        openai_chunk({"content": " world"}),
        openai_chunk({"content": ""}, "stop"),
        "[DONE]",
    ]


def test_text_stream_with_include_usage_has_one_usage_chunk_before_done() -> None:
    events = encode(feed_all(TEXT_STREAM), include_usage=True)
    assert events == [
        openai_chunk({"role": "assistant", "content": ""}, usage=None),
        openai_chunk({"content": "Hello"}, usage=None),
        openai_chunk({"content": " world"}, usage=None),
        openai_chunk({"content": ""}, "stop", usage=None),
        {
            "id": ID,
            "object": "chat.completion.chunk",
            "created": 1750000000,
            "model": MODEL,
            "choices": [],
            "usage": USAGE,
        },
        "[DONE]",
    ]


def test_chunks_without_object_and_created_are_filled() -> None:
    bare = {"id": ID, "model": MODEL, "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None}]}
    CompletionChunk.model_validate(bare)
    assert encode(feed_all([bare]), include_usage=False) == [
        {
            "id": ID,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": MODEL,
            "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None, "logprobs": None}],
        },
        "[DONE]",
    ]


def test_whole_tool_calls_with_index_and_id() -> None:
    calls = [
        {"id": "D681PevKs", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}, "index": 0},
        {"id": "a1B2c3D4e", "function": {"name": "get_time", "arguments": {"tz": "CET"}}, "index": 1},
    ]
    stream = [chunk({"role": "assistant", "content": ""}), chunk({"tool_calls": calls}, "tool_calls", usage=USAGE)]
    translator = MistralStreamTranslator("mistral", SCRUB)
    events = encode(feed_all(stream, translator), include_usage=False)
    assert events == [
        openai_chunk({"role": "assistant", "content": ""}),
        openai_chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "D681PevKs",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "index": 1,
                        "id": "a1B2c3D4e",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": '{"tz":"CET"}'},
                    },
                ]
            },
            "tool_calls",
        ),
        "[DONE]",
    ]
    assert translator.finish_reason == "tool_calls"


def test_repeated_id_and_name_appear_on_the_first_delta_only() -> None:
    stream = [
        chunk(
            {"tool_calls": [{"id": "D681PevKs", "function": {"name": "get_weather", "arguments": '{"ci'}, "index": 0}]}
        ),
        chunk(
            {
                "tool_calls": [
                    {
                        "id": "D681PevKs",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": 'ty":"Rome"}'},
                        "index": 0,
                    }
                ]
            }
        ),
        chunk({"content": ""}, "tool_calls"),
    ]
    assert encode(feed_all(stream), include_usage=False) == [
        openai_chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "D681PevKs",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"ci'},
                    }
                ]
            }
        ),
        openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ty":"Rome"}'}}]}),
        openai_chunk({"content": ""}, "tool_calls"),
        "[DONE]",
    ]


@pytest.mark.parametrize("missing", ["null", None])
def test_a_first_delta_without_id_gets_a_minted_one(missing: str | None) -> None:
    payload = chunk(
        {"tool_calls": [{"id": missing, "function": {"name": "f", "arguments": "{}"}, "index": 0}]},
        "tool_calls",
        sdk=False,
    )
    minted = mistral_tool_id(f"{ID}:0:0")
    assert NINE.fullmatch(minted)
    assert encode(feed_all([payload]), include_usage=False) == [
        openai_chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": minted, "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ]
            },
            "tool_calls",
        ),
        "[DONE]",
    ]


def test_whole_calls_without_index_in_separate_chunks_stay_apart() -> None:
    stream = [
        chunk({"tool_calls": [{"id": "D681PevKs", "function": {"name": "get_weather", "arguments": "{}"}}]}, sdk=False),
        chunk(
            {"tool_calls": [{"id": "a1B2c3D4e", "function": {"name": "get_time", "arguments": "{}"}}]},
            "tool_calls",
            sdk=False,
        ),
    ]
    assert encode(feed_all(stream), include_usage=False) == [
        openai_chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "D681PevKs",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{}"},
                    }
                ]
            }
        ),
        openai_chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "a1B2c3D4e",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": "{}"},
                    }
                ]
            },
            "tool_calls",
        ),
        "[DONE]",
    ]


def test_thinking_chunks_become_reasoning_deltas() -> None:
    stream = [
        chunk({"role": "assistant", "content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Let"}]}]}),
        chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": " me think."}]}]}),
        chunk({"content": [{"type": "text", "text": "Answer"}]}),
        chunk({"content": "."}, "stop", usage=USAGE),
    ]
    assert encode(feed_all(stream), include_usage=False) == [
        openai_chunk({"role": "assistant", "reasoning_content": "Let"}),
        openai_chunk({"reasoning_content": " me think."}),
        openai_chunk({"content": "Answer"}),
        openai_chunk({"content": "."}, "stop"),
        "[DONE]",
    ]


def test_model_length_is_length() -> None:
    translator = MistralStreamTranslator("mistral", SCRUB)
    chunks = feed_all([chunk({"content": "x"}, "model_length")], translator)
    assert chunks[0].choices[0].finish_reason == "length"
    assert translator.finish_reason == "length"


def test_finish_reason_error_raises() -> None:
    translator = MistralStreamTranslator("mistral", SCRUB)
    feed_all([chunk({"content": "par"})], translator)
    with pytest.raises(UpstreamError) as caught:
        feed_all([chunk({"content": "tial"}, "error")], translator)
    assert type(caught.value) is UpstreamError
    assert caught.value.status == 502
    assert caught.value.raw_message == "Mistral ended the answer with finish_reason 'error'."


@pytest.mark.parametrize(
    "payload",
    [
        {
            "object": "error",
            "message": f"Service unavailable for key {SECRET}",
            "type": "internal_error",
            "param": None,
            "code": "1000",
        },
        {"error": {"message": f"Service unavailable for key {SECRET}", "type": "internal_error"}},
    ],
)
def test_an_error_payload_is_an_upstream_error(payload: JSON) -> None:
    with pytest.raises(UpstreamError) as caught:
        feed_all([payload])
    error = caught.value
    assert type(error) is UpstreamError
    assert error.status == 502
    assert error.raw_message == "Service unavailable for key [redacted]"


@pytest.mark.parametrize("data", ["{not json", '"a string"', "[1, 2]"])
def test_malformed_events_are_protocol_errors(data: str) -> None:
    translator = MistralStreamTranslator("mistral", SCRUB)
    with pytest.raises(UpstreamProtocolError):
        translator.feed(SSEEvent(data=data))
    assert translator.done is False


def test_a_chunk_of_the_wrong_shape_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError):
        feed_all([{"id": ID, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": "x"}]}}]}])


def test_done_sets_done() -> None:
    translator = MistralStreamTranslator("mistral", SCRUB)
    assert translator.feed(SSEEvent(data="[DONE]")) == []
    assert translator.done is True
    assert translator.finish_reason is None
