"""Self-test of the stream client and its checks: good streams of every format pass, broken ones fail.

Run: `.venv/bin/python bench/stream_selftest.py` (exit code 0 when every case behaves). Two levels:

- the checks (streams.py), fed a stream's bytes in pieces of every size from 1 byte to the whole body:
  each good stream passes; each broken one (a token missing, two swapped, one repeated, the end marker
  missing, an event after it, a delta whose other fields changed, an event name or sequence number wrong)
  fails, whether the byte-level shortcut or the full parse sees it;
- the client (stream_client.py) against a small local HTTP/1.1 server: chunked streams, one write per
  event, on one keep-alive connection; a non-200 answer, a body cut off by the server, and a stream
  followed by the next one on the same connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast

import orjson

from fake_upstream import (
    StreamAnswer,
    anthropic_stream_frames,
    gemini_stream_frames,
    mistral_stream_frames,
    sse_frames,
    token,
)
from stream_client import StreamClient, StreamRequest
from streams import SseFramer, framer_for, stream_check

CHUNKS: Final = 12  # 11 tokens: enough for a learned template to be used several times
Event = tuple[str | None, dict[str, Any] | str]  # (event name, JSON payload or raw data such as "[DONE]")


# --- good streams, as event lists ---------------------------------------------------------------------------


def _events_of(frames: list[bytes]) -> list[Event]:
    """The fake upstream's frames back to events (each frame holds one or more)."""
    framer = SseFramer()
    events: list[Event] = []
    for frame in frames:
        for name, data in framer.feed(frame):
            events.append(
                (None if name is None else name.decode(), data.decode() if data == b"[DONE]" else orjson.loads(data))
            )
    return events


def responses_events(chunks: int) -> list[Event]:
    """A Responses stream as the gateway sends one: created, in_progress, the item and part, a delta per token,
    the done events, completed, then [DONE]."""
    text = "".join(token(index) for index in range(chunks - 1))
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    response = {"id": "resp_1", "object": "response", "status": "completed", "output": [message]}
    payloads: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**response, "status": "in_progress", "output": []}},
        {"type": "response.in_progress", "response": {**response, "status": "in_progress", "output": []}},
        {"type": "response.output_item.added", "output_index": 0, "item": {**message, "content": []}},
        {
            "type": "response.content_part.added",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "output_text", "text": ""},
        },
        *(
            {
                "type": "response.output_text.delta",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "delta": token(index),
                "logprobs": [],
            }
            for index in range(chunks - 1)
        ),
        {"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0, "content_index": 0, "text": text},
        {"type": "response.output_item.done", "output_index": 0, "item": message},
        {"type": "response.completed", "response": response},
    ]
    # sequence_number after type, as the gateway writes it; renumbered by `encode` so mutations stay numbered
    events: list[Event] = [
        (payload["type"], {"type": payload["type"], "sequence_number": 0, **payload}) for payload in payloads
    ]
    return [*events, (None, "[DONE]")]


def converse_events(chunks: int) -> list[Event]:
    """A ConverseStream answer as the gateway sends one: messageStart, a delta per token, the block's stop,
    messageStop, metadata."""
    deltas: list[Event] = [
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": token(index)}}) for index in range(chunks - 1)
    ]
    return [
        ("messageStart", {"role": "assistant"}),
        *deltas,
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("messageStop", {"stopReason": "end_turn"}),
        ("metadata", {"usage": {"inputTokens": 9, "outputTokens": 11, "totalTokens": 20}, "metrics": {"latencyMs": 1}}),
    ]


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    stream_format: str
    events: list[Event]
    crlf: bool = False  # Gemini frames its events with CRLF CRLF
    renumber: bool = False  # Responses: number the events 0, 1, 2… after a mutation
    corrupt: bool = False  # an event-stream message with one payload byte flipped (its CRC no longer matches)


GOOD: Final = [
    Case("openai chat", "chat", _events_of(sse_frames(CHUNKS, False))),
    Case("openai chat with usage", "chat", _events_of(sse_frames(CHUNKS, True))),
    Case("mistral chat", "chat", _events_of(mistral_stream_frames(CHUNKS))),
    Case("anthropic", "anthropic", _events_of(anthropic_stream_frames(CHUNKS))),
    Case("gemini", "gemini", _events_of(gemini_stream_frames(CHUNKS)), crlf=True),
    Case("responses", "responses", responses_events(CHUNKS), renumber=True),
    Case("converse", "converse", converse_events(CHUNKS)),
]


def _message(name: str, payload: bytes) -> bytes:
    """One AWS event-stream message (string headers), written here as the spec says, not with the gateway's code."""
    headers = ((":event-type", name), (":content-type", "application/json"), (":message-type", "event"))
    block = b"".join(
        bytes((len(key),)) + key.encode() + b"\x07" + struct.pack("!H", len(value)) + value.encode()
        for key, value in headers
    )
    prelude = struct.pack("!II", 16 + len(block) + len(payload), len(block))
    message = prelude + struct.pack("!I", zlib.crc32(prelude)) + block + payload
    return message + struct.pack("!I", zlib.crc32(message))


def encode(case: Case) -> bytes:
    if case.stream_format == "converse":
        messages = [_message(str(name), orjson.dumps(payload)) for name, payload in case.events]
        if case.corrupt:
            middle = messages[len(messages) // 2]
            messages[len(messages) // 2] = middle[:-6] + bytes((middle[-6] ^ 1,)) + middle[-5:]
        return b"".join(messages)
    ending = b"\r\n" if case.crlf else b"\n"
    out = []
    sequence = 0
    for name, payload in case.events:
        if isinstance(payload, str):
            data = payload.encode()
        else:
            if case.renumber and "sequence_number" in payload:
                payload = {**payload, "sequence_number": sequence}
                sequence += 1
            data = orjson.dumps(payload)
        head = b"event: " + name.encode() + ending if name is not None else b""
        out.append(head + b"data: " + data + ending + ending)
    return b"".join(out)


# --- broken streams: mutations of the good ones --------------------------------------------------------------


def _is_delta(event: Event) -> bool:
    return any(text in orjson.dumps(event[1]).decode() for text in (f'"{token(3)}"', f'"{token(4)}"'))


def _delta_indices(events: list[Event]) -> list[int]:
    """The events carrying token 3 and token 4: mid-stream, after a template was learned."""
    return [index for index, event in enumerate(events) if _is_delta(event)]


def _end_index(case: Case) -> int:
    """The index of the format's end marker: [DONE], message_stop, or Gemini's last chunk."""
    return len(case.events) - 1


def drop_token(case: Case) -> list[Event]:
    events = list(case.events)
    del events[_delta_indices(events)[0]]
    return events


def swap_tokens(case: Case) -> list[Event]:
    events = list(case.events)
    first, second = _delta_indices(events)
    events[first], events[second] = events[second], events[first]
    return events


def repeat_token(case: Case) -> list[Event]:
    events = list(case.events)
    index = _delta_indices(events)[0]
    return [*events[: index + 1], events[index], *events[index + 1 :]]


def truncate(case: Case) -> list[Event]:
    return case.events[: _end_index(case)]


def trailing_event(case: Case) -> list[Event]:
    return [*case.events, case.events[_delta_indices(case.events)[0]]]


def _edit_delta(case: Case, edit: Callable[[dict[str, Any]], None]) -> list[Event]:
    events = list(case.events)
    index = _delta_indices(events)[0]
    name, payload = events[index]
    assert isinstance(payload, dict)
    changed = orjson.loads(orjson.dumps(payload))
    edit(changed)
    events[index] = (name, changed)
    return events


def changed_field(case: Case) -> list[Event]:
    """A mid-stream delta that differs from the learned template outside its token: the full check sees it."""

    def edit(payload: dict[str, Any]) -> None:
        match case.stream_format:
            case "chat":
                payload["choices"][0]["finish_reason"] = "length"
            case "anthropic":
                payload["delta"]["type"] = "thinking_delta"
            case "gemini":
                payload["candidates"][0]["finishReason"] = "SAFETY"
            case "responses":
                payload["type"] = "response.refusal.delta"
            case "converse":
                payload["contentBlockIndex"] = 1

    return _edit_delta(case, edit)


def wrong_name(case: Case) -> list[Event]:
    events = list(case.events)
    index = _delta_indices(events)[0]
    name, payload = events[index]
    events[index] = ("content_block_stop" if name is not None else "message", payload)
    return events


MUTATIONS: Final[dict[str, Callable[[Case], list[Event]]]] = {
    "a token missing": drop_token,
    "two tokens swapped": swap_tokens,
    "a token repeated": repeat_token,
    "no end marker": truncate,
    "an event after the end": trailing_event,
    "a delta with another field changed": changed_field,
    "a wrong event name": wrong_name,
}


def broken_cases() -> list[Case]:
    cases = [
        Case(f"{case.name}: {label}", case.stream_format, mutate(case), case.crlf, case.renumber)
        for case in GOOD
        for label, mutate in MUTATIONS.items()
    ]
    responses = next(case for case in GOOD if case.stream_format == "responses")
    # Not renumbered: one sequence number skipped in the middle of the deltas.
    skipped = [
        (name, {**payload, "sequence_number": number + (number >= 6)} if isinstance(payload, dict) else payload)
        for number, (name, payload) in enumerate(_numbered(responses))
    ]
    cases.append(Case("responses: a sequence number skipped", "responses", skipped))
    converse = next(case for case in GOOD if case.stream_format == "converse")
    cases.append(Case("converse: a message's CRC wrong", "converse", converse.events, corrupt=True))
    return cases


def _numbered(case: Case) -> list[Event]:
    return [
        (name, {**payload, "sequence_number": number} if isinstance(payload, dict) else payload)
        for number, (name, payload) in enumerate(case.events)
    ]


# --- level 1: the checks --------------------------------------------------------------------------------------


def judge_bytes(stream_format: str, body: bytes, piece_size: int) -> str | None:
    """What the client would conclude from this body arriving `piece_size` bytes at a time."""
    check = stream_check(stream_format, CHUNKS)
    framer = framer_for(stream_format)
    for start in range(0, len(body), piece_size):
        for name, data in framer.feed(body[start : start + piece_size]):
            problem = check.feed(name, data)
            if problem is not None:
                return problem
    if framer.leftover.strip():
        return "the body ended inside an event"
    return check.finish()


def check_level(failures: list[str]) -> int:
    count = 0
    for case in [*GOOD, *broken_cases()]:
        body = encode(case)
        good = case in GOOD
        for piece_size in sorted({1, 2, 3, 7, 64, 500, len(body)}):
            problem = judge_bytes(case.stream_format, body, piece_size)
            count += 1
            if (problem is None) != good:
                failures.append(f"{case.name} in {piece_size}-byte pieces: {problem or 'passed'}")
    return count


def template_level(failures: list[str]) -> None:
    """The shortcut must actually be taken: a good stream parses only its first delta (per kind) in full."""
    for case in GOOD:
        check = stream_check(case.stream_format, CHUNKS)
        parsed = 0
        full_check = check.full_check

        def counting(name: bytes | None, data: bytes, full_check: Callable[..., str | None] = full_check) -> str | None:
            nonlocal parsed
            parsed += 1
            return full_check(name, data)

        check.full_check = counting  # type: ignore[method-assign]
        framer = framer_for(case.stream_format)
        for name, data in framer.feed(encode(case)):
            check.feed(name, data)
        deltas = CHUNKS - 1
        if parsed > len(case.events) - deltas + 2:
            failures.append(f"{case.name}: {parsed} of {len(case.events)} events parsed, the shortcut is not used")


# --- level 2: the client against a local server --------------------------------------------------------------


class _Server(asyncio.Protocol):
    """Answers each request (one per blank line seen; bodies here are tiny and sent with the head) with the
    next prepared answer: a list of writes, or None to close the connection instead."""

    def __init__(self, answers: list[list[bytes] | None]) -> None:
        self.answers = answers
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        answer = self.answers.pop(0) if self.answers else None
        if answer is None:
            self.transport.close()
            return
        asyncio.get_running_loop().create_task(self._play(answer))

    async def _play(self, writes: list[bytes]) -> None:
        assert self.transport is not None
        for write in writes:
            if write == b"CLOSE":
                self.transport.close()
                return
            self.transport.write(write)
            await asyncio.sleep(0.001)


def _chunked(case: Case, status: bytes = b"200 OK") -> list[bytes]:
    frames = (
        [frame + b"\n\n" for frame in encode(case).split(b"\n\n") if frame]
        if not case.crlf
        else [frame + b"\r\n\r\n" for frame in encode(case).split(b"\r\n\r\n") if frame]
    )
    answer = StreamAnswer.build(frames, b"")
    head = answer.head.replace(b"200 OK", status) + b"connection: keep-alive\r\n\r\n"
    return [head, *answer.writes]


async def client_level(failures: list[str]) -> None:
    good = GOOD[0]
    server_error = [b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ncontent-length: 4\r\n\r\noops"]
    cut = [*_chunked(good)[:5], b"CLOSE"]
    # (what, the stream format, the server's answers in turn, whether each stream should pass)
    scenarios: list[tuple[str, str, list[list[bytes] | None], list[bool]]] = [
        ("two good streams on one connection", "chat", [_chunked(good), _chunked(good)], [True, True]),
        ("a 500 answer, then a good stream", "chat", [server_error, _chunked(good)], [False, True]),
        ("a body cut off, then a new connection", "chat", [cut, _chunked(good)], [False, True]),
        ("a broken stream (no end marker)", "chat", [_chunked(Case("cut", "chat", truncate(good)))], [False]),
        ("a gemini stream (CRLF)", "gemini", [_chunked(GOOD[4])], [True]),
        ("a responses stream", "responses", [_chunked(GOOD[5])], [True]),
    ]
    loop = asyncio.get_running_loop()
    for label, fmt, answers, expected in scenarios:
        server = await loop.create_server(functools.partial(_Server, answers), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = StreamClient(StreamRequest.post(f"http://127.0.0.1:{port}/v1/x", {"Authorization": "Bearer k"}, b"{}"))
        try:
            for number, should_pass in enumerate(expected):
                result = await client.stream(stream_check(fmt, CHUNKS))
                passed = result.problem is None and result.first_token_s is not None and result.total_s is not None
                if passed != should_pass:
                    failures.append(f"client, {label}, stream {number}: {result}")
        finally:
            client.close()
            server.close()
            await server.wait_closed()


def main() -> int:
    failures: list[str] = []
    judged = check_level(failures)
    template_level(failures)
    asyncio.run(client_level(failures))
    with contextlib.suppress(ImportError):  # and on uvloop, which the bench runs on
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(client_level(failures))
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"{len(GOOD)} good and {len(broken_cases())} broken streams, {judged} judgements; {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
