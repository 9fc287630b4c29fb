"""A fast fake OpenAI-compatible upstream for the benchmark: fixed answers, no model, no I/O besides the socket.

It serves `POST /v1/chat/completions` (a fixed `chat.completion`, or for `"stream": true` a stream of
N `chat.completion.chunk` SSE frames and `data: [DONE]`) and `GET /v1/models`, and in the other providers'
wire formats, for the translated paths (the same answer text): Anthropic `POST /v1/messages` (a `message`,
or its event stream), Gemini `POST /v1beta/models/{model}:generateContent` (a `GenerateContentResponse`)
and `:streamGenerateContent?alt=sse` (its chunks), and Mistral `POST /mistral/v1/chat/completions`
(Mistral's `chat.completion` or chunk stream; under a prefix, so that
`MISTRAL_BASE_URL=http://host:port/mistral` keeps it apart from OpenAI's).

Every stream carries the same text: `chunks - 1` tokens (`token(i)`), one per event, one write each,
`--chunk-delay-ms` apart; the events around them (Anthropic's message_start/content_block_start/ping and
content_block_stop/message_delta/message_stop, Mistral's role chunk, the `[DONE]`s) are written as the
real APIs send them. The shapes follow the test suite's fakes (tests/fakes/*_upstream.py), which are
checked against each provider's SDK.
It is a raw asyncio Protocol with a minimal HTTP/1.1 parser and precomputed responses, so that it costs as little CPU as
possible: the benchmark measures the gateway, and this process shares a core with the load generator.

Faults, for the soak (bench/soak.py): a request whose model (in the body, or Gemini's in the path) is
`fault-<kind>` gets that fault instead of an answer: `fault-500` (an error status), `fault-garbage`
(200 with a body that is not JSON), `fault-reset` (half a head, then a TCP reset), `fault-truncated`
(a stream that stops after two events, without its end) and `fault-stall` (no answer at all, until the
gateway's timeout gives up).

Run: `python bench/fake_upstream.py --port 0 --chunks 50 --chunk-delay-ms 1`; it prints `READY <port>`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import re
import signal
import socket
import struct
import sys
from dataclasses import dataclass
from typing import Any, Final, cast

MODEL: Final = "gpt-4o-mini-2024-07-18"
CREATED: Final = 1_732_000_000
COMPLETION_ID: Final = "chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz012"
FINGERPRINT: Final = "fp_0ba0d124f1"
MAX_HEAD: Final = 64 * 1024
MAX_BODY: Final = 8 * 1024 * 1024

# A byte search instead of a JSON parse: the gateway (orjson) writes no spaces, Python's json does.
_STREAM_TRUE: Final = re.compile(rb'"stream"\s*:\s*true')
_FAULT: Final = re.compile(rb"fault-(500|garbage|reset|truncated|stall)")
_INCLUDE_USAGE: Final = re.compile(rb'"include_usage"\s*:\s*true')

ANSWER: Final = (
    "A load balancer spreads incoming requests across several servers so that no single one is "
    "overwhelmed. It checks which servers are healthy, sends each request to one of them (round robin, "
    "least connections or a hash of the client), and takes failed servers out of rotation until they "
    "recover. This improves throughput, latency under load and availability."
)
USAGE: Final = {
    "prompt_tokens": 42,
    "completion_tokens": 71,
    "total_tokens": 113,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
# Headers a real OpenAI answer carries; a gateway that looks at them pays for it here too.
UPSTREAM_HEADERS: Final = (
    b"openai-organization: org-bench\r\n"
    b"openai-processing-ms: 312\r\n"
    b"openai-version: 2020-10-01\r\n"
    b"x-ratelimit-limit-requests: 30000\r\n"
    b"x-ratelimit-limit-tokens: 150000000\r\n"
    b"x-ratelimit-remaining-requests: 29999\r\n"
    b"x-ratelimit-remaining-tokens: 149999950\r\n"
    b"x-ratelimit-reset-requests: 2ms\r\n"
    b"x-ratelimit-reset-tokens: 0s\r\n"
    b"x-request-id: req_7f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99\r\n"
)


def token(index: int) -> str:
    """The content of stream chunk `index`; the load generator checks order against it."""
    return f" w{index}"


def completion_body() -> bytes:
    body = {
        "id": COMPLETION_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    return json.dumps(body, separators=(",", ":")).encode()


# The other providers' answers: the same text, in each wire format, as the real APIs send it (field order
# included), with the headers each sends. Shapes as in tests/fakes/*_upstream.py (message(), response(),
# completion()).
ANTHROPIC_MODEL: Final = "claude-sonnet-4-5-20250929"
GEMINI_MODEL: Final = "gemini-2.5-flash"
MISTRAL_MODEL: Final = "mistral-small-latest"
ANTHROPIC_HEADERS: Final = (
    b"request-id: req_011CVbenchAnthropicRequest01\r\n"
    b"anthropic-organization-id: 0f3c2b1a-0e9d-4c7b-8a5f-4e3d2c1b0a99\r\n"
    b"anthropic-ratelimit-requests-limit: 4000\r\n"
    b"anthropic-ratelimit-requests-remaining: 3999\r\n"
    b"anthropic-ratelimit-requests-reset: 2026-11-21T10:00:01Z\r\n"
    b"anthropic-ratelimit-tokens-limit: 2000000\r\n"
    b"anthropic-ratelimit-tokens-remaining: 1999900\r\n"
    b"anthropic-ratelimit-tokens-reset: 2026-11-21T10:00:01Z\r\n"
)
GEMINI_HEADERS: Final = (
    b"vary: Origin\r\nvary: X-Origin\r\nvary: Referer\r\nserver: scaffolding on HTTPServer2\r\n"
    b"server-timing: gfet4t7; dur=312\r\nx-xss-protection: 0\r\nx-frame-options: SAMEORIGIN\r\n"
    b"x-content-type-options: nosniff\r\n"
)
MISTRAL_HEADERS: Final = (
    b"mistral-correlation-id: 0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\r\n"
    b"x-kong-request-id: 3f1c9a7be2d54c0e9b8a6f4d2c1e0b9a\r\n"
    b"x-ratelimit-limit-tokens-minute: 500000\r\n"
    b"x-ratelimit-remaining-tokens-minute: 499887\r\n"
    b"x-ratelimit-limit-req-minute: 60\r\n"
    b"x-ratelimit-remaining-req-minute: 59\r\n"
)


ANTHROPIC_MESSAGE_ID: Final = "msg_01XFDUDYJgAACzvnptvVoYEL"
GEMINI_RESPONSE_ID: Final = "FakeRespIdAbC123xyz"
MISTRAL_COMPLETION_ID: Final = "3f1c9a7be2d54c0e9b8a6f4d2c1e0b9a"
# Prompt token counts, one per provider: an answer that carries one proves which upstream the gateway called.
ANTHROPIC_INPUT_TOKENS: Final = 412
GEMINI_PROMPT_TOKENS: Final = 98
MISTRAL_PROMPT_TOKENS: Final = 131


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def anthropic_usage(output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": ANTHROPIC_INPUT_TOKENS,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def anthropic_body() -> bytes:
    body = {
        "id": ANTHROPIC_MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "model": ANTHROPIC_MODEL,
        "content": [{"type": "text", "text": ANSWER}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": anthropic_usage(71),
    }
    return _json(body)


def gemini_body() -> bytes:
    body = {
        "candidates": [
            {
                "content": {"parts": [{"text": ANSWER}], "role": "model"},
                "finishReason": "STOP",
                "avgLogprobs": -0.0731,
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 98,
            "candidatesTokenCount": 71,
            "totalTokenCount": 169,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 98}],
        },
        "modelVersion": GEMINI_MODEL,
        "responseId": GEMINI_RESPONSE_ID,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def mistral_body() -> bytes:
    body = {
        "id": MISTRAL_COMPLETION_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": MISTRAL_MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER, "tool_calls": None},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 131, "completion_tokens": 71, "total_tokens": 202},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def chunk_payloads(chunks: int, include_usage: bool) -> list[dict[str, Any]]:
    """The stream's events: a role+content chunk, content chunks, the finish chunk (N in all), maybe usage."""

    def chunk(delta: dict[str, Any], finish: str | None, choices: bool = True) -> dict[str, Any]:
        event: dict[str, Any] = {
            "id": COMPLETION_ID,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": MODEL,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if choices else [],
        }
        if include_usage:
            event["usage"] = None
        return event

    events = [chunk({"role": "assistant", "content": token(0), "refusal": None}, None)]
    events += [chunk({"content": token(index)}, None) for index in range(1, chunks - 1)]
    events.append(chunk({}, "stop"))
    if include_usage:
        final = chunk({}, None, choices=False)
        final["usage"] = USAGE
        events.append(final)
    return events


def sse_frames(chunks: int, include_usage: bool) -> list[bytes]:
    """OpenAI's stream: each event its own SSE frame, then `[DONE]`."""
    frames = [b"data: " + _json(event) + b"\n\n" for event in chunk_payloads(chunks, include_usage)]
    frames.append(b"data: [DONE]\n\n")
    return frames


def anthropic_sse(event: dict[str, Any]) -> bytes:
    """Anthropic's framing: the SSE event name repeats the JSON's `type` (the SDK dispatches on it)."""
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + _json(event) + b"\n\n"


def anthropic_stream_frames(chunks: int) -> list[bytes]:
    """message_start, content_block_start and ping together (the API sends them at once), a text_delta per
    token, then content_block_stop, message_delta (stop_reason, cumulative output tokens) and message_stop."""
    return [b"".join(map(anthropic_sse, events)) for events in anthropic_stream_events(chunks)]


def bedrock_stream_frames(chunks: int) -> list[bytes]:
    """Claude on Bedrock (InvokeModelWithResponseStream): the same events, each in an event-stream `chunk`
    message with the event's JSON base64 in `bytes`, as AWS sends them (prelude and message CRC32s)."""
    return [b"".join(_bedrock_chunk(event) for event in events) for events in anthropic_stream_events(chunks)]


def _bedrock_chunk(event: dict[str, Any]) -> bytes:
    payload = b'{"bytes":"' + base64.b64encode(_json(event)) + b'"}'
    headers = b"".join(
        struct.pack("!B", len(name)) + name + b"\x07" + struct.pack("!H", len(value)) + value
        for name, value in (
            (b":event-type", b"chunk"),
            (b":content-type", b"application/json"),
            (b":message-type", b"event"),
        )
    )
    prelude = struct.pack("!II", 12 + len(headers) + len(payload) + 4, len(headers))
    message = prelude + struct.pack("!I", binascii.crc32(prelude)) + headers + payload
    return message + struct.pack("!I", binascii.crc32(message))


def anthropic_stream_events(chunks: int) -> list[list[dict[str, Any]]]:
    """The Anthropic stream's events, grouped by the write that sends them."""
    tokens = chunks - 1
    start: dict[str, Any] = {
        "id": ANTHROPIC_MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "model": ANTHROPIC_MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": anthropic_usage(1),
    }
    opening: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
    ]
    deltas = [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": token(index)}}
        for index in range(tokens)
    ]
    closing: list[dict[str, Any]] = [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": tokens},
        },
        {"type": "message_stop"},
    ]
    return [opening, *([delta] for delta in deltas), closing]


def gemini_stream_frames(chunks: int) -> list[bytes]:
    """`alt=sse`: one GenerateContentResponse per token, data-only, CRLF-framed as Google sends them; every
    chunk has usageMetadata (the prompt count until the last, which has the full count and finishReason)."""
    tokens = chunks - 1
    details = [{"modality": "TEXT", "tokenCount": GEMINI_PROMPT_TOKENS}]
    partial = {
        "promptTokenCount": GEMINI_PROMPT_TOKENS,
        "totalTokenCount": GEMINI_PROMPT_TOKENS,
        "promptTokensDetails": details,
    }
    final = {
        "promptTokenCount": GEMINI_PROMPT_TOKENS,
        "candidatesTokenCount": tokens,
        "totalTokenCount": GEMINI_PROMPT_TOKENS + tokens,
        "promptTokensDetails": details,
    }

    def chunk(index: int) -> dict[str, Any]:
        last = index == tokens - 1
        candidate: dict[str, Any] = {"content": {"parts": [{"text": token(index)}], "role": "model"}}
        if last:
            candidate["finishReason"] = "STOP"
        candidate["index"] = 0
        return {
            "candidates": [candidate],
            "usageMetadata": final if last else partial,
            "modelVersion": GEMINI_MODEL,
            "responseId": GEMINI_RESPONSE_ID,
        }

    return [b"data: " + _json(chunk(index)) + b"\r\n\r\n" for index in range(tokens)]


def mistral_stream_frames(chunks: int) -> list[bytes]:
    """A role chunk (`content: ""`), a chunk per token, the last with finish_reason and usage (Mistral sends
    usage there unasked, and no separate usage chunk), then `[DONE]`."""
    tokens = chunks - 1
    usage = {
        "prompt_tokens": MISTRAL_PROMPT_TOKENS,
        "completion_tokens": tokens,
        "total_tokens": MISTRAL_PROMPT_TOKENS + tokens,
    }

    def chunk(delta: dict[str, Any], last: bool = False) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": MISTRAL_COMPLETION_ID,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": MISTRAL_MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if last else None}],
        }
        if last:
            payload["usage"] = usage
        return payload

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": token(index)}, index == tokens - 1) for index in range(tokens)]
    return [*(b"data: " + _json(event) + b"\n\n" for event in events), b"data: [DONE]\n\n"]


@dataclass(frozen=True, slots=True)
class StreamAnswer:
    """A prebuilt stream: the response head (all but the connection header) and the body, write by write."""

    head: bytes
    writes: list[bytes]  # each one HTTP chunk; the last also ends the body (not one delay later)

    @classmethod
    def build(
        cls, frames: list[bytes], headers: bytes, content_type: bytes = b"text/event-stream; charset=utf-8"
    ) -> StreamAnswer:
        head = (
            b"HTTP/1.1 200 OK\r\ncontent-type: " + content_type + b"\r\ncache-control: no-cache\r\n"
            b"transfer-encoding: chunked\r\n" + headers
        )
        writes = [b"%x\r\n%s\r\n" % (len(frame), frame) for frame in frames]
        writes[-1] += b"0\r\n\r\n"
        return cls(head, writes)


def plain_response(
    status: bytes,
    body: bytes,
    keep_alive: bool,
    headers: bytes = UPSTREAM_HEADERS,
    content_type: bytes = b"application/json",
) -> bytes:
    connection = b"keep-alive" if keep_alive else b"close"
    return (
        b"HTTP/1.1 "
        + status
        + b"\r\ncontent-type: "
        + content_type
        + b"\r\n"
        + headers
        + b"content-length: %d\r\nconnection: %s\r\n\r\n" % (len(body), connection)
        + body
    )


@dataclass(frozen=True, slots=True)
class Answers:
    """Every response prebuilt once, so serving one is a dict lookup and a write."""

    completion: dict[bool, bytes]
    models: dict[bool, bytes]
    not_found: dict[bool, bytes]
    stream: dict[bool, StreamAnswer]  # OpenAI's, by include_usage
    chunk_delay: float
    anthropic: dict[bool, bytes]
    gemini: dict[bool, bytes]
    mistral: dict[bool, bytes]
    anthropic_stream: StreamAnswer
    bedrock_stream: StreamAnswer
    gemini_stream: StreamAnswer
    mistral_stream: StreamAnswer

    @classmethod
    def build(cls, chunks: int, chunk_delay: float) -> Answers:
        models = json.dumps(
            {
                "object": "list",
                "data": [
                    {"id": name, "object": "model", "created": CREATED, "owned_by": "system"}
                    for name in ("gpt-4o-mini", "gpt-4o", MODEL)
                ],
            }
        ).encode()
        missing = json.dumps(
            {"error": {"message": "not found", "type": "invalid_request_error", "param": None, "code": "not_found"}}
        ).encode()
        return cls(
            completion={ka: plain_response(b"200 OK", completion_body(), ka) for ka in (True, False)},
            models={ka: plain_response(b"200 OK", models, ka) for ka in (True, False)},
            not_found={ka: plain_response(b"404 Not Found", missing, ka) for ka in (True, False)},
            stream={usage: StreamAnswer.build(sse_frames(chunks, usage), UPSTREAM_HEADERS) for usage in (True, False)},
            chunk_delay=chunk_delay,
            anthropic={ka: plain_response(b"200 OK", anthropic_body(), ka, ANTHROPIC_HEADERS) for ka in (True, False)},
            gemini={
                ka: plain_response(b"200 OK", gemini_body(), ka, GEMINI_HEADERS, b"application/json; charset=UTF-8")
                for ka in (True, False)
            },
            mistral={ka: plain_response(b"200 OK", mistral_body(), ka, MISTRAL_HEADERS) for ka in (True, False)},
            anthropic_stream=StreamAnswer.build(anthropic_stream_frames(chunks), ANTHROPIC_HEADERS),
            bedrock_stream=StreamAnswer.build(
                bedrock_stream_frames(chunks), UPSTREAM_HEADERS, b"application/vnd.amazon.eventstream"
            ),
            gemini_stream=StreamAnswer.build(gemini_stream_frames(chunks), GEMINI_HEADERS, b"text/event-stream"),
            mistral_stream=StreamAnswer.build(mistral_stream_frames(chunks), MISTRAL_HEADERS),
        )


@dataclass(slots=True)
class Request:
    method: bytes
    path: bytes
    body: bytes
    keep_alive: bool


def parse_request(buffer: bytearray) -> tuple[Request, int] | None:
    """One complete request at the start of `buffer` and its length in bytes, or None if more is needed."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEAD:
            raise ValueError("request head too large")
        return None
    lines = bytes(buffer[:end]).split(b"\r\n")
    method, path, version = lines[0].split(b" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    keep_alive = headers.get(b"connection", b"").lower() != b"close" and version == b"HTTP/1.1"
    start = end + 4
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        decoded = decode_chunked(buffer, start)
        if decoded is None:
            return None
        body, consumed = decoded
        return Request(method, path, body, keep_alive), consumed
    length = int(headers.get(b"content-length", b"0"))
    if length > MAX_BODY:
        raise ValueError("request body too large")
    if len(buffer) < start + length:
        return None
    return Request(method, path, bytes(buffer[start : start + length]), keep_alive), start + length


def decode_chunked(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """A chunked body starting at `start`: (body, end offset), or None while incomplete. Trailers unsupported."""
    parts: list[bytes] = []
    position = start
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
        if size == 0:
            if len(buffer) < line_end + 4:
                return None
            return b"".join(parts), line_end + 4
        data_start = line_end + 2
        if len(buffer) < data_start + size + 2:
            return None
        parts.append(bytes(buffer[data_start : data_start + size]))
        position = data_start + size + 2


class UpstreamProtocol(asyncio.Protocol):
    """One client connection: requests are answered in order; a delayed stream holds back the next one."""

    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.streaming: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have the same methods.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.streaming is not None:
            self.streaming.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.process()

    def process(self) -> None:
        while self.transport is not None and self.streaming is None:
            try:
                parsed = parse_request(self.buffer)
            except ValueError:
                self.transport.write(self.answers.not_found[False])
                self.transport.close()
                return
            if parsed is None:
                return
            request, consumed = parsed
            del self.buffer[:consumed]
            self.respond(request)

    def respond(self, request: Request) -> None:
        assert self.transport is not None
        fault = _FAULT.search(request.path) or _FAULT.search(request.body)
        if fault is not None:
            self.fault(fault.group(1), _STREAM_TRUE.search(request.body) is not None or b"stream" in request.path)
            return
        answer = self.answer_for(request)
        if isinstance(answer, StreamAnswer):
            self.start_stream(answer, request.keep_alive)
            return
        self.transport.write(answer)
        if not request.keep_alive:
            self.transport.close()

    def fault(self, kind: bytes, stream: bool) -> None:
        """Answer with the fault the request's model asks for (see the module's docstring)."""
        transport = self.transport
        assert transport is not None
        if kind == b"500":
            transport.write(
                plain_response(
                    b"500 Internal Server Error",
                    b'{"error": {"message": "injected fault", "type": "server_error"}}',
                    True,
                )
            )
        elif kind == b"garbage":
            transport.write(plain_response(b"200 OK", b'{"id": "x", "choices": [{"mess', True))
        elif kind == b"truncated" and stream:
            answer = self.answers.stream[False]
            transport.write(answer.head + b"connection: close\r\n\r\n" + b"".join(answer.writes[:2]))
            transport.close()
        elif kind == b"stall":
            pass  # nothing, ever: the gateway's first-byte timeout must end it
        else:  # reset (and truncated without a stream): half a head, then RST
            transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: appl")
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.close()

    def answer_for(self, request: Request) -> bytes | StreamAnswer:
        """The prebuilt answer for a request, chosen by method, path and a byte search of the body."""
        answers, keep_alive, path = self.answers, request.keep_alive, request.path
        stream = request.method == b"POST" and _STREAM_TRUE.search(request.body) is not None
        if request.method == b"GET" and path.startswith(b"/v1/models"):
            return answers.models[keep_alive]
        if request.method != b"POST":
            return answers.not_found[keep_alive]
        if path.startswith((b"/v1/chat/completions", b"/openai/v1/chat/completions")):  # OpenAI, Azure's v1 API
            if stream:
                return answers.stream[_INCLUDE_USAGE.search(request.body) is not None]
            return answers.completion[keep_alive]
        if path.startswith(b"/model/"):  # Claude on Bedrock: Anthropic's answer, its stream in event-stream frames
            if path.endswith(b"/invoke-with-response-stream"):
                return answers.bedrock_stream
            return answers.anthropic[keep_alive]
        if path.startswith(b"/v1/messages"):
            return answers.anthropic_stream if stream else answers.anthropic[keep_alive]
        gemini = path.startswith(b"/v1beta/models/") or b"/publishers/google/models/" in path  # Gemini API, Vertex
        if gemini and b":streamGenerateContent" in path:
            return answers.gemini_stream  # Gemini streams by route (and `alt=sse`), not by a body field
        if gemini and b":generateContent" in path:
            return answers.gemini[keep_alive]
        if path.startswith(b"/mistral/v1/chat/completions"):
            return answers.mistral_stream if stream else answers.mistral[keep_alive]
        return answers.not_found[keep_alive]

    def start_stream(self, answer: StreamAnswer, keep_alive: bool) -> None:
        assert self.transport is not None
        head = answer.head + (b"connection: keep-alive\r\n\r\n" if keep_alive else b"connection: close\r\n\r\n")
        frames = answer.writes
        if self.answers.chunk_delay <= 0:
            # No delay: the whole stream in one write, the cheapest case for everyone.
            self.transport.write(head + b"".join(frames))
            if not keep_alive:
                self.transport.close()
            return
        self.transport.write(head)
        self.streaming = asyncio.get_running_loop().create_task(self.trickle(frames, keep_alive))

    async def trickle(self, frames: list[bytes], keep_alive: bool) -> None:
        """Write the frames one by one with a pause between, as a model producing tokens would."""
        try:
            for index, frame in enumerate(frames):
                if index:  # between frames only: a pause after the last would delay the next request
                    await asyncio.sleep(self.answers.chunk_delay)
                if self.transport is None or self.transport.is_closing():
                    return
                self.transport.write(frame)
        finally:
            self.streaming = None
        if not keep_alive and self.transport is not None:
            self.transport.close()
            return
        self.process()  # a request that arrived during the stream (pipelining) is answered now


async def serve(host: str, port: int, answers: Answers) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: UpstreamProtocol(answers), host, port, backlog=1024, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bound = server.sockets[0].getsockname()[1]
    print(f"READY {bound}", flush=True)
    await stop.wait()
    # No wait_closed(): it can wait for idle keep-alive connections, and a stop must not hang.
    server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed as READY <port>)")
    parser.add_argument("--chunks", type=int, default=50, help="chunks per stream, the finish chunk included")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="pause between stream chunks")
    args = parser.parse_args()
    if args.chunks < 2:
        parser.error("--chunks must be at least 2 (a content chunk and the finish chunk)")
    answers = Answers.build(args.chunks, args.chunk_delay_ms / 1000)
    try:
        import uvloop
    except ImportError:  # plain asyncio works, only slower
        asyncio.run(serve(args.host, args.port, answers))
    else:
        uvloop.run(serve(args.host, args.port, answers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
