"""The cloud doors' codecs, I/O-free: the event-stream encoder read back by botocore's own parser and by the
gateway's decoder, the envelope → Messages body rule, the SSE → `chunk` reframing, and the error formats
(frontends/anthropic_clouds/, babelgate/eventstream.py)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import orjson
import pytest
from botocore.eventstream import EventStreamBuffer

from babelgate import eventstream
from babelgate.answer import Answer
from babelgate.errors import AuthenticationFailed, GatewayError, InvalidRequest, ModelNotFound
from babelgate.eventstream import EventStreamDecoder
from babelgate.frontends.anthropic_clouds import bedrock, vertex
from babelgate.frontends.anthropic_clouds.envelope import messages_body


def _botocore(data: bytes) -> list[tuple[dict[str, object], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(message.headers, message.payload) for message in buffer]


def test_a_chunk_is_what_bedrock_sends_and_botocore_reads() -> None:
    event = b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"h\xc3\xa9"}}'
    framed = eventstream.chunk(event)
    ((headers, payload),) = _botocore(framed)
    assert headers == {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
    assert base64.b64decode(orjson.loads(payload)["bytes"]) == event
    ((kind, name, ours),) = EventStreamDecoder("test").feed(framed)
    assert (kind, name, ours) == ("event", "chunk", payload)


def test_an_exception_frame_names_its_type() -> None:
    framed = eventstream.exception("modelStreamErrorException", "the upstream broke")
    ((headers, payload),) = _botocore(framed)
    assert headers[":message-type"] == "exception" and headers[":exception-type"] == "modelStreamErrorException"
    assert orjson.loads(payload) == {"message": "the upstream broke"}


def test_the_envelope_becomes_a_messages_body() -> None:
    raw = orjson.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "anthropic_beta": ["a-1", "b-2"],
            "betas": ["b-2", "c-3"],
            "max_tokens": 5,
            "messages": [],
            "stream": True,
        }
    )
    assert orjson.loads(messages_body(raw, "openai/gpt-4o-mini", stream=False)) == {
        "betas": ["a-1", "b-2", "c-3"],
        "max_tokens": 5,
        "messages": [],
        "model": "openai/gpt-4o-mini",
    }
    streamed = orjson.loads(messages_body(b'{"max_tokens": 5, "model": "ignored"}', "m", stream=True))
    assert streamed == {"max_tokens": 5, "model": "m", "stream": True}


@pytest.mark.parametrize(
    ("raw", "param"),
    [(b'{"anthropic_beta": "x"}', "anthropic_beta"), (b'{"anthropic_version": 1}', "anthropic_version")],
)
def test_a_malformed_envelope_is_refused(raw: bytes, param: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        messages_body(raw, "m", stream=False)
    assert refused.value.param == param
    with pytest.raises(InvalidRequest):
        messages_body(b"[1]", "m", stream=False)


async def _frames(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_a_streamed_answer_is_reframed_as_chunks_without_pings() -> None:
    start = b'event: message_start\ndata: {"type":"message_start"}\n\nevent: ping\ndata: {"type": "ping"}\n\n'
    # An event split across two frames is framed once it is whole.
    rest = _frames(
        b'event: message_delta\ndata: {"type":"mess', b'age_delta"}\n\n', b'data: {"type":"message_stop"}\n\n'
    )
    answer = bedrock.as_event_stream(Answer(start, None, rest=rest, on_error=lambda error, language: b""))
    assert answer.content_type == bedrock.EVENT_STREAM_TYPE and answer.on_error is bedrock.encode_stream_error
    assert answer.rest is not None
    data = answer.body + b"".join([frame async for frame in answer.rest])
    events = [orjson.loads(base64.b64decode(orjson.loads(payload)["bytes"])) for _, payload in _botocore(data)]
    assert [event["type"] for event in events] == ["message_start", "message_delta", "message_stop"]
    whole = Answer(b'{"type":"message"}', None)
    assert bedrock.as_event_stream(whole) is whole


def test_bedrock_errors() -> None:
    missing = ModelNotFound(model="nope", providers="openai")
    assert set(orjson.loads(bedrock.encode_error(missing, "en"))) == {"message"}
    assert bedrock.error_headers(missing) == [(b"x-amzn-errortype", b"ResourceNotFoundException")]
    unauthenticated = orjson.loads(bedrock.encode_error(AuthenticationFailed(), "en"))["message"]
    assert "AWS_BEARER_TOKEN_BEDROCK" in unauthenticated and "SigV4" in unauthenticated
    assert bedrock.error_name(429) == "ThrottlingException" and bedrock.error_name(500) == "InternalServerException"
    ((headers, _),) = _botocore(bedrock.encode_stream_error(GatewayError(), "en"))
    assert headers[":exception-type"] == "modelStreamErrorException"


def test_vertex_errors_are_googles() -> None:
    body = orjson.loads(vertex.encode_error(ModelNotFound(model="nope", providers="openai"), "en"))
    assert body["error"]["code"] == 404 and body["error"]["status"] == "NOT_FOUND"
    unauthenticated = orjson.loads(vertex.encode_error(AuthenticationFailed(), "en"))["error"]
    assert unauthenticated["status"] == "UNAUTHENTICATED" and "x-api-key" in unauthenticated["message"]
