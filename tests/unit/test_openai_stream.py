"""OpenAI stream events → canonical chunks (providers/openai/stream.py)."""

from __future__ import annotations

import pytest

from babelgate.errors import UpstreamError, UpstreamProtocolError
from babelgate.observability.logging import Scrubber
from babelgate.providers.openai.stream import OpenAIStreamTranslator
from babelgate.schema.chat import FinishReason, Usage
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta, ToolCallDelta
from babelgate.streaming import SSEDecoder, SSEEvent
from tests.unit.stream_builder import OpenAIStream

SECRET = "sk-test-UPSTREAM-secret-0123456789"


def translate(events: list[SSEEvent]) -> tuple[OpenAIStreamTranslator, list[ChatChunk]]:
    translator = OpenAIStreamTranslator("openai", Scrubber([SECRET]))
    chunks: list[ChatChunk] = []
    for event in events:
        chunks += translator.feed(event)
    return translator, chunks


def chunk(delta: Delta, finish_reason: FinishReason | None = None) -> ChatChunk:
    return ChatChunk(
        id="chatcmpl-1",
        created=1_700_000_000,
        model="gpt-4o-mini",
        choices=[ChunkChoice(0, delta, finish_reason)],
        system_fingerprint="fp_1",
    )


def test_text_stream() -> None:
    translator, chunks = translate(OpenAIStream().role().text("Hel", "lo").finish("stop").done().events())
    assert chunks == [
        chunk(Delta(role="assistant", content="")),
        chunk(Delta(content="Hel")),
        chunk(Delta(content="lo")),
        chunk(Delta(), "stop"),
    ]
    assert translator.done is True
    assert translator.finish_reason == "stop"


def test_done_returns_no_chunk_and_marks_the_end() -> None:
    translator = OpenAIStreamTranslator("openai", str)
    assert translator.done is False
    assert translator.feed(SSEEvent("[DONE]")) == []
    assert translator.done is True
    assert translator.finish_reason is None


def test_usage_chunk_with_empty_choices() -> None:
    stream = OpenAIStream(include_usage=True).role().text("x").finish("length").usage(9, 3).done()
    translator, chunks = translate(stream.events())
    assert [c.usage for c in chunks[:-1]] == [None, None, None]
    assert chunks[-1] == ChatChunk(
        id="chatcmpl-1", created=1_700_000_000, model="gpt-4o-mini", choices=[], usage=Usage(9, 3, 12)
    )
    assert translator.finish_reason == "length"


def test_parallel_tool_calls_streamed_by_index() -> None:
    stream = (
        OpenAIStream()
        .role(None)
        .tool_call(0, "call_a", "get_weather", '{"city":', '"Paris"}')
        .tool_call(1, "call_b", "get_time", "{}")
        .finish("tool_calls")
        .done()
    )
    translator, chunks = translate(stream.events())
    assert [c.choices[0].delta.tool_calls for c in chunks] == [
        None,
        [ToolCallDelta(0, "call_a", "get_weather", "", "function")],
        [ToolCallDelta(0, arguments='{"city":')],
        [ToolCallDelta(0, arguments='"Paris"}')],
        [ToolCallDelta(1, "call_b", "get_time", "", "function")],
        [ToolCallDelta(1, arguments="{}")],
        None,
    ]
    assert chunks[0].choices[0].delta == Delta(role="assistant")
    assert translator.finish_reason == "tool_calls"


def test_several_tool_calls_in_one_delta() -> None:
    delta = {
        "tool_calls": [
            {"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"index": 1, "id": "b", "type": "function", "function": {"name": "g", "arguments": "[]"}},
        ]
    }
    _, chunks = translate(OpenAIStream().chunk(delta).events())
    assert chunks[0].choices[0].delta.tool_calls == [
        ToolCallDelta(0, "a", "f", "{}", "function"),
        ToolCallDelta(1, "b", "g", "[]", "function"),
    ]


def test_tool_call_delta_without_index_takes_its_position() -> None:
    delta = {"tool_calls": [{"id": "a", "function": {"name": "f"}}, {"id": "b", "function": {"name": "g"}}]}
    _, chunks = translate(OpenAIStream().chunk(delta).events())
    assert chunks[0].choices[0].delta.tool_calls == [ToolCallDelta(0, "a", "f"), ToolCallDelta(1, "b", "g")]


def test_custom_tool_call_delta() -> None:
    delta = {"tool_calls": [{"index": 0, "id": "c", "type": "custom", "custom": {"name": "sql", "input": "SEL"}}]}
    _, chunks = translate(OpenAIStream().chunk(delta).events())
    assert chunks[0].choices[0].delta.tool_calls == [ToolCallDelta(0, "c", "sql", "SEL", "custom")]


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_deltas(field: str) -> None:
    _, chunks = translate(OpenAIStream().chunk({field: "let me think"}).events())
    assert chunks[0].choices[0].delta == Delta(reasoning_content="let me think")


def test_unknown_delta_fields_travel_in_extra() -> None:
    _, chunks = translate(OpenAIStream().chunk({"content": "a", "annotations": [1], "refusal": None}).events())
    assert chunks[0].choices[0].delta == Delta(content="a", extra={"annotations": [1]})


def test_unknown_finish_reason_becomes_stop() -> None:
    translator, chunks = translate(OpenAIStream().finish("abort").events())
    assert chunks[0].choices[0].finish_reason == "stop"
    assert translator.finish_reason == "stop"


def test_multiple_choices_keep_their_index() -> None:
    stream = OpenAIStream().chunk({"content": "a"}, index=0).chunk({"content": "b"}, index=1)
    _, chunks = translate(stream.events())
    assert [(c.choices[0].index, c.choices[0].delta.content) for c in chunks] == [(0, "a"), (1, "b")]


def test_sparse_chunk() -> None:
    _, chunks = translate([SSEEvent('{"choices":[{"delta":{"content":"x"}}]}')])
    assert chunks == [ChatChunk(id="", created=0, model="", choices=[ChunkChoice(0, Delta(content="x"))])]


def test_error_mid_stream_raises_an_upstream_error_with_the_scrubbed_message() -> None:
    stream = OpenAIStream().role().text("partial").error(f"overloaded, key {SECRET} is fine").done()
    translator = OpenAIStreamTranslator("openai", Scrubber([SECRET]))
    events = stream.events()
    assert len(translator.feed(events[0]) + translator.feed(events[1])) == 2
    with pytest.raises(UpstreamError) as caught:
        translator.feed(events[2])
    error = caught.value
    assert type(error) is UpstreamError
    assert (error.status, error.code, error.type) == (502, "upstream_error", "server_error")
    assert error.raw_message == "overloaded, key [redacted] is fine"
    assert error.params == {"provider": "openai", "upstream_status": 200}
    assert translator.done is False


def test_error_as_a_plain_string() -> None:
    with pytest.raises(UpstreamError) as caught:
        translate([SSEEvent('{"error": "model crashed"}')])
    assert caught.value.raw_message == "model crashed"


@pytest.mark.parametrize("data", ['{"choices": [', "not json", ""])
def test_malformed_json_raises_a_protocol_error(data: str) -> None:
    with pytest.raises(UpstreamProtocolError) as caught:
        translate([SSEEvent(data)])
    assert caught.value.params == {"provider": "openai", "detail": "a stream event is not JSON"}
    assert caught.value.code == "upstream_protocol_error"


@pytest.mark.parametrize("data", ["[1, 2]", '"text"', "42", "null"])
def test_json_that_is_not_an_object_raises_a_protocol_error(data: str) -> None:
    with pytest.raises(UpstreamProtocolError) as caught:
        translate([SSEEvent(data)])
    assert caught.value.params["detail"] == "a stream event is not an object"


def test_chunk_id_that_is_not_a_string_raises_a_protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError) as caught:
        translate([SSEEvent('{"id": 5, "choices": []}')])
    assert caught.value.params["detail"] == "a chunk has no valid id"


@pytest.mark.parametrize(
    "data",
    ['{"choices": [null]}', '{"choices": 5}', '{"choices": [], "created": "soon"}', '{"choices": [{"delta": "x"}]}'],
)
def test_structurally_malformed_chunk_raises_a_protocol_error(data: str) -> None:
    with pytest.raises(UpstreamProtocolError):
        translate([SSEEvent(data)])


def test_bytes_split_anywhere_give_the_same_chunks() -> None:
    stream = OpenAIStream().role().text("Hé", "llo").tool_call(0, "c", "f", "{}").finish("tool_calls").done()
    expected = translate(stream.events())[1]
    data = stream.to_bytes(b"\r\n")
    for split in range(0, len(data) + 1, 7):
        decoder = SSEDecoder()
        events = decoder.feed(data[:split]) + decoder.feed(data[split:]) + decoder.close()
        assert translate(events)[1] == expected
