"""Sending Ollama answers: the clock the counters are measured with, and NDJSON streams.

Both roads of `/api/generate` (chat, and the legacy completions road in completions.py) and
`/api/chat` end here once they have canonical chunks.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator

from babelgate.answer import Answer, streamed
from babelgate.errors import GatewayError
from babelgate.exchange import Exchange
from babelgate.frontends.ollama import wire
from babelgate.frontends.ollama.stream import OllamaStreamEncoder
from babelgate.frontends.ollama.translate import encode_error
from babelgate.frontends.ollama.wire import Durations
from babelgate.providers.base import CallNotes
from babelgate.schema.chunks import ChatChunk
from babelgate.streaming import encode_ndjson


class Clock:
    """The instants Ollama's counters are measured from (monotonic, ns), and wall-clock stamps."""

    __slots__ = ("first_output", "received", "upstream")

    def __init__(self, exchange: Exchange) -> None:
        self.received = int(exchange.started * 1e9)  # exchange.started is time.perf_counter()
        self.upstream = self.received
        self.first_output: int | None = None

    def upstream_called(self) -> None:
        self.upstream = time.perf_counter_ns()

    def output(self) -> None:
        if self.first_output is None:
            self.first_output = time.perf_counter_ns()

    def durations(self) -> Durations:
        return Durations.measured(
            received=self.received, upstream=self.upstream, first_output=self.first_output, end=time.perf_counter_ns()
        )

    @staticmethod
    def now() -> str:
        return wire.created_at(time.time_ns())


async def stream_answer(
    chunks: AsyncIterator[ChatChunk], encoder: OllamaStreamEncoder, clock: Clock, notes: CallNotes
) -> Answer:
    """The chunks as an NDJSON answer, streamed as SSE is: a failure before the first line is an ordinary
    HTTP error, a failure after it one more `{"error": …}` line."""
    return await streamed(_lines(chunks, encoder, clock), notes, on_error=_error_line, content_type=wire.NDJSON_TYPE)


async def _lines(
    chunks: AsyncIterator[ChatChunk], encoder: OllamaStreamEncoder, clock: Clock
) -> AsyncGenerator[bytes, None]:
    async with contextlib.aclosing(chunks):  # type: ignore[type-var]
        async for chunk in chunks:
            if any(
                c.delta.content or c.delta.reasoning_content or c.delta.refusal or c.delta.tool_calls
                for c in chunk.choices
            ):
                clock.output()
            objects = encoder.feed(chunk, clock.now())
            if objects:
                yield b"".join(encode_ndjson(item) for item in objects)
    yield b"".join(encode_ndjson(item) for item in encoder.finish(clock.now(), clock.durations()))


def _error_line(error: GatewayError, language: str) -> bytes:
    return encode_error(error, language) + b"\n"
