"""Reading and checking the streams the bench receives, one checker per wire format.

Every stream carries the same text, `chunks - 1` tokens (fake_upstream.token), whatever the format. A
checker is fed the stream's SSE events one by one and says what is wrong as soon as it is: a text delta
that is not the next expected token, an event out of place, anything after the format's end marker, or
(at the end of the body) a stream that stopped early. It also tells the load generator when the first
token and the end marker arrived, for the time to first token and the total time.

Formats: `chat` (OpenAI chat completions chunks, also Mistral's: data-only, `data: [DONE]` last),
`anthropic` (Messages events: `event:` names equal to the JSON's `type`, `message_stop` last), `gemini`
(`alt=sse` GenerateContentResponse chunks, data-only, the one with finishReason last), `responses`
(Responses API events with increasing sequence numbers, `response.completed` then `data: [DONE]`) and `converse`
(Bedrock's ConverseStream events in the AWS event stream, not SSE: `EventStreamFramer` hands on each message's
`:event-type` and JSON payload as an SSE framer hands on an event's name and data, each message's CRC checked).

The load generator shares a core with the fake upstream, so the checks must be cheap without being any
less strict. Every event is parsed as JSON and checked in full, except a text delta that is, byte for byte,
the previous text delta of the same stream with only its token (and, for Responses, its sequence number)
replaced by the next expected ones (DeltaTemplate). The full check would accept such an event for exactly
the same reasons as the previous one, so comparing bytes is as strict as parsing, and most events of a
stream cost one `bytes.join` and one comparison.
"""

from __future__ import annotations

import functools
import struct
import zlib
from dataclasses import dataclass
from typing import Any, Final

import orjson

from fake_upstream import token

STREAM_FORMATS: Final = ("chat", "anthropic", "gemini", "responses", "converse")
DONE: Final = b"[DONE]"
SSE_EVENT_ENDS: Final = (b"\n\n", b"\n\r\n")  # a blank line after LF- or CRLF-ended lines

SseEvent = tuple[bytes | None, bytes]  # (the `event:` name or None, the data)


# --- SSE framing ------------------------------------------------------------------------------------------


class SseFramer:
    """Splits a body, fed in pieces as they arrive, into SSE events (LF or CRLF line endings).

    Comment lines and fields other than `event` and `data` are skipped; an event is dispatched at its blank
    line, as the SSE spec says, so one cut off by the end of the body stays in `leftover`."""

    __slots__ = ("leftover",)

    def __init__(self) -> None:
        self.leftover = b""  # the bytes after the last complete event

    def feed(self, piece: bytes) -> list[SseEvent]:
        buffer = self.leftover + piece if self.leftover else piece
        events: list[SseEvent] = []
        start = 0
        # Where each kind of blank line is next; a search that found nothing is not repeated on this buffer,
        # so a piece holding a whole stream (--chunk-delay 0) is not scanned once per event.
        lf, crlf = buffer.find(b"\n\n"), buffer.find(b"\n\r\n")
        while lf != -1 or crlf != -1:
            if crlf == -1 or (lf != -1 and lf < crlf):
                end, start_next = lf, lf + 2
            else:
                end, start_next = crlf, crlf + 3
            event = parse_sse_event(buffer[start:end])
            if event is not None:
                events.append(event)
            start = start_next
            if lf != -1 and lf < start:
                lf = buffer.find(b"\n\n", start)
            if crlf != -1 and crlf < start:
                crlf = buffer.find(b"\n\r\n", start)
        self.leftover = buffer[start:]
        return events


class EventStreamFramer:
    """Splits an AWS event stream (`application/vnd.amazon.eventstream`), fed in pieces, into (`:event-type`,
    payload) pairs: each message's prelude and message CRCs checked, its header block parsed once per stream (a
    stream repeats a few), an exception message handed on as `exception:<name>`. A message cut off by the end of
    the body stays in `leftover`."""

    __slots__ = ("leftover", "names")

    def __init__(self) -> None:
        self.leftover = b""
        self.names: dict[bytes, bytes] = {}  # header block -> the name it gives

    def feed(self, piece: bytes) -> list[SseEvent]:
        buffer = self.leftover + piece if self.leftover else piece
        events: list[SseEvent] = []
        start, end = 0, len(buffer)
        while end - start >= 12:
            total, headers_length, prelude_crc = struct.unpack_from("!III", buffer, start)
            if zlib.crc32(buffer[start : start + 8]) != prelude_crc:
                events.append((b"corrupt", b"a prelude CRC does not match"))
                return events
            if end - start < total:
                break
            crc_at = start + total - 4
            if zlib.crc32(buffer[start:crc_at]) != struct.unpack_from("!I", buffer, crc_at)[0]:
                events.append((b"corrupt", b"a message CRC does not match"))
                return events
            block = buffer[start + 12 : start + 12 + headers_length]
            name = self.names.get(block)
            if name is None:
                name = self.names[block] = _message_name(block)
            events.append((name, buffer[start + 12 + headers_length : crc_at]))
            start += total
        self.leftover = buffer[start:]
        return events


def _message_name(block: bytes) -> bytes:
    """A header block's `:event-type`, or `exception:` and its `:exception-type` (string headers only)."""
    headers: dict[bytes, bytes] = {}
    at = 0
    while at < len(block):
        name_length = block[at]
        name = block[at + 1 : at + 1 + name_length]
        at += 1 + name_length
        if block[at] != 7:
            return b"malformed"
        (length,) = struct.unpack_from("!H", block, at + 1)
        headers[name] = block[at + 3 : at + 3 + length]
        at += 3 + length
    if headers.get(b":message-type") == b"exception":
        return b"exception:" + headers.get(b":exception-type", b"")
    return headers.get(b":event-type", b"malformed")


def framer_for(stream_format: str) -> SseFramer | EventStreamFramer:
    return EventStreamFramer() if stream_format == "converse" else SseFramer()


def parse_sse_event(block: bytes) -> SseEvent | None:
    """One event's lines (without the blank line that ends it); None if it has no data (a comment)."""
    if block.startswith(b"data:") and b"\n" not in block:  # the usual event: a single data line
        return None, block[5:].rstrip(b"\r").removeprefix(b" ")
    name: bytes | None = None
    data: list[bytes] = []
    for raw in block.split(b"\n"):
        line = raw.rstrip(b"\r")
        if line.startswith(b"data:"):
            data.append(line[5:].removeprefix(b" "))
        elif line.startswith(b"event:"):
            name = line[6:].strip()
    return (name, b"\n".join(data)) if data else None


# --- the byte-level shortcut for text deltas ----------------------------------------------------------------


@functools.cache
def expected_tokens(chunks: int) -> tuple[tuple[str, ...], tuple[bytes, ...]]:
    """The tokens a stream of `chunks` chunks carries, and each one as a JSON string (as the encoders write it)."""
    tokens = tuple(token(index) for index in range(chunks - 1))
    return tokens, tuple(orjson.dumps(text) for text in tokens)


_SEQUENCE_KEY: Final = b'"sequence_number":'


@dataclass(frozen=True, slots=True)
class DeltaTemplate:
    """A text-delta event that passed the full check, cut around its token and (Responses) sequence number.

    `render` puts the next expected values into the holes: an event equal to that is the checked one with
    only those values changed, so the full check would accept it too, and the bytes need not be parsed."""

    name: bytes | None
    pieces: tuple[bytes, ...]  # the bytes around the holes, one more than there are holes
    holes: tuple[bool, ...]  # each hole in order: True for the token, False for the sequence number

    @classmethod
    def learn(cls, name: bytes | None, data: bytes, token_json: bytes, sequence: int | None) -> DeltaTemplate | None:
        """Cut `data` around its only copy of `token_json` and `"sequence_number":<sequence>`; None when
        either is not there exactly once (an encoder that escapes differently: every event is parsed)."""
        if data.count(token_json) != 1:
            return None
        cuts = [(data.index(token_json), len(token_json), True)]
        if sequence is not None:
            digits = b"%d" % sequence
            key = data.find(_SEQUENCE_KEY)
            number = key + len(_SEQUENCE_KEY)
            end = number + len(digits)
            if data.count(_SEQUENCE_KEY) != 1 or data[number:end] != digits or data[end : end + 1].isdigit():
                return None
            cuts.append((number, len(digits), False))
        cuts.sort()
        pieces, position = [], 0
        for start, length, _ in cuts:
            pieces.append(data[position:start])
            position = start + length
        pieces.append(data[position:])
        return cls(name, tuple(pieces), tuple(is_token for _, _, is_token in cuts))

    def render(self, token_json: bytes, sequence: bytes) -> bytes:
        parts = [self.pieces[0]]
        for is_token, piece in zip(self.holes, self.pieces[1:], strict=True):
            parts += (token_json if is_token else sequence, piece)
        return b"".join(parts)


# --- the checkers ------------------------------------------------------------------------------------------


class StreamCheck:
    """The state every format shares: the tokens expected, how many came, whether the end marker came."""

    format: str = ""
    sequenced: bool = False  # whether events carry sequence numbers (Responses), a hole in the delta template

    def __init__(self, chunks: int) -> None:
        self.tokens, self.token_json = expected_tokens(chunks)
        self.received = 0  # text deltas seen so far, each equal to the next expected token
        self.sequence = 0  # the next expected sequence number (Responses)
        self.ended = False  # the format's end marker came; nothing may follow it
        self.plain_delta = False  # set by `check` when the event was a text delta and nothing else
        self.template: DeltaTemplate | None = None  # the last event, if it was a plain text delta

    def feed(self, name: bytes | None, data: bytes) -> str | None:
        """Check one event; None if it fits, else what is wrong (the stream is then failed)."""
        if self.ended:
            return f"{self.format}: event after the end of the stream: {data[:200]!r}"
        template = self.template
        if template is not None and self.received < len(self.tokens) and name == template.name:
            sequence = b"%d" % self.sequence if self.sequenced else b""
            if data == template.render(self.token_json[self.received], sequence):
                self.received += 1
                self.sequence += 1
                return None
        return self.full_check(name, data)

    def full_check(self, name: bytes | None, data: bytes) -> str | None:
        """Parse and check the event; learn a template from it if it was a plain delta of exactly one token."""
        received, self.plain_delta, self.template = self.received, False, None
        try:
            problem = self.check(name, data)
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
            return f"{self.format}: malformed event ({type(exc).__name__}: {exc}): {data[:200]!r}"
        if problem is None and self.plain_delta and self.received == received + 1:
            sequence = self.sequence - 1 if self.sequenced else None
            self.template = DeltaTemplate.learn(name, data, self.token_json[received], sequence)
        return problem

    def check(self, name: bytes | None, data: bytes) -> str | None:
        raise NotImplementedError

    def text(self, piece: str) -> str | None:
        """A text delta: it must be the next token (empty pieces, which some encoders send, are ignored)."""
        if not piece:
            return None
        if self.received >= len(self.tokens):
            return f"{self.format}: extra text after the last token: {piece!r}"
        expected = self.tokens[self.received]
        if piece != expected:
            return f"{self.format}: text out of order at {self.received}: {piece!r}, expected {expected!r}"
        self.received += 1
        return None

    def delta_text(self, piece: str) -> str | None:
        """A text delta in an event that carries nothing else to check: such an event can be a template."""
        problem = self.text(piece)
        self.plain_delta = problem is None
        return problem

    def all_text(self) -> str | None:
        """Before an end marker: every token must have come."""
        if self.received != len(self.tokens):
            return f"{self.format}: the stream ended after {self.received} of {len(self.tokens)} tokens"
        return None

    def finish(self) -> str | None:
        """At the end of the body."""
        if not self.ended:
            return f"{self.format}: the body ended without the end marker after {self.received} tokens"
        return None


class ChatCheck(StreamCheck):
    """Chat completions chunks (OpenAI's and Mistral's): text in `delta.content`, one `finish_reason: stop`
    (on the last token's chunk or after it), maybe a usage chunk with no choices, then `data: [DONE]`."""

    format = "chat"

    def __init__(self, chunks: int) -> None:
        super().__init__(chunks)
        self.finished = False

    def check(self, name: bytes | None, data: bytes) -> str | None:
        if name is not None:
            return f"chat: unexpected event name {name!r}"
        if data == DONE:
            self.ended = True
            return None if self.finished else "chat: [DONE] before a finish_reason"
        event = orjson.loads(data)
        if event["object"] != "chat.completion.chunk":
            return f"chat: object {event['object']!r}"
        if not event["choices"]:  # the usage chunk (include_usage) comes after the finish
            return None if self.finished and event.get("usage") else f"chat: a chunk without choices: {data[:200]!r}"
        if self.finished:
            return f"chat: a chunk after the finish_reason: {data[:200]!r}"
        choice = event["choices"][0]
        piece = (choice.get("delta") or {}).get("content") or ""
        if choice.get("finish_reason") is None:
            return self.delta_text(piece)
        problem = self.text(piece)
        self.finished = True
        if problem is None:
            problem = self.all_text()
        if problem is None and choice["finish_reason"] != "stop":
            problem = f"chat: finish_reason {choice['finish_reason']!r}"
        return problem


# The Anthropic Messages events in their order; `ping` may come anywhere before message_stop.
_ANTHROPIC_ORDER: Final = (
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
)


class AnthropicCheck(StreamCheck):
    """message_start, one text block (content_block_start, text_deltas, content_block_stop),
    message_delta with stop_reason end_turn and usage, message_stop; each event's name equals its type."""

    format = "anthropic"

    def __init__(self, chunks: int) -> None:
        super().__init__(chunks)
        self.stage = -1  # index in _ANTHROPIC_ORDER of the last event seen

    def check(self, name: bytes | None, data: bytes) -> str | None:
        event = orjson.loads(data)
        kind = event["type"]
        if name is None or name.decode() != kind:
            return f"anthropic: event name {name!r} for type {kind!r}"
        if kind == "ping":
            return None
        if kind not in _ANTHROPIC_ORDER:
            return f"anthropic: unexpected event {kind!r}"
        stage = _ANTHROPIC_ORDER.index(kind)
        if stage < self.stage or stage > self.stage + 1 or (stage == self.stage and kind != "content_block_delta"):
            return f"anthropic: {kind} out of place"
        self.stage = stage
        return self.check_event(kind, event)

    def check_event(self, kind: str, event: dict[str, Any]) -> str | None:
        if kind == "content_block_start" and event["content_block"]["type"] != "text":
            return f"anthropic: a {event['content_block']['type']!r} block"
        if kind == "content_block_delta":
            delta = event["delta"]
            if delta["type"] != "text_delta":
                return f"anthropic: a {delta['type']} delta"
            return self.delta_text(delta["text"])
        if kind == "message_delta":
            if event["delta"]["stop_reason"] != "end_turn" or "output_tokens" not in event["usage"]:
                return f"anthropic: message_delta without end_turn and usage: {event}"
            return self.all_text()
        if kind == "message_stop":
            self.ended = True
        return None


class GeminiCheck(StreamCheck):
    """`alt=sse` chunks: text in candidates[0].content.parts; the last chunk, and only it, has finishReason
    STOP and usageMetadata with the candidates' token count; the body ends there."""

    format = "gemini"

    def check(self, name: bytes | None, data: bytes) -> str | None:
        if name is not None:
            return f"gemini: unexpected event name {name!r}"
        event = orjson.loads(data)
        candidate = event["candidates"][0]
        parts = (candidate.get("content") or {}).get("parts") or []
        for part in parts:
            problem = self.text(part.get("text") or "")
            if problem is not None:
                return problem
        reason = candidate.get("finishReason")
        if reason is None:
            self.plain_delta = len(parts) == 1  # one token, and nothing else to check in this chunk
            return None
        self.ended = True
        if reason != "STOP":
            return f"gemini: finishReason {reason!r}"
        if "candidatesTokenCount" not in event.get("usageMetadata", {}):
            return "gemini: the last chunk has no candidatesTokenCount"
        return self.all_text()


class ResponsesCheck(StreamCheck):
    """Responses API events: response.created first, sequence numbers 0, 1, 2…, text in
    response.output_text.delta, the whole text again in output_text.done, response.completed (status
    completed, the text in its output), then `data: [DONE]` and nothing more."""

    format = "responses"
    sequenced = True

    def __init__(self, chunks: int) -> None:
        super().__init__(chunks)
        self.completed = False

    def check(self, name: bytes | None, data: bytes) -> str | None:
        if data == DONE:
            self.ended = True
            return None if self.completed and name is None else "responses: [DONE] out of place"
        if self.completed:
            return f"responses: an event after response.completed: {data[:200]!r}"
        event = orjson.loads(data)
        kind = event["type"]
        if name is None or name.decode() != kind:
            return f"responses: event name {name!r} for type {kind!r}"
        if event["sequence_number"] != self.sequence or (self.sequence == 0 and kind != "response.created"):
            return f"responses: {kind} with sequence number {event['sequence_number']}, expected {self.sequence}"
        self.sequence += 1
        if kind == "response.output_text.delta":
            return self.delta_text(event["delta"])
        if kind == "response.output_text.done" and event["text"] != "".join(self.tokens):
            return f"responses: output_text.done has other text: {event['text'][:200]!r}"
        if kind in ("response.failed", "response.incomplete", "error"):
            return f"responses: {kind}: {data[:300]!r}"
        if kind == "response.completed":
            self.completed = True
            return self.check_completed(event["response"])
        return None

    def check_completed(self, response: dict[str, Any]) -> str | None:
        if response["status"] != "completed":
            return f"responses: response.completed with status {response['status']!r}"
        texts = [
            part["text"]
            for item in response["output"]
            if item["type"] == "message"
            for part in item["content"]
            if part["type"] == "output_text"
        ]
        if texts != ["".join(self.tokens)]:
            return f"responses: the completed response's text differs: {texts!r:.200}"
        return self.all_text()


# ConverseStream's events in their order, each name once but contentBlockDelta's.
_CONVERSE_ORDER: Final = (b"messageStart", b"contentBlockDelta", b"contentBlockStop", b"messageStop", b"metadata")


class ConverseCheck(StreamCheck):
    """messageStart (role assistant), one text block's contentBlockDeltas and its contentBlockStop, messageStop
    with stopReason end_turn, metadata with the usage: the stream's last message."""

    format = "converse"

    def __init__(self, chunks: int) -> None:
        super().__init__(chunks)
        self.stage = -1

    def check(self, name: bytes | None, data: bytes) -> str | None:
        if name is None or name not in _CONVERSE_ORDER:
            return f"converse: unexpected message {name!r}: {data[:200]!r}"
        stage = _CONVERSE_ORDER.index(name)
        if stage < self.stage or stage > self.stage + 1 or (stage == self.stage and stage != 1):
            return f"converse: {name.decode()} out of place"
        self.stage = stage
        event = orjson.loads(data)
        if name == b"messageStart":
            return None if event == {"role": "assistant"} else f"converse: messageStart {event}"
        if name == b"contentBlockDelta":
            if event["contentBlockIndex"] != 0:
                return f"converse: a delta of block {event['contentBlockIndex']}"
            return self.delta_text(event["delta"]["text"])
        if name == b"messageStop":
            return None if event["stopReason"] == "end_turn" else f"converse: stopReason {event['stopReason']!r}"
        if name == b"metadata":
            self.ended = True
            if "outputTokens" not in event["usage"] or "latencyMs" not in event["metrics"]:
                return f"converse: metadata without usage and latency: {event}"
            return self.all_text()
        return None


_CHECKS: Final[dict[str, type[StreamCheck]]] = {
    "chat": ChatCheck,
    "anthropic": AnthropicCheck,
    "gemini": GeminiCheck,
    "responses": ResponsesCheck,
    "converse": ConverseCheck,
}


def stream_check(stream_format: str, chunks: int) -> StreamCheck:
    return _CHECKS[stream_format](chunks)
