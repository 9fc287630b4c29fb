"""Golden tests of Gemini stream chunks → canonical chunks (providers/gemini/stream.py).

Each SSE payload is a partial GenerateContentResponse, checked against the official SDK's model
(so the fixtures cannot drift from the real shapes) unless it is deliberately broken. The choices
the translator produces are compared whole, in order; the chunks are then encoded by the OpenAI
frontend and every one is validated with openai's `ChatCompletionChunk`.
"""

from __future__ import annotations

import base64
import warnings
from typing import Any, Self

import orjson
import pytest
from google.genai import types
from openai.types.chat import ChatCompletionChunk

from babelgate.errors import (
    GatewayError,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from babelgate.frontends.openai_chat.stream import OpenAIChatStreamEncoder
from babelgate.frontends.openai_errors import error_object
from babelgate.observability.logging import Scrubber
from babelgate.providers.gemini.stream import GeminiStreamTranslator
from babelgate.providers.gemini.translate import from_wire
from babelgate.schema.chat import Usage
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta, ToolCallDelta
from babelgate.streaming import SSE_DONE, SSEEvent

JSON = dict[str, Any]
CREATED = 1_700_000_000
REQUESTED = "gemini-2.5-flash"
MODEL = "gemini-2.5-flash-preview-09-2025"
RESPONSE_ID = "Yx9aaJ3nLsKMz7IPq5vF8Qc"
SECRET = "AIzaSyD-gemini-test-key-0123456789abcd"
SCRUB = Scrubber([SECRET])
SIGNATURE = base64.b64encode(b"thought signature of call one").decode()
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n-image-bytes").decode()
MINTED_WEATHER_0 = "call_bgd754c9cc2527e95c55fc"  # minted_id(RESPONSE_ID, 0, 0, "get_weather")
MINTED_WEATHER_1 = "call_bg5c86f84435c2aa80735a"  # minted_id(RESPONSE_ID, 0, 1, "get_weather")


class GeminiChunks:
    """Builds the payloads of a `streamGenerateContent?alt=sse` stream, one SSE event each."""

    def __init__(self) -> None:
        self.events: list[SSEEvent] = []

    def payload(self, payload: Any, *, checked: bool = True) -> Self:
        if checked:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # the SDK only warns about unknown enum values
                types.GenerateContentResponse.model_validate_json(orjson.dumps(payload))
        self.events.append(SSEEvent(data=orjson.dumps(payload).decode()))
        return self

    def raw(self, data: str) -> Self:
        self.events.append(SSEEvent(data=data))
        return self

    def candidates(self, *candidates: JSON, usage: JSON | None = None) -> Self:
        payload: JSON = {"candidates": list(candidates), "modelVersion": MODEL, "responseId": RESPONSE_ID}
        if usage is not None:
            payload["usageMetadata"] = usage
        return self.payload(payload)

    def parts(self, *parts: JSON, finish: str | None = None, index: int = 0, usage: JSON | None = None) -> Self:
        return self.candidates(candidate(*parts, finish=finish, index=index), usage=usage)

    def text(self, *pieces: str) -> Self:
        for piece in pieces:
            self.parts({"text": piece})
        return self

    def error(self, error: JSON) -> Self:
        return self.payload({"error": error}, checked=False)


def candidate(*parts: JSON, finish: str | None = None, index: int = 0) -> JSON:
    value: JSON = {"content": {"role": "model", "parts": list(parts)}, "index": index}
    if finish is not None:
        value["finishReason"] = finish
    return value


def translator() -> GeminiStreamTranslator:
    return GeminiStreamTranslator("gemini", created=CREATED, model=REQUESTED, scrub=SCRUB)


def run(chunks: GeminiChunks, stream: GeminiStreamTranslator | None = None) -> list[ChatChunk]:
    stream = stream or translator()
    return [chunk for event in chunks.events for chunk in stream.feed(event)]


def flat(chunks: list[ChatChunk]) -> list[ChunkChoice]:
    """The choices in order; every chunk names the response and the model that answered."""
    for item in chunks:
        assert (item.id, item.created, item.model, item.usage) == (RESPONSE_ID, CREATED, MODEL, None)
    return [choice for item in chunks for choice in item.choices]


def choice(delta: Delta, finish: Any = None, index: int = 0) -> ChunkChoice:
    return ChunkChoice(index=index, delta=delta, finish_reason=finish)


ROLE = choice(Delta(role="assistant", content=""))


def usage_chunk(usage: Usage | None) -> ChatChunk:
    return ChatChunk(id=RESPONSE_ID, created=CREATED, model=MODEL, choices=[], usage=usage)


def encoded(chunks: list[ChatChunk]) -> list[JSON]:
    """The chunks as an OpenAI client receives them (include_usage on), each validated by openai."""
    encoder = OpenAIChatStreamEncoder(include_usage=True)
    stream = b"".join(encoder.feed(item) for item in chunks) + encoder.finish()
    assert stream.endswith(SSE_DONE)
    frames = stream[: -len(SSE_DONE)].split(b"\n\n")
    assert frames.pop() == b""
    payloads = []
    for frame in frames:
        assert frame.startswith(b"data: ")
        payload = orjson.loads(frame[len(b"data: ") :])
        ChatCompletionChunk.model_validate(payload)
        payloads.append(payload)
    return payloads


def encoded_choices(payloads: list[JSON]) -> list[JSON]:
    for payload in payloads:
        assert {k: payload[k] for k in ("id", "object", "created", "model")} == {
            "id": RESPONSE_ID,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": MODEL,
        }
    return [item for payload in payloads for item in payload["choices"]]


def wire_choice(delta: JSON, finish: str | None = None, index: int = 0) -> JSON:
    return {"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}


# --- complete streams ----------------------------------------------------------------------------


def test_text_stream() -> None:
    stream = translator()
    chunks = run(
        GeminiChunks()
        .parts({"text": "Hello"}, usage={"promptTokenCount": 9, "totalTokenCount": 9})
        .text(" wor")
        .parts(
            {"text": "ld"},
            finish="STOP",
            usage={"promptTokenCount": 9, "candidatesTokenCount": 3, "totalTokenCount": 12},
        ),
        stream,
    )
    assert flat(chunks) == [
        ROLE,
        choice(Delta(content="Hello")),
        choice(Delta(content=" wor")),
        choice(Delta(content="ld")),
        choice(Delta(), "stop"),
    ]
    usage = Usage(prompt_tokens=9, completion_tokens=3, total_tokens=12, cached_tokens=0, reasoning_tokens=0)
    end = stream.finish()
    assert end == [usage_chunk(usage)]
    assert stream.finish_reason == "stop"
    payloads = encoded(chunks + end)
    assert encoded_choices(payloads) == [
        wire_choice({"role": "assistant", "content": ""}),
        wire_choice({"content": "Hello"}),
        wire_choice({"content": " wor"}),
        wire_choice({"content": "ld"}),
        wire_choice({}, "stop"),
    ]
    assert all(payload["usage"] is None for payload in payloads[:-1])
    assert payloads[-1] == {
        "id": RESPONSE_ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "choices": [],
        "usage": {
            "prompt_tokens": 9,
            "completion_tokens": 3,
            "total_tokens": 12,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def test_thoughts_stream_as_reasoning_content() -> None:
    stream = translator()
    chunks = run(
        GeminiChunks()
        .parts({"text": "**Weighing** options", "thought": True})
        .parts({"text": "", "thought": True, "thoughtSignature": SIGNATURE})
        .parts(
            {"text": "Answer."},
            finish="STOP",
            usage={"promptTokenCount": 5, "candidatesTokenCount": 2, "thoughtsTokenCount": 30, "totalTokenCount": 37},
        ),
        stream,
    )
    assert flat(chunks) == [
        ROLE,
        choice(Delta(reasoning_content="**Weighing** options")),
        choice(Delta(content="Answer.")),
        choice(Delta(), "stop"),
    ]
    end = stream.finish()
    assert end == [
        usage_chunk(Usage(prompt_tokens=5, completion_tokens=32, total_tokens=37, cached_tokens=0, reasoning_tokens=30))
    ]
    assert encoded_choices(encoded(chunks + end))[1] == wire_choice({"reasoning_content": "**Weighing** options"})


def test_function_calls_in_separate_chunks_get_indexes_in_arrival_order() -> None:
    stream = translator()
    chunks = run(
        GeminiChunks()
        .text("Checking both.")
        .parts(
            {
                "functionCall": {"id": "fc_a1", "name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": SIGNATURE,
            }
        )
        .parts({"functionCall": {"id": "fc_b2", "name": "get_time", "args": {}}})
        .parts(
            {"text": ""},
            finish="STOP",
            usage={"promptTokenCount": 20, "candidatesTokenCount": 12, "totalTokenCount": 32},
        ),
        stream,
    )
    signed = f"fc_a1~sig~{SIGNATURE}"
    assert flat(chunks) == [
        ROLE,
        choice(Delta(content="Checking both.")),
        choice(
            Delta(
                tool_calls=[
                    ToolCallDelta(index=0, id=signed, name="get_weather", arguments='{"city":"Paris"}', type="function")
                ]
            )
        ),
        choice(
            Delta(tool_calls=[ToolCallDelta(index=1, id="fc_b2", name="get_time", arguments="{}", type="function")])
        ),
        choice(Delta(), "tool_calls"),
    ]
    end = stream.finish()
    assert stream.finish_reason == "tool_calls"
    assert encoded_choices(encoded(chunks + end))[2:] == [
        wire_choice(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": signed,
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ]
            }
        ),
        wire_choice(
            {
                "tool_calls": [
                    {"index": 1, "id": "fc_b2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
                ]
            }
        ),
        wire_choice({}, "tool_calls"),
    ]


def test_calls_without_ids_get_the_same_minted_ids_as_the_non_streaming_answer() -> None:
    paris = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
    rome = {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}
    chunks = run(GeminiChunks().parts(paris).parts(rome, finish="STOP"))
    calls = [call for item in flat(chunks) for call in item.delta.tool_calls or ()]
    assert calls == [
        ToolCallDelta(index=0, id=MINTED_WEATHER_0, name="get_weather", arguments='{"city":"Paris"}', type="function"),
        ToolCallDelta(index=1, id=MINTED_WEATHER_1, name="get_weather", arguments='{"city":"Rome"}', type="function"),
    ]
    whole = from_wire(
        {"candidates": [candidate(paris, rome, finish="STOP")], "responseId": RESPONSE_ID},
        created=CREATED,
        model=REQUESTED,
    )
    assert [call.id for call in whole.choices[0].message.tool_calls or ()] == [MINTED_WEATHER_0, MINTED_WEATHER_1]


def test_two_calls_in_one_chunk_are_two_deltas() -> None:
    chunks = run(
        GeminiChunks().parts(
            {"functionCall": {"id": "a", "name": "f", "args": {"x": 1}}},
            {"functionCall": {"id": "b", "name": "g", "args": {}}},
            finish="STOP",
        )
    )
    assert flat(chunks) == [
        ROLE,
        choice(Delta(tool_calls=[ToolCallDelta(index=0, id="a", name="f", arguments='{"x":1}', type="function")])),
        choice(Delta(tool_calls=[ToolCallDelta(index=1, id="b", name="g", arguments="{}", type="function")])),
        choice(Delta(), "tool_calls"),
    ]
    encoded(chunks)


@pytest.mark.parametrize(
    ("reason", "finish"),
    [("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("RECITATION", "content_filter"), ("OTHER", "stop")],
)
def test_finish_reasons(reason: str, finish: str) -> None:
    stream = translator()
    chunks = run(GeminiChunks().text("Some").parts({"text": " text"}, finish=reason), stream)
    assert flat(chunks)[-1] == choice(Delta(), finish)
    assert stream.finish_reason == finish


def test_image_parts_stream_as_images() -> None:
    chunks = run(
        GeminiChunks().text("Here:").parts({"inlineData": {"mimeType": "image/png", "data": PNG}}, finish="STOP")
    )
    images = [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]
    assert flat(chunks) == [
        ROLE,
        choice(Delta(content="Here:")),
        choice(Delta(extra={"images": images})),
        choice(Delta(), "stop"),
    ]
    assert encoded_choices(encoded(chunks))[2] == wire_choice({"images": images})


def test_each_candidate_gets_its_own_role_chunk_once() -> None:
    stream = translator()
    chunks = run(
        GeminiChunks()
        .candidates(candidate({"text": "A"}, index=0), candidate({"text": "B"}, index=1))
        .candidates(
            candidate({"text": "a"}, index=0, finish="STOP"), candidate({"text": "b"}, index=1, finish="MAX_TOKENS")
        ),
        stream,
    )
    assert flat(chunks) == [
        ROLE,
        choice(Delta(content="A")),
        choice(Delta(role="assistant", content=""), index=1),
        choice(Delta(content="B"), index=1),
        choice(Delta(content="a")),
        choice(Delta(), "stop"),
        choice(Delta(content="b"), index=1),
        choice(Delta(), "length", index=1),
    ]
    assert stream.finish() == [usage_chunk(None)]
    assert stream.finish_reason == "stop"
    encoded(chunks)


def test_a_usage_only_chunk_yields_nothing_but_counts() -> None:
    stream = translator()
    chunks = run(
        GeminiChunks()
        .parts({"text": "Hi"}, finish="STOP")
        .payload(
            {
                "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1, "totalTokenCount": 5},
                "modelVersion": MODEL,
                "responseId": RESPONSE_ID,
            }
        ),
        stream,
    )
    assert flat(chunks) == [ROLE, choice(Delta(content="Hi")), choice(Delta(), "stop")]
    assert stream.finish() == [
        usage_chunk(Usage(prompt_tokens=4, completion_tokens=1, total_tokens=5, cached_tokens=0, reasoning_tokens=0))
    ]


def test_a_blocked_prompt_ends_with_content_filter() -> None:
    stream = translator()
    chunks = run(
        GeminiChunks().payload(
            {
                "promptFeedback": {"blockReason": "SAFETY"},
                "usageMetadata": {"promptTokenCount": 6, "totalTokenCount": 6},
                "modelVersion": MODEL,
                "responseId": RESPONSE_ID,
            }
        ),
        stream,
    )
    assert flat(chunks) == [choice(Delta(role="assistant", content=""), "content_filter")]
    end = stream.finish()
    assert end == [
        usage_chunk(Usage(prompt_tokens=6, completion_tokens=0, total_tokens=6, cached_tokens=0, reasoning_tokens=0))
    ]
    assert stream.finish_reason == "content_filter"
    assert encoded_choices(encoded(chunks + end)) == [
        wire_choice({"role": "assistant", "content": ""}, "content_filter")
    ]


# --- the end of the stream -----------------------------------------------------------------------


def test_a_stream_that_ends_without_a_finish_reason_is_an_error() -> None:
    stream = translator()
    run(GeminiChunks().text("Hello", " wor"), stream)
    with pytest.raises(UpstreamProtocolError) as caught:
        stream.finish()
    assert caught.value.message_key == "stream_interrupted"
    assert error_object(caught.value, "en") == {
        "message": "The stream from provider 'gemini' ended before it was complete.",
        "type": "server_error",
        "param": None,
        "code": "upstream_protocol_error",
    }
    assert stream.finish_reason is None


def test_an_empty_stream_is_an_error() -> None:
    with pytest.raises(UpstreamProtocolError) as caught:
        translator().finish()
    assert caught.value.message_key == "stream_interrupted"


def test_one_unfinished_candidate_of_two_is_an_error() -> None:
    stream = translator()
    run(
        GeminiChunks().candidates(candidate({"text": "A"}, index=0, finish="STOP"), candidate({"text": "B"}, index=1)),
        stream,
    )
    with pytest.raises(UpstreamProtocolError):
        stream.finish()


# --- errors inside the stream --------------------------------------------------------------------

AUTH_MESSAGE = "The gateway's credentials for provider gemini were rejected."
KEY_INVALID_DETAILS = [
    {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }
]


@pytest.mark.parametrize(
    ("error", "cls", "status", "client"),
    [
        (
            {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"},
            UpstreamRateLimited,
            429,
            {
                "message": "Resource has been exhausted (e.g. check quota).",
                "type": "rate_limit_error",
                "param": None,
                "code": "rate_limit_exceeded",
            },
        ),
        (
            {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"},
            UpstreamUnavailable,
            503,
            {
                "message": "Provider 'gemini' is temporarily unavailable; try again later.",
                "type": "server_error",
                "param": None,
                "code": "upstream_unavailable",
            },
        ),
        (
            {"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT"},
            UpstreamRejected,
            400,
            {
                "message": "Request contains an invalid argument.",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            },
        ),
        (
            {
                "code": 400,
                "message": f"API key not valid: {SECRET}",
                "status": "INVALID_ARGUMENT",
                "details": KEY_INVALID_DETAILS,
            },
            UpstreamAuthFailed,
            401,
            {
                "message": AUTH_MESSAGE,
                "type": "authentication_error",
                "param": None,
                "code": "upstream_authentication_error",
            },
        ),
        (
            {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"},
            UpstreamError,
            502,
            {
                "message": "Provider 'gemini' failed with HTTP status 500.",
                "type": "server_error",
                "param": None,
                "code": "upstream_error",
            },
        ),
        (
            {"code": 504, "message": "Deadline expired.", "status": "DEADLINE_EXCEEDED"},
            UpstreamTimeout,
            504,
            {
                "message": "Provider 'gemini' did not answer in time (HTTP 504).",
                "type": "timeout",
                "param": None,
                "code": "upstream_timeout",
            },
        ),
        (
            {"message": "no code at all", "status": "UNKNOWN"},
            UpstreamError,
            502,
            {
                "message": "Provider 'gemini' failed with HTTP status 500.",
                "type": "server_error",
                "param": None,
                "code": "upstream_error",
            },
        ),
    ],
    ids=["429", "503", "400", "API_KEY_INVALID", "500", "504", "no-code"],
)
def test_an_error_object_in_the_stream_raises_the_mapped_error(
    error: JSON, cls: type[GatewayError], status: int, client: JSON
) -> None:
    stream = translator()
    events = GeminiChunks().text("Partial").error(error)
    with pytest.raises(GatewayError) as caught:
        run(events, stream)
    assert type(caught.value) is cls
    assert caught.value.status == status
    assert error_object(caught.value, "en") == client


def test_a_list_wrapped_error_object_is_an_error_too() -> None:
    events = GeminiChunks().payload(
        [{"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}}], checked=False
    )
    with pytest.raises(UpstreamRateLimited) as caught:
        run(events)
    assert caught.value.raw_message == "slow down"


def test_a_key_in_a_streamed_error_message_is_scrubbed() -> None:
    events = GeminiChunks().error(
        {"code": 400, "message": f"bad header x-goog-api-key={SECRET}", "status": "INVALID_ARGUMENT"}
    )
    with pytest.raises(UpstreamRejected) as caught:
        run(events)
    assert caught.value.raw_message == "bad header x-goog-api-key=[redacted]"


@pytest.mark.parametrize(
    ("events", "detail"),
    [
        (GeminiChunks().raw("{not json"), "a stream event is not JSON"),
        (GeminiChunks().raw(""), "a stream event is not JSON"),
        (GeminiChunks().raw("[1, 2]"), "a stream event is not an object"),
        (GeminiChunks().raw("[]"), "a stream event is not an object"),
        (GeminiChunks().raw('"text"'), "a stream event is not an object"),
        (GeminiChunks().raw('{"candidates": "nope"}'), "a stream event has the wrong shape"),
        (
            GeminiChunks().raw('{"candidates": [{"content": {"parts": [{"text": 5}]}}]}'),
            "a stream event has the wrong shape",
        ),
        (
            GeminiChunks().raw('{"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]}'),
            "a stream event has the wrong shape",
        ),
        (GeminiChunks().raw('{"candidates": [{"index": "first"}]}'), "a stream event has the wrong shape"),
        (
            GeminiChunks().raw('{"candidates": [{"content": {"parts": [{"inlineData": "x"}]}}]}'),
            "a stream event has the wrong shape",
        ),
    ],
    ids=[
        "not-json",
        "empty",
        "list",
        "empty-list",
        "string",
        "candidates-string",
        "text-number",
        "call-without-name",
        "index-string",
        "inline-data-string",
    ],
)
def test_malformed_events_are_protocol_errors(events: GeminiChunks, detail: str) -> None:
    with pytest.raises(UpstreamProtocolError) as caught:
        run(GeminiChunks().text("Hi").raw(events.events[0].data))
    assert caught.value.params == {"provider": "gemini", "detail": detail}
    assert caught.value.status == 502


# --- framing -------------------------------------------------------------------------------------


def test_each_chunk_carries_one_choice_so_choices_0_readers_miss_nothing() -> None:
    chunks = run(GeminiChunks().text("Hello").parts({"text": " world"}, finish="STOP"))
    assert [len(item.choices) for item in chunks] == [1, 1, 1, 1]
    # How most clients read a stream (also this repository's integration tests):
    parsed = [ChatCompletionChunk.model_validate(payload) for payload in encoded(chunks)]
    assert "".join(c.choices[0].delta.content or "" for c in parsed if c.choices) == "Hello world"
    assert [c.choices[0].finish_reason for c in parsed if c.choices][-1] == "stop"


# --- known defects -------------------------------------------------------------------------------


def test_code_execution_parts_are_not_dropped_from_a_stream() -> None:
    code = {"executableCode": {"language": "PYTHON", "code": "print(2 + 2)"}}
    chunks = run(GeminiChunks().parts(code).parts({"text": "4"}, finish="STOP"))
    kept = [part for item in flat(chunks) for part in item.delta.extra.get("gemini_parts", ())]
    assert kept == [code]


def test_audio_parts_become_pcm16_audio_deltas_when_audio_was_asked_for() -> None:
    import base64

    pcm = bytes(range(64))
    event = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {
                            "inlineData": {
                                "mimeType": "audio/L16;codec=pcm;rate=24000",
                                "data": base64.b64encode(pcm).decode(),
                            }
                        }
                    ],
                },
                "index": 0,
            }
        ],
        "responseId": "R1",
        "modelVersion": "gemini-2.5-flash-preview-tts",
    }
    asked = GeminiStreamTranslator("gemini", created=CREATED, model=REQUESTED, scrub=SCRUB, audio_format="pcm16")
    deltas = [c.choices[0].delta for c in asked.feed_json(orjson.dumps(event)) if c.choices]
    audio = next(d.extra["audio"] for d in deltas if "audio" in d.extra)
    assert base64.b64decode(audio["data"]) == pcm and audio["id"].startswith("audio_") and audio["transcript"] == ""
    plain = [c.choices[0].delta for c in translator().feed_json(orjson.dumps(event)) if c.choices]
    assert not any("audio" in d.extra for d in plain)  # not asked for: kept as a Gemini part
