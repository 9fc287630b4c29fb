"""What an attempt answers with. An attempt (a frontend's translation, the provider's call) returns an
`Answer` instead of writing to the client; the pipeline alone sends it, through a sink (the HTTP exchange,
or one response on a Responses WebSocket). Calls go down, answers come back up by return value.

A streamed answer holds its first frame already pulled (`streamed`): an upstream failure before the first
byte is raised by the attempt, where the router may still retry or fall back; after it, the stream ends with
the frontend's own error event (`on_error`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final, Protocol

import orjson

from babelgate.call import Call
from babelgate.errors import GatewayError
from babelgate.providers.base import CallNotes
from babelgate.streaming import SSE_HEADERS

log = logging.getLogger("babelgate.answer")
Headers = list[tuple[bytes, bytes]]
JSON_TYPE: Final = (b"content-type", b"application/json")
SSE_TYPE: Final = SSE_HEADERS[0]
ADJUSTED_HEADER: Final = b"x-babelgate-adjusted-params"
# Renders a failure after the first frame as the frontend's last event (the error, the client's language).
ErrorEvent = Callable[[GatewayError, str], Any]


class Answer:
    """Status, headers, and either the body or a stream whose first frame is in hand, with the call's
    notes (usage, cost, adjusted parameters). Frames are bytes: pieces of the body on HTTP, one message
    each on a Responses WebSocket."""

    __slots__ = ("body", "content_type", "headers", "notes", "on_error", "rest", "status")

    def __init__(
        self,
        body: Any,
        notes: CallNotes | None,
        *,
        status: int = 200,
        content_type: tuple[bytes, bytes] = JSON_TYPE,
        headers: Headers | None = None,
        rest: AsyncIterator[Any] | None = None,
        on_error: ErrorEvent | None = None,
    ) -> None:
        self.body = body  # the whole body; for a stream, its first frame
        self.notes = notes
        self.status = status
        self.content_type = content_type
        self.headers = headers if headers is not None else adjusted_headers(notes)
        self.rest = rest  # the frames after the first, when the answer streams
        self.on_error = on_error

    @property
    def streams(self) -> bool:
        return self.rest is not None

    def completed(self) -> bool:
        """Whether the stream's final event has been produced (a client that leaves after it was is no
        disconnect: SDKs close the connection as soon as they read `[DONE]`)."""
        return self.notes is not None and self.notes.completed


def json_answer(payload: Any, status: int = 200, *, headers: Headers | None = None) -> Answer:
    """A handler's own answer in JSON, of no model call (an admin API's, a listing's, a resource's)."""
    return Answer(orjson.dumps(payload), None, status=status, headers=headers)


class StreamCut(Exception):
    """A failure of a stream after its first frame that must not end the answer cleanly: raw bytes (audio) have
    no error event, and a clean end would pass a truncated file as whole. Raised by the stream past the sink;
    the pipeline raises its `error` in its place, so the body is left unfinished and the connection dropped."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.code)
        self.error = error


async def streamed(
    frames: AsyncIterator[Any],
    notes: CallNotes,
    *,
    on_error: ErrorEvent,
    content_type: tuple[bytes, bytes] = SSE_TYPE,
) -> Answer:
    """A streamed answer, committed to only once its first frame is in hand: a failure before it is
    raised here (an ordinary HTTP error, which the router may still retry). SSE by default; any other
    streamed type (Ollama's NDJSON) gets the same no-buffering headers."""
    try:
        first = await anext(frames)
    except StopAsyncIteration:
        first = b""
    except BaseException:
        await close(frames)
        raise
    return Answer(
        first,
        notes,
        content_type=content_type,
        headers=[*SSE_HEADERS[1:], *adjusted_headers(notes)],
        rest=frames,
        on_error=on_error,
    )


def adjusted_headers(notes: CallNotes | None) -> Headers:
    if notes is None or not notes.adjusted:
        return []
    value = ";".join(notes.adjusted)
    log.debug("parameters adjusted for the upstream: %s", value)
    return [(ADJUSTED_HEADER, value.encode())]


class Sink(Protocol):
    """Where the pipeline sends a request's answer, I/O only: the HTTP exchange (exchange.py), or one response on
    a Responses WebSocket. `call` is the request's record (call.py), which the pipeline writes."""

    call: Call
    disconnected: bool  # the client left

    @property
    def answered(self) -> bool:
        """Whether anything of the answer has gone out (then an error can no longer be the answer)."""
        ...

    @property
    def peer(self) -> str:
        """The client's address, as the log of refusals names it."""
        ...

    async def send_answer(
        self, answer: Answer, last_event: Callable[[GatewayError], Awaitable[Any]]
    ) -> GatewayError | None:
        """Send `answer`; a failure of its stream after the first frame ends it with `last_event(error)`,
        and is returned."""
        ...

    async def send_error(self, error: GatewayError, headers: Headers) -> None:
        """`error` as the answer, in the door's format."""
        ...

    def client_left(self) -> None:
        """The client went away before its answer was complete (accounted as 499)."""
        ...

    def outcome(self) -> tuple[int, float, float | None, bool]:
        """What accounting reads of the I/O: the status sent, the seconds taken, the seconds to the answer's
        first byte (None when unknown), whether it streamed."""
        ...

    def watch(self, after: float = 0.0) -> None:
        """Until `unwatch`, the client's leaving cancels the call (from `after` seconds on; a no-op where
        something else does)."""
        ...

    def unwatch(self) -> None: ...


async def close(frames: AsyncIterator[Any]) -> None:
    aclose = getattr(frames, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()
