"""The one shape of a frontend's stream encoder, and the one loop that runs it: canonical chunks in, the
frontend's framed bytes out (SSE or NDJSON, framed by streaming.py's encoders).

Every translated stream goes through `stream_answer`: the encoder's `start`, its `feed` for each chunk, its
`finish`; and its `fail` is the answer's error event (answer.py), so a stream that breaks after its first
frame ends in the frontend's own words. What differs between frontends (Ollama's clock, the several prompts
of a legacy completion, Responses' storing of the response it streamed) lives in the encoders, or in the
`ending` a route hands in, never in a loop of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, TypeVar

from babelgate.answer import SSE_TYPE, Answer, streamed
from babelgate.errors import GatewayError
from babelgate.providers.base import CallNotes

# What an encoder is fed: a `ChatChunk` everywhere but on the legacy completions' translated road, whose
# encoder is fed (prompt number, chunk) from the calls it merges.
Item = TypeVar("Item", contravariant=True)
# Awaited once the stream's end is encoded and before it goes out (Responses stores the response there, so a
# client that has read the end can at once continue it).
Ending = Callable[[], Awaitable[None]]


class StreamEncoder(Protocol[Item]):
    """One per stream. Each method returns the framed bytes to send (b"" for nothing yet): the encoder is the
    frontend's state machine and its framing; it never does I/O."""

    def start(self) -> bytes:
        """What opens the stream; it goes out together with the first chunk's bytes, so nothing is sent
        before the upstream has answered (a failure before that is still an ordinary, retryable error)."""
        ...

    def feed(self, item: Item) -> bytes: ...

    def finish(self) -> bytes:
        """What ends a complete stream (the last events, `[DONE]`)."""
        ...

    def fail(self, error: GatewayError, language: str) -> bytes:
        """What ends a stream that broke after it began: the frontend's error event, in the client's language."""
        ...


async def encode_stream(
    items: AsyncIterator[Item], encoder: StreamEncoder[Item], *, ending: Ending | None = None
) -> AsyncIterator[bytes]:
    """The one stream loop of the frontends: `start`, `feed` for each item (empty results are not sent),
    `finish`. The items are closed however the stream ends; a failure is raised to the sink, which ends the
    stream with the encoder's `fail` (see `stream_answer`)."""
    async with contextlib.aclosing(items):  # type: ignore[type-var]
        head = encoder.start()
        async for item in items:
            data = encoder.feed(item)
            if head:
                data = head + data
                head = b""
            if data:
                yield data
    tail = head + encoder.finish()
    if ending is not None:
        await ending()
    yield tail


async def stream_answer(
    items: AsyncIterator[Item],
    encoder: StreamEncoder[Item],
    notes: CallNotes,
    *,
    content_type: tuple[bytes, bytes] = SSE_TYPE,
    ending: Ending | None = None,
) -> Answer:
    """The encoded stream as an answer, its first frame in hand (answer.streamed), its error event the
    encoder's `fail`."""
    frames = encode_stream(items, encoder, ending=ending)
    return await streamed(frames, notes, on_error=encoder.fail, content_type=content_type)
