"""Canonical chunks → Ollama NDJSON objects (frontends/ollama/stream.py), golden: the exact objects of text,
thinking and tool-call streams (calls sent whole, arguments as objects), the final object with its counters,
each checked against Ollama's spec."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from babelgate.errors import GatewayError, UpstreamProtocolError
from babelgate.frontends.ollama.stream import OllamaStreamEncoder
from babelgate.frontends.ollama.wire import Durations
from babelgate.schema.chat import FinishReason, Usage
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta, ToolCallDelta
from tests.ollama_spec import assert_valid_stream

JSON = dict[str, Any]
AT = "2026-01-02T03:04:05Z"
DURATIONS = Durations(total=900, load=100, prompt_eval=300, eval=500)
COUNTERS = {
    "total_duration": 900,
    "load_duration": 100,
    "prompt_eval_count": 12,
    "prompt_eval_duration": 300,
    "eval_count": 5,
    "eval_duration": 500,
}


class FixedClock:
    """The encoder's Timing, standing still: every stamp is AT, the counters DURATIONS."""

    def __init__(self) -> None:
        self.outputs = 0

    def output(self) -> None:
        self.outputs += 1

    def now(self) -> str:
        return AT

    def durations(self) -> Durations:
        return DURATIONS


CLOCK = FixedClock()


def chunk(
    *, finish: FinishReason | None = None, logprobs: JSON | None = None, index: int = 0, **delta: Any
) -> ChatChunk:
    return ChatChunk(
        id="chatcmpl-1",
        created=1_700_000_000,
        model="gpt-test",
        choices=[ChunkChoice(index, Delta(**delta), finish, logprobs)],
    )


def usage_chunk() -> ChatChunk:
    return ChatChunk(
        id="chatcmpl-1",
        created=1_700_000_000,
        model="gpt-test",
        choices=[],
        usage=Usage(prompt_tokens=12, completion_tokens=5, total_tokens=17),
    )


def run(*chunks: ChatChunk, generate: bool = False) -> list[JSON]:
    encoder = OllamaStreamEncoder("llama3", CLOCK, provider="openai", generate=generate)
    objects = [item for c in chunks for item in encoder.objects(c, AT)]
    objects += encoder.last_objects(AT, DURATIONS)
    assert_valid_stream(objects, "generate_stream" if generate else "chat_stream")
    return objects


def line(**message: Any) -> JSON:
    return {"model": "llama3", "created_at": AT, "message": {"role": "assistant", **message}, "done": False}


def final(reason: str = "stop", **counters: Any) -> JSON:
    return {
        "model": "llama3",
        "created_at": AT,
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": reason,
        **(counters or COUNTERS),
    }


def test_text_stream() -> None:
    assert run(
        chunk(role="assistant", content=""),
        chunk(content="Hel"),
        chunk(content="lo"),
        chunk(finish="stop"),
        usage_chunk(),
    ) == [line(content="Hel"), line(content="lo"), final()]


def test_thinking_then_text() -> None:
    assert run(
        chunk(role="assistant", reasoning_content="Hmm"),
        chunk(reasoning_content=", easy."),
        chunk(content="4"),
        chunk(finish="stop"),
        usage_chunk(),
    ) == [line(content="", thinking="Hmm"), line(content="", thinking=", easy."), line(content="4"), final()]


def test_refusal_is_text_and_length_is_said() -> None:
    assert run(chunk(refusal="No."), chunk(finish="length"), usage_chunk()) == [line(content="No."), final("length")]


def test_streamed_tool_call_is_sent_whole_with_object_arguments() -> None:
    objects = run(
        chunk(role="assistant"),
        chunk(tool_calls=[ToolCallDelta(0, "call_a", "get_weather", "", "function")]),
        chunk(tool_calls=[ToolCallDelta(0, arguments='{"city":')]),
        chunk(tool_calls=[ToolCallDelta(0, arguments='"Paris"}')]),
        chunk(finish="tool_calls"),
        usage_chunk(),
    )
    assert objects == [
        line(
            content="",
            tool_calls=[
                {"id": "call_a", "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}}}
            ],
        ),
        final("stop"),
    ]


def test_a_call_goes_out_when_the_next_begins_and_the_last_at_the_finish() -> None:
    encoder = OllamaStreamEncoder("llama3", CLOCK, provider="openai")
    assert encoder.objects(chunk(tool_calls=[ToolCallDelta(0, "call_a", "f", '{"x":1}')]), AT) == []
    assert encoder.objects(chunk(tool_calls=[ToolCallDelta(1, "call_b", "g", "{")]), AT) == [
        line(content="", tool_calls=[{"id": "call_a", "function": {"index": 0, "name": "f", "arguments": {"x": 1}}}])
    ]
    assert encoder.objects(chunk(tool_calls=[ToolCallDelta(1, arguments="}")], finish="tool_calls"), AT) == []
    assert encoder.last_objects(AT, DURATIONS)[0] == line(
        content="", tool_calls=[{"id": "call_b", "function": {"index": 1, "name": "g", "arguments": {}}}]
    )


def test_whole_parallel_calls_in_one_chunk_and_a_missing_id() -> None:
    """Gemini's shape: each call whole, in one chunk; the second closes the first."""
    objects = run(
        chunk(
            tool_calls=[ToolCallDelta(0, "c1", "f", '{"a":1}'), ToolCallDelta(1, None, "g", '{"b":2}')],
            finish="tool_calls",
        )
    )
    calls = [call for item in objects[:-1] for call in item["message"]["tool_calls"]]
    assert calls == [
        {"id": "c1", "function": {"index": 0, "name": "f", "arguments": {"a": 1}}},
        {"id": "call_1", "function": {"index": 1, "name": "g", "arguments": {"b": 2}}},
    ]


def test_text_before_a_call() -> None:
    objects = run(
        chunk(content="Let me check."),
        chunk(tool_calls=[ToolCallDelta(0, "c1", "f", "{}")]),
        chunk(finish="tool_calls"),
        usage_chunk(),
    )
    assert objects[0] == line(content="Let me check.")
    assert objects[1]["message"]["tool_calls"][0]["function"]["name"] == "f"


def test_a_fragment_of_a_call_already_sent_is_a_protocol_error() -> None:
    encoder = OllamaStreamEncoder("llama3", CLOCK, provider="openai")
    encoder.objects(chunk(tool_calls=[ToolCallDelta(0, "a", "f", "{}"), ToolCallDelta(1, "b", "g", "{}")]), AT)
    with pytest.raises(UpstreamProtocolError):
        encoder.objects(chunk(tool_calls=[ToolCallDelta(0, arguments=" ")]), AT)


def test_arguments_that_are_not_an_object_are_a_protocol_error_at_the_finish() -> None:
    encoder = OllamaStreamEncoder("llama3", CLOCK, provider="openai")
    encoder.objects(chunk(tool_calls=[ToolCallDelta(0, "a", "f", '{"cut')]), AT)
    with pytest.raises(UpstreamProtocolError):
        encoder.last_objects(AT, DURATIONS)


def test_generate_lines_carry_response_and_thinking() -> None:
    assert run(
        chunk(reasoning_content="Hmm"), chunk(content="Hi"), chunk(finish="stop"), usage_chunk(), generate=True
    ) == [
        {"model": "llama3", "created_at": AT, "response": "", "thinking": "Hmm", "done": False},
        {"model": "llama3", "created_at": AT, "response": "Hi", "done": False},
        {"model": "llama3", "created_at": AT, "response": "", "done": True, "done_reason": "stop", **COUNTERS},
    ]


def test_no_usage_counts_zero_tokens() -> None:
    objects = run(chunk(content="Hi"), chunk(finish="stop"))
    assert (objects[-1]["prompt_eval_count"], objects[-1]["eval_count"]) == (0, 0)


def test_other_choices_are_ignored_and_logprobs_passed() -> None:
    entries = [{"token": "Hi", "logprob": -0.5, "bytes": [72, 105], "top_logprobs": []}]
    objects = run(
        chunk(content="Hi", logprobs={"content": entries}),
        chunk(content="other", index=1),
        chunk(finish="stop"),
        usage_chunk(),
    )
    assert objects[0] == {**line(content="Hi"), "logprobs": entries}
    assert len(objects) == 2


def test_streamed_images_become_base64() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    assert run(chunk(extra={"images": [image]}), chunk(finish="stop"), usage_chunk())[0] == line(
        content="", images=["iVBORw0KGgo="]
    )


def test_the_stream_encoder_sends_the_objects_as_ndjson_lines_and_reads_the_clock() -> None:
    """`feed` and `finish` are `objects` and `last_objects` framed, stamped from the clock handed in; the clock
    hears of output only when a chunk carries some; `fail` is one `{"error": …}` line."""
    clock = FixedClock()
    chunks = [chunk(role="assistant"), chunk(content="Hi"), chunk(finish="stop"), usage_chunk()]
    sent = [OllamaStreamEncoder("llama3", clock, provider="openai").feed(c) for c in chunks]
    assert sent[0] == b"" and clock.outputs == 1
    encoder = OllamaStreamEncoder("llama3", clock, provider="openai")
    expected = [encoder.objects(c, AT) for c in chunks] + [encoder.last_objects(AT, DURATIONS)]
    encoder = OllamaStreamEncoder("llama3", clock, provider="openai")
    data = b"".join(encoder.feed(c) for c in chunks) + encoder.finish()
    assert data.endswith(b"\n")
    assert [orjson.loads(line) for line in data.splitlines()] == [item for batch in expected for item in batch]
    assert encoder.start() == b""
    failed = encoder.fail(GatewayError(), "en")
    assert failed.endswith(b"\n") and failed.count(b"\n") == 1 and "error" in orjson.loads(failed)
