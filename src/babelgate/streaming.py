"""The only place that knows stream framing: SSE in (decoder) and SSE / NDJSON out (encoders).

`SSEDecoder` is I/O-free: bytes go in as they arrive, complete frames or events come out. A frame
is kept as the upstream's exact bytes so that the OpenAI fast path can relay it untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from babelgate.errors import UpstreamProtocolError, size_text

SSE_DONE: Final = b"data: [DONE]\n\n"
# The largest single event of an upstream's stream: a decoder holds an event until its blank line,
# and one that never ends must not fill the memory (an image Gemini streams inline is a few MiB).
# Read when a decoder is made (a test may lower it).
MAX_EVENT_BYTES = 32 * 1024 * 1024
SSE_HEADERS: Final = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def blank_line(data: bytes, at: int) -> int:
    """Where the first `\\n\\n` of `data` at or after `at` begins, or -1. Found line end by line end, each by
    `memchr`: most events are one line, and a search for the two bytes reads every byte in a slower loop."""
    end = data.find(b"\n", at)
    last = len(data) - 1
    while 0 <= end < last and data[end + 1] != 10:  # 10: the byte b"\n"
        end = data.find(b"\n", end + 1)
    return end if 0 <= end < last else -1


@dataclass(slots=True)
class SSEEvent:
    data: str
    event: str | None = None
    id: str | None = None


class SSEDecoder:
    """Splits an SSE byte stream into frames (raw bytes ending in a blank line) or events.

    `max_event`: the most bytes an unfinished frame may hold (default MAX_EVENT_BYTES); past it, the
    stream is `provider`'s protocol error, whatever follows."""

    __slots__ = ("_held", "_held_size", "_max_event", "_pending_cr", "_provider")

    def __init__(self, *, max_event: int | None = None, provider: str = "") -> None:
        # The bytes of an unfinished frame, read by read. Joined only once a read completes the frame:
        # a large event (an image) in many reads would otherwise be copied and searched again per read.
        self._held: list[bytes] = []  # never holds an empty read
        self._held_size = 0
        self._max_event = MAX_EVENT_BYTES if max_event is None else max_event
        self._provider = provider
        self._pending_cr = False

    def feed_frames(self, chunk: bytes) -> list[bytes]:
        """Complete frames, each normalised to LF line endings and ending in b"\\n\\n"."""
        if self._pending_cr:
            chunk = b"\r" + chunk
            self._pending_cr = False
        if chunk.find(b"\r") >= 0:
            # A CR at the very end may be the first half of a CRLF: hold it for the next read.
            if chunk.endswith(b"\r"):
                chunk = chunk[:-1]
                self._pending_cr = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        held = self._held
        if held:
            # Only the new bytes, or a blank line across the boundary, can end the held frame.
            if blank_line(chunk, 0) < 0 and not (held[-1].endswith(b"\n") and chunk.startswith(b"\n")):
                if chunk:
                    self._hold(chunk)
                return []
            held.append(chunk)
            chunk = b"".join(held)
            held.clear()
            self._held_size = 0
        return self._split(chunk)

    def _split(self, data: bytes) -> list[bytes]:
        end = blank_line(data, 0)
        if end < 0:
            self._hold(data)
            return []
        frames: list[bytes] = []
        start = 0
        size = len(data)
        while end >= 0:
            frames.append(data[start : end + 2])
            start = end + 2
            # A read usually ends with a frame: no search past its end.
            end = blank_line(data, start) if start < size else -1
        if start < size:
            self._hold(data[start:])
        return frames

    def _hold(self, rest: bytes) -> None:
        if rest:
            self._held.append(rest)
            self._held_size += len(rest)
            if self._held_size > self._max_event:
                self._held.clear()
                self._held_size = 0
                raise UpstreamProtocolError(
                    provider=self._provider, detail=f"a stream event is larger than {size_text(self._max_event)}"
                )

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Complete events with data; comment-only frames (keep-alives) are left out."""
        events = []
        for frame in self.feed_frames(chunk):
            event = parse_frame(frame)
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[SSEEvent]:
        """What is left when the stream ends: a last frame with no blank line after it."""
        rest = self.pending.rstrip(b"\n")
        self._held.clear()
        self._held_size = 0
        self._pending_cr = False
        if not rest:
            return []
        event = parse_frame(rest + b"\n\n")
        return [event] if event is not None else []

    @property
    def pending(self) -> bytes:
        return b"".join(self._held)


def parse_frame(frame: bytes) -> SSEEvent | None:
    if frame.startswith(b"data: ") and frame.find(b"\n") == len(frame) - 2:
        # Most frames are one `data:` line (OpenAI's, Gemini's, Mistral's chunks): no line loop.
        return SSEEvent(data=frame[6:-2].decode("utf-8", "replace"), event=None, id=None)
    if frame.startswith(b"event: "):
        # An `event:` line and one `data:` line (Anthropic's and the Responses API's frames): no line loop either.
        named = frame.find(b"\n")
        if frame.startswith(b"data: ", named + 1) and frame.find(b"\n", named + 1) == len(frame) - 2:
            return SSEEvent(
                data=frame[named + 7 : -2].decode("utf-8", "replace"),
                event=frame[7:named].decode("utf-8", "replace"),
                id=None,
            )
    data: list[str] = []
    event_name: str | None = None
    event_id: str | None = None
    for raw_line in frame.decode("utf-8", "replace").split("\n"):
        if not raw_line or raw_line.startswith(":"):
            continue
        name, _, value = raw_line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event_name = value
        elif name == "id":
            event_id = value
    if not data and event_name is None:
        return None
    return SSEEvent(data="\n".join(data), event=event_name, id=event_id)


def frame_data(frame: bytes) -> bytes | None:
    """The data of a single-`data:`-line frame, the shape OpenAI-compatible servers send. (A frame ends in its blank
    line: one line when its first line end is there, found by `memchr`, where a count walks every byte.)"""
    if frame.startswith(b"data:") and frame.find(b"\n") == len(frame) - 2:
        return frame[5:-2].lstrip(b" ")
    event = parse_frame(frame)
    return event.data.encode() if event is not None else None


def encode_sse_json(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def encode_sse_event(event: str, payload: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def encode_ndjson(payload: Any) -> bytes:
    return orjson.dumps(payload) + b"\n"
