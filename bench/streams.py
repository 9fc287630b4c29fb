"""Reading and checking the streams the bench receives, one checker per wire format.

Every stream carries the same text, `chunks - 1` tokens (fake_upstream.token), whatever the format. A
checker is fed the stream's SSE events one by one and says what is wrong as soon as it is: a text delta
that is not the next expected token, an event out of place, anything after the format's end marker, or
(at the end of the body) a stream that stopped early. It also tells the load generator when the first
token arrived, for the time to first token.

Formats: `chat` (OpenAI chat completions chunks, also Mistral's: data-only, `data: [DONE]` last),
`anthropic` (Messages events: `event:` names equal to the JSON's `type`, `message_stop` last), `gemini`
(`alt=sse` GenerateContentResponse chunks, data-only, the one with finishReason last) and `responses`
(Responses API events with increasing sequence numbers, `response.completed` then `data: [DONE]`).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, Final

import orjson

from fake_upstream import token

STREAM_FORMATS: Final = ("chat", "anthropic", "gemini", "responses")
DONE: Final = b"[DONE]"


async def sse_events(lines: AsyncIterable[bytes]) -> AsyncIterator[tuple[bytes | None, bytes]]:
    """(event name or None, data) for each SSE event of a body given line by line (LF or CRLF endings).

    Comment lines and fields other than `event` and `data` are skipped; an event is dispatched at its
    blank line, as the SSE spec says, so one cut off by the end of the body is not returned."""
    name: bytes | None = None
    data: list[bytes] = []
    async for raw in lines:
        line = raw.rstrip(b"\r\n")
        if not line:
            if data:
                yield name, b"\n".join(data)
            name, data = None, []
        elif line.startswith(b"data:"):
            data.append(line[5:].removeprefix(b" "))
        elif line.startswith(b"event:"):
            name = line[6:].strip()


class StreamCheck:
    """The state every format shares: the tokens expected, how many came, whether the end marker came."""

    format: str = ""

    def __init__(self, chunks: int) -> None:
        self.tokens = [token(index) for index in range(chunks - 1)]
        self.received = 0  # text deltas seen so far, each equal to the next expected token
        self.ended = False  # the format's end marker came; nothing may follow it

    def feed(self, name: bytes | None, data: bytes) -> str | None:
        """Check one event; None if it fits, else what is wrong (the stream is then failed)."""
        if self.ended:
            return f"{self.format}: event after the end of the stream: {data[:200]!r}"
        try:
            return self.check(name, data)
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
            return f"{self.format}: malformed event ({type(exc).__name__}: {exc}): {data[:200]!r}"

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
        problem = self.text((choice.get("delta") or {}).get("content") or "")
        if problem is None and choice.get("finish_reason") is not None:
            self.finished = True
            problem = self.all_text()
            if problem is None and choice["finish_reason"] != "stop":
                problem = f"chat: finish_reason {choice['finish_reason']!r}"
        return problem


# The Anthropic Messages events in their order; `ping` may come anywhere before message_stop.
_ANTHROPIC_ORDER: Final = ("message_start", "content_block_start", "content_block_delta", "content_block_stop",
                           "message_delta", "message_stop")


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
            return self.text(delta["text"]) if delta["type"] == "text_delta" else f"anthropic: a {delta['type']} delta"
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
        for part in (candidate.get("content") or {}).get("parts") or []:
            problem = self.text(part.get("text") or "")
            if problem is not None:
                return problem
        reason = candidate.get("finishReason")
        if reason is None:
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

    def __init__(self, chunks: int) -> None:
        super().__init__(chunks)
        self.sequence = 0
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
            return self.text(event["delta"])
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
        texts = [part["text"] for item in response["output"] if item["type"] == "message"
                 for part in item["content"] if part["type"] == "output_text"]
        if texts != ["".join(self.tokens)]:
            return f"responses: the completed response's text differs: {texts!r:.200}"
        return self.all_text()


_CHECKS: Final[dict[str, type[StreamCheck]]] = {
    "chat": ChatCheck, "anthropic": AnthropicCheck, "gemini": GeminiCheck, "responses": ResponsesCheck}


def stream_check(stream_format: str, chunks: int) -> StreamCheck:
    return _CHECKS[stream_format](chunks)
