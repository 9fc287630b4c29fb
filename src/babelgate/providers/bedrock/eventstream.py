"""Reading an AWS event stream off an upstream answer (the codec itself is babelgate/eventstream.py, which the
Bedrock InvokeModel frontend also writes with): the messages of each read as they arrive, the connection let
go however the reader leaves."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Any

from babelgate.errors import UpstreamProtocolError
from babelgate.eventstream import EventStreamDecoder, StreamMessage
from babelgate.http import UpstreamResponse, let_go


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
