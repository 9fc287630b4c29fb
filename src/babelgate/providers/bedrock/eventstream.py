"""Bytes -> messages of the AWS event stream (`application/vnd.amazon.eventstream`), I/O-free.

Each message is a prelude (total and headers length, CRC32), headers, a payload and a CRC32 of the
whole; botocore's `EventStreamBuffer` parses them and checks both CRCs. A frame whose CRC does not
match, or a body that ends inside a frame, is the upstream's protocol error: the frontend ends the
client's stream with its error event.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Final

from babelgate.errors import UpstreamProtocolError
from babelgate.http import UpstreamResponse, let_go


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One event-stream message: `kind` is its `:message-type` (event, exception or error), `name`
    its `:event-type`, `:exception-type` or `:error-code`, `payload` its bytes (JSON for Bedrock)."""

    kind: str
    name: str
    payload: bytes


_KIND: Final = ":message-type"
_NAMES: Final = {"event": ":event-type", "exception": ":exception-type", "error": ":error-code"}


class EventStreamDecoder:
    """feed(bytes) -> the messages those bytes completed; `pending` says a message is half received."""

    __slots__ = ("_buffer", "_errors", "_fed", "_used", "provider")

    def __init__(self, provider: str) -> None:
        from botocore.eventstream import EventStreamBuffer, ParserError

        self.provider = provider
        self._buffer: Any = EventStreamBuffer()
        self._errors: type[Exception] = ParserError
        self._fed = 0
        self._used = 0

    @property
    def pending(self) -> bool:
        return self._fed > self._used

    def feed(self, data: bytes) -> list[StreamMessage]:
        self._buffer.add_data(data)
        self._fed += len(data)
        messages = []
        try:
            for message in self._buffer:
                self._used += message.prelude.total_length
                headers = message.headers
                kind = str(headers.get(_KIND, "event"))
                name = str(headers.get(_NAMES.get(kind, ":event-type"), ""))
                messages.append(StreamMessage(kind, name, message.payload))
        except self._errors as error:
            detail = (
                "an event-stream frame failed its CRC check"
                if type(error).__name__ == "ChecksumMismatch"
                else "an event-stream frame is malformed"
            )
            raise UpstreamProtocolError(provider=self.provider, detail=detail) from None
        return messages


async def read_messages(response: UpstreamResponse, provider: str) -> AsyncGenerator[list[StreamMessage], None]:
    """The messages of each read of the body, as they arrive; a body that ends inside a message was
    cut off. The connection is let go as SSEBody.reads does (back to the pool only when read whole)."""
    decoder = EventStreamDecoder(provider)
    try:
        while chunk := await response.readany():
            messages = decoder.feed(chunk)
            if messages:
                yield messages
    finally:
        let_go(response)
    if decoder.pending:
        raise UpstreamProtocolError("stream_interrupted", provider=provider)


@contextlib.asynccontextmanager
async def messages_of(response: UpstreamResponse, provider: str) -> AsyncGenerator[Any, None]:
    """`read_messages` closed on the way out, however the reader leaves."""
    reads = read_messages(response, provider)
    try:
        yield reads
    finally:
        await reads.aclose()
