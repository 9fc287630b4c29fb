"""Sending Ollama answers: the clock the counters are measured with, and NDJSON streams.

Both roads of `/api/generate` (chat, and the legacy completions road in completions.py) and
`/api/chat` end here once they have canonical chunks.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from babelgate.answer import Answer
from babelgate.exchange import Exchange
from babelgate.frontends.ollama import wire
from babelgate.frontends.ollama.stream import OllamaStreamEncoder
from babelgate.frontends.ollama.wire import Durations
from babelgate.frontends.stream_encoder import stream_answer as encode_answer
from babelgate.providers.base import CallNotes
from babelgate.schema.chunks import ChatChunk


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


async def stream_answer(chunks: AsyncIterator[ChatChunk], encoder: OllamaStreamEncoder, notes: CallNotes) -> Answer:
    """The chunks as an NDJSON answer, streamed as SSE is: a failure before the first line is an ordinary
    HTTP error, a failure after it one more `{"error": …}` line."""
    return await encode_answer(chunks, encoder, notes, content_type=wire.NDJSON_TYPE)
