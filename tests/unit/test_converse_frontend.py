"""The Converse door's codec (frontends/bedrock_converse/): a Converse request into the canonical chat request, an
answer and a stream back into Converse's shapes (the stream as the AWS event stream botocore reads), and the
conversation log's codec; what cannot be translated is refused by name, what changes nothing is reported."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import orjson
import pytest
from botocore.eventstream import EventStreamBuffer

from babelgate.answer import SSE_TYPE, Answer
from babelgate.conversation.codec import answer_events
from babelgate.errors import InvalidRequest
from babelgate.frontends.anthropic_clouds.bedrock import EVENT_STREAM_TYPE
from babelgate.frontends.bedrock_converse.answers import encode_response
from babelgate.frontends.bedrock_converse.conversation import CODEC
from babelgate.frontends.bedrock_converse.stream import ConverseStreamEncoder, Framing, as_event_stream
from babelgate.frontends.bedrock_converse.translate import decode_request
from babelgate.providers.base import CallNotes
from babelgate.schema.chat import AssistantMessage, ChatResponse, Choice, TextPart, ToolCall, Usage
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta, ToolCallDelta

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
WEATHER = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Weather for a city",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
    }
}


def test_a_conversation_with_every_block_kind() -> None:
    adjusted: list[str] = []
    body = {
        "system": [{"text": "Be brief."}, {"cachePoint": {"type": "default"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"text": "Look:"},
                    {"image": {"format": "png", "source": {"bytes": PNG}}},
                    {
                        "document": {
                            "format": "txt",
                            "name": "notes",
                            "source": {"bytes": base64.b64encode(b"a note").decode()},
                        }
                    },
                    {"guardContent": {"text": {"text": "guarded words"}}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "thinking", "signature": "sig"}}},
                    {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"toolResult": {"toolUseId": "t1", "content": [{"json": {"temp": 21}}], "status": "error"}}
                ],
            },
        ],
        "inferenceConfig": {"maxTokens": 99, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]},
        "toolConfig": {
            "tools": [WEATHER, {"cachePoint": {"type": "default"}}],
            "toolChoice": {"tool": {"name": "get_weather"}},
        },
        "additionalModelRequestFields": {"top_k": 40, "some_vendor_flag": True},
        "requestMetadata": {"team": "search"},
        "performanceConfig": {"latency": "optimized"},
        "outputConfig": {
            "textFormat": {
                "type": "json_schema",
                "structure": {"jsonSchema": {"schema": '{"type": "object"}', "name": "a"}},
            }
        },
    }
    request = decode_request(body, "gpt-4o", adjusted=adjusted)
    assert request.model == "gpt-4o" and request.max_tokens == 99 and request.temperature == 0.5
    assert request.top_p == 0.9 and request.stop == ["END"] and request.extra["top_k"] == 40
    assert request.metadata == {"team": "search"}
    assert request.response_format is not None and request.response_format.schema == {"type": "object"}
    assert request.tools is not None and request.tools[0].name == "get_weather"
    system, user, assistant, tool = request.messages[:4]
    assert system.role == "system" and "Be brief." in str(system.content)
    parts = user.content
    assert isinstance(parts, list) and isinstance(parts[0], TextPart)
    assert any(getattr(part, "url", "").startswith("data:image/png;base64,") for part in parts)
    assert "a note" in str(parts) and "guarded words" in str(parts)
    assert isinstance(assistant, AssistantMessage) or assistant.role == "assistant"
    assert assistant.tool_calls is not None and assistant.tool_calls[0].arguments == '{"city":"Paris"}'
    assert tool.role == "tool" and "Error: " in str(tool.content) and '{"temp":21}' in str(tool.content)
    assert set(adjusted) >= {
        "cachePoint=dropped",
        "additionalModelRequestFields.some_vendor_flag=dropped",
        "performanceConfig=dropped",
    }


@pytest.mark.parametrize(
    ("block", "named"),
    [
        ({"video": {"format": "mp4", "source": {"bytes": PNG}}}, "messages[0].content[0].video"),
        ({"text": "a", "image": {"format": "png", "source": {"bytes": PNG}}}, "messages[0].content[0]"),
        ({"image": {"format": "tiff", "source": {"bytes": PNG}}}, "messages[0].content[0].image.format"),
        ({"image": {"format": "png", "source": {"bytes": "not base64!"}}}, "messages[0].content[0].image.source.bytes"),
        ({"image": {"format": "png", "source": {"s3Location": {"uri": "s3://b/k"}}}}, "s3Location"),
        ({"document": {"format": "docx", "name": "d", "source": {"bytes": PNG}}}, "document.format"),
    ],
)
def test_what_cannot_be_translated_is_refused_by_name(block: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        decode_request({"messages": [{"role": "user", "content": [block]}]}, "m", adjusted=[])
    assert named in str(refused.value.param)


def test_an_answer_in_converses_shape_with_signed_reasoning_first() -> None:
    details = [{"type": "reasoning.text", "text": "hmm", "signature": "c2ln", "format": "anthropic-claude-v1"}]
    message = AssistantMessage(
        content="Calling.",
        tool_calls=[ToolCall("t1", "get_weather", '{"city":"Paris"}')],
        reasoning_content="hmm",
        extra={"reasoning_details": details},
    )
    response = ChatResponse(
        id="x",
        created=0,
        model="m",
        choices=[Choice(index=0, message=message, finish_reason="tool_calls")],
        usage=Usage(prompt_tokens=30, completion_tokens=5, total_tokens=35, cached_tokens=10, cache_write_tokens=4),
    )
    answer = encode_response(response, provider="openai", latency_ms=12)
    content = answer["output"]["message"]["content"]
    assert content[0] == {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "c2ln"}}}
    assert content[1] == {"text": "Calling."}
    assert content[2] == {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}}}
    assert answer["stopReason"] == "tool_use" and answer["metrics"] == {"latencyMs": 12}
    assert answer["usage"] == {
        "inputTokens": 16,
        "outputTokens": 5,
        "totalTokens": 35,
        "cacheReadInputTokens": 10,
        "cacheWriteInputTokens": 4,
    }


def _chunk(delta: Delta, finish: Any = None, usage: Usage | None = None) -> ChatChunk:
    choices = [ChunkChoice(index=0, delta=delta, finish_reason=finish)] if usage is None else []
    return ChatChunk(id="c", created=0, model="m", choices=choices, usage=usage)


async def _frames(*parts: bytes) -> Any:
    for part in parts:
        yield part


@pytest.mark.parametrize("framing", ["sse", "eventstream"])
def test_a_stream_as_conversestream_events_in_the_aws_event_stream(framing: Framing) -> None:
    """Written as SSE for the guardrails and reframed, or as the event stream at once: the same bytes either way."""
    encoder = ConverseStreamEncoder("m", provider="openai", started=0.0, framing=framing)
    sse = [
        encoder.start(),
        encoder.feed(_chunk(Delta(content="Hel"))),
        encoder.feed(_chunk(Delta(content="lo"))),
        encoder.feed(_chunk(Delta(tool_calls=[ToolCallDelta(0, "t1", "get_weather", '{"city":', "function")]))),
        encoder.feed(_chunk(Delta(tool_calls=[ToolCallDelta(0, arguments='"Paris"}')]))),
        encoder.feed(_chunk(Delta(), finish="tool_calls")),
        encoder.feed(_chunk(Delta(), usage=Usage(prompt_tokens=9, completion_tokens=3, total_tokens=12))),
        encoder.finish(),
    ]
    kind = EVENT_STREAM_TYPE if framing == "eventstream" else SSE_TYPE
    answer = as_event_stream(Answer(sse[0], CallNotes(), content_type=kind, rest=_frames(*sse[1:])))
    assert answer.content_type == EVENT_STREAM_TYPE

    async def body() -> bytes:
        assert answer.rest is not None
        return answer.body + b"".join([part async for part in answer.rest])

    whole = asyncio.run(body())
    buffer = EventStreamBuffer()
    buffer.add_data(whole)
    events = [(message.headers[":event-type"], orjson.loads(message.payload)) for message in buffer]
    names = [name for name, _ in events]
    assert names == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert events[1][1] == {"contentBlockIndex": 0, "delta": {"text": "Hel"}}
    assert events[4][1] == {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t1", "name": "get_weather"}}}
    assert events[5][1] == {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"city":'}}}
    assert events[8][1] == {"stopReason": "tool_use"}
    assert events[9][1]["usage"]["totalTokens"] == 12 and "latencyMs" in events[9][1]["metrics"]
    # The conversation log reads the same bytes back into the answer's message.
    (logged,) = CODEC.answer(answer_events([whole]))
    assert logged["finish_reason"] == "tool_use"
    assert [part["type"] for part in logged["parts"]] == ["text", "tool_call"]


def test_the_conversation_logs_codec_reads_requests_and_whole_answers() -> None:
    conversation = CODEC.request(
        {
            "system": [{"text": "Be brief."}],
            "messages": [
                {"role": "user", "content": [{"text": "Hi"}, {"image": {"format": "png", "source": {"bytes": PNG}}}]},
                {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}]},
                {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "done"}]}}]},
            ],
        }
    )
    assert conversation.system == [{"type": "text", "content": "Be brief."}]
    assert [message["role"] for message in conversation.input] == ["user", "assistant", "tool"]
    whole = {"output": {"message": {"role": "assistant", "content": [{"text": "Hello"}]}}, "stopReason": "end_turn"}
    (answered,) = CODEC.answer([whole])
    assert answered["parts"] == [{"type": "text", "content": "Hello"}] and answered["finish_reason"] == "end_turn"
    assert CODEC.request("not a body").input == [] and CODEC.answer(["x", 1]) == []


def test_sse_frames_split_anywhere_become_whole_event_messages() -> None:
    """The guardrails hand frames on in other cuts than the encoder made (a window holds text back): each event
    is still one message, whatever the cut."""
    frames = b'event: messageStart\ndata: {"role":"assistant"}\n\n' + (
        b'event: contentBlockDelta\ndata: {"contentBlockIndex":0,"delta":{"text":"a\\n\\nb"}}\n\n\n'
    )
    for cut in range(1, len(frames)):
        answer = as_event_stream(Answer(frames[:cut], CallNotes(), content_type=SSE_TYPE, rest=_frames(frames[cut:])))

        async def body(answer: Answer = answer) -> bytes:
            assert answer.rest is not None
            return answer.body + b"".join([part async for part in answer.rest])

        buffer = EventStreamBuffer()
        buffer.add_data(asyncio.run(body()))
        events = [(message.headers[":event-type"], orjson.loads(message.payload)) for message in buffer]
        assert events == [
            ("messageStart", {"role": "assistant"}),
            ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "a\n\nb"}}),
        ]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"messages": [{"role": "system", "content": [{"text": "a"}]}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": "a"}]}, "messages[0].content"),
        ({"messages": ["a"]}, "messages[0]"),
        ({"messages": [{"role": "user", "content": [{"text": 1}]}]}, "messages[0].content[0].text"),
        ({"messages": []}, "messages"),
        ({"system": [{"image": {"format": "png", "source": {"bytes": PNG}}}]}, "system[0]"),
        ({"toolConfig": {"tools": [{"nothing": {}}]}}, "toolConfig.tools[0]"),
        ({"toolConfig": {"tools": [{"toolSpec": {"name": "f"}}]}}, "toolConfig.tools[0].toolSpec.inputSchema"),
        ({"toolConfig": {"tools": [{"toolSpec": {"inputSchema": {"json": {}}}}]}}, "toolConfig.tools[0].toolSpec.name"),
        ({"toolConfig": {"tools": [WEATHER], "toolChoice": {"none": {}}}}, "toolConfig.toolChoice"),
        ({"inferenceConfig": {"maxTokens": "many"}}, "inferenceConfig.maxTokens"),
        ({"requestMetadata": {"a": 1}}, "requestMetadata"),
    ],
)
def test_a_request_of_the_wrong_shape_is_refused_by_its_path(body: dict[str, Any], named: str) -> None:
    request = {"messages": [{"role": "user", "content": [{"text": "Hi"}]}], **body}
    with pytest.raises(InvalidRequest) as refused:
        decode_request(request, "m", adjusted=[])
    assert refused.value.param == named
