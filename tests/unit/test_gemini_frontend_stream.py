"""Canonical chunks → a Gemini stream (frontends/gemini/stream.py), golden: text and thoughts as they come,
function calls whole once their arguments are complete, finish reasons and usage last, as SSE events
(`alt=sse`) or as one JSON array; each element a GenerateContentResponse the google-genai SDK accepts.
And the native road's body edits and re-framing (native.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from google.genai import types as gt

from babelgate.errors import UpstreamTimeout
from babelgate.frontends.gemini import native, wire
from babelgate.frontends.gemini.stream import GeminiStreamEncoder
from babelgate.frontends.responses.reasoning import ReasoningSeal
from babelgate.schema.chat import Usage
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta, ToolCallDelta
from babelgate.sealing import Sealer

MODEL = "openai/gpt-4o-mini"


def _chunk(delta: Delta, finish: Any = None, index: int = 0) -> ChatChunk:
    return ChatChunk(
        id="r1", created=1, model="m", choices=[ChunkChoice(index=index, delta=delta, finish_reason=finish)]
    )


USAGE = ChatChunk(
    id="r1", created=1, model="m", choices=[], usage=Usage(prompt_tokens=5, completion_tokens=3, total_tokens=8)
)


def _run(encoder: GeminiStreamEncoder, chunks: list[ChatChunk]) -> bytes:
    return encoder.start() + b"".join(encoder.feed(chunk) for chunk in chunks) + encoder.finish()


def _sse(data: bytes) -> list[dict[str, Any]]:
    frames = [frame for frame in data.split(b"\n\n") if frame]
    assert all(frame.startswith(b"data: ") for frame in frames)
    return [orjson.loads(frame[6:]) for frame in frames]


def test_text_stream_as_sse() -> None:
    chunks = [
        _chunk(Delta(role="assistant", content="")),
        _chunk(Delta(reasoning_content="Hmm")),
        _chunk(Delta(content="Hel")),
        _chunk(Delta(content="lo")),
        _chunk(Delta(), "stop"),
        USAGE,
    ]
    events = _sse(_run(GeminiStreamEncoder(MODEL, sse=True, seal=None), chunks))
    assert events == [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hmm", "thought": True}]}, "index": 0}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}, "index": 0}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "index": 0}]},
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8},
            "modelVersion": MODEL,
            "responseId": "r1",
        },
    ]
    for event in events:
        gt.GenerateContentResponse.model_validate(event)


def test_function_calls_go_out_whole() -> None:
    chunks = [
        _chunk(Delta(role="assistant")),
        _chunk(Delta(tool_calls=[ToolCallDelta(index=0, id="c1", name="f", arguments='{"a"')])),
        _chunk(Delta(tool_calls=[ToolCallDelta(index=0, arguments=": 1}")])),
        _chunk(Delta(tool_calls=[ToolCallDelta(index=1, id="c2", name="g", arguments="")])),
        _chunk(Delta(), "tool_calls"),
        USAGE,
    ]
    events = _sse(_run(GeminiStreamEncoder(MODEL, sse=True, seal=None), chunks))
    assert [event["candidates"][0]["content"]["parts"] for event in events] == [
        [{"functionCall": {"id": "c1", "name": "f", "args": {"a": 1}}}],
        [{"functionCall": {"id": "c2", "name": "g", "args": {}}}],
    ]
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"


def test_json_array_stream() -> None:
    data = _run(
        GeminiStreamEncoder(MODEL, sse=False, seal=None), [_chunk(Delta(content="Hi")), _chunk(Delta(), "length")]
    )
    elements = orjson.loads(data)
    assert [element["candidates"][0].get("finishReason") for element in elements] == [None, "MAX_TOKENS"]
    assert data.startswith(b"[{") and data.endswith(b"\n]")


def test_a_broken_array_stream_ends_with_the_error_element() -> None:
    encoder = GeminiStreamEncoder(MODEL, sse=False, seal=None)
    data = (
        encoder.start()
        + encoder.feed(_chunk(Delta(content="Hi")))
        + encoder.fail(UpstreamTimeout(provider="p", phase="stream"), "en")
    )
    elements = orjson.loads(data)
    assert elements[-1]["error"]["code"] == 504 and elements[-1]["error"]["status"] == "DEADLINE_EXCEEDED"


def test_a_broken_sse_stream_ends_with_an_error_event() -> None:
    encoder = GeminiStreamEncoder(MODEL, sse=True, seal=None)
    event = _sse(encoder.fail(UpstreamTimeout(provider="p", phase="stream"), "en"))[0]
    assert event["error"]["status"] == "DEADLINE_EXCEEDED"


def test_streamed_reasoning_is_sealed_in_the_last_element() -> None:
    seal = ReasoningSeal(Sealer(b"k" * 32, purpose=b"t"), "anthropic")
    details = [{"type": "reasoning.text", "text": "T", "signature": "S"}]
    chunks = [
        _chunk(Delta(reasoning_content="T")),
        _chunk(Delta(extra={"reasoning_details": details})),
        _chunk(Delta(content="A")),
        _chunk(Delta(), "stop"),
    ]
    last = _sse(_run(GeminiStreamEncoder(MODEL, sse=True, seal=seal), chunks))[-1]
    token = wire.token_of(last["candidates"][0]["content"]["parts"][0]["thoughtSignature"])
    opened = seal.open(token or "")
    assert opened is not None and (opened.text, opened.details) == ("T", details)


def test_several_candidates_keep_their_index() -> None:
    chunks = [
        _chunk(Delta(content="a"), index=0),
        _chunk(Delta(content="b"), index=1),
        _chunk(Delta(), "stop", 0),
        _chunk(Delta(), "stop", 1),
    ]
    events = _sse(_run(GeminiStreamEncoder(MODEL, sse=True, seal=None), chunks))
    assert [c["index"] for c in events[-1]["candidates"]] == [0, 1]


# -- the native road -----------------------------------------------------------------------------


def test_native_strips_only_sealed_signatures() -> None:
    sealed = wire.signature_of("bg1.abc")
    body = {
        "contents": [
            {
                "role": "model",
                "parts": [{"text": "x", "thoughtSignature": sealed}, {"text": "y", "thoughtSignature": "CiQB"}],
            }
        ]
    }
    native.strip_sealed(body, raw=orjson.dumps(body))
    assert body["contents"][0]["parts"] == [{"text": "x"}, {"text": "y", "thoughtSignature": "CiQB"}]


@pytest.mark.parametrize(
    "batches", [[b'data: {"a":1}\n\ndata: {"a":2}\n\n'], [b'data: {"a":1}\n\n', b'data: {"a":2}\n\n']]
)
def test_native_sse_is_reframed_as_an_array(batches: list[bytes]) -> None:
    async def frames() -> AsyncIterator[bytes]:
        for batch in batches:
            yield batch

    async def collect() -> bytes:
        framing = GeminiStreamEncoder(MODEL, sse=False, seal=None)
        return b"".join([piece async for piece in native._array(frames(), framing)])

    assert orjson.loads(asyncio.run(collect())) == [{"a": 1}, {"a": 2}]
