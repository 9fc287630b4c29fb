"""Bedrock's InvokeModel stream helpers (providers/bedrock/wire.py): a chunk's bytes and an event's type, read off
the front where AWS and Anthropic write them, else parsed; anything else is the upstream's protocol error."""

from __future__ import annotations

import base64

import orjson
import pytest

from babelgate.errors import UpstreamProtocolError
from babelgate.providers.bedrock.wire import chunk_bytes, event_type, invoke_body

EVENT = b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}'


def test_chunk_bytes_sliced_and_parsed_agree() -> None:
    encoded = base64.b64encode(EVENT).decode()
    assert chunk_bytes(orjson.dumps({"bytes": encoded}), "aws") == EVENT
    assert chunk_bytes(orjson.dumps({"p": "abc", "bytes": encoded}), "aws") == EVENT  # not first: parsed


@pytest.mark.parametrize("payload", [b'{"bytes":"not base64!"}', b'{"p":"x"}', b"not json", b'{"bytes":7}'])
def test_chunk_bytes_refuses_a_chunk_without_base64_bytes(payload: bytes) -> None:
    with pytest.raises(UpstreamProtocolError):
        chunk_bytes(payload, "aws")


def test_event_type_read_off_the_front_or_parsed() -> None:
    assert event_type(EVENT, "aws") == "content_block_delta"
    assert event_type(b'{"index":0, "type": "message_stop"}', "aws") == "message_stop"
    assert event_type(b'{"index":0}', "aws") == ""


@pytest.mark.parametrize("data", [b"not json", b"[1]"])
def test_event_type_refuses_what_is_not_a_json_object(data: bytes) -> None:
    with pytest.raises(UpstreamProtocolError):
        event_type(data, "aws")


def test_invoke_body_takes_out_model_and_stream_and_merges_betas() -> None:
    body = {"model": "m", "stream": True, "betas": ["b2", "b1"], "max_tokens": 5}
    assert invoke_body(body, ("b1",)) == {
        "max_tokens": 5,
        "anthropic_version": "bedrock-2023-05-31",
        "anthropic_beta": ["b1", "b2"],
    }
