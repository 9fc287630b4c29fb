"""Claude through InvokeModel / InvokeModelWithResponseStream: Anthropic's Messages body, Bedrock's way.

The body (`wire.invoke_body`) is the Anthropic translator's (or, on the native road, the client's own) with what
Bedrock wants instead (Anthropic's Bedrock docs): no `model` (it is in the URL), no `stream` (the endpoint
says), `anthropic_version: bedrock-2023-05-31`, and the betas as an `anthropic_beta` list in the body
(not a header). A streamed answer is an event stream whose `chunk` events each carry one Anthropic
stream event, base64 in `bytes`: `anthropic_events` turns them back into the events themselves, so
the Anthropic stream translator and relay read them as they read Anthropic's own.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable
from typing import Any

import orjson

from babelgate.errors import UpstreamProtocolError
from babelgate.http import UpstreamResponse
from babelgate.providers.anthropic.errors import error_from_body
from babelgate.providers.anthropic.relay import account
from babelgate.providers.base import CallNotes
from babelgate.providers.bedrock.errors import error_from_frame
from babelgate.providers.bedrock.eventstream import messages_of
from babelgate.providers.bedrock.wire import chunk_bytes, event_type


async def anthropic_events(
    response: UpstreamResponse, *, provider: str, scrub: Callable[[str], str]
) -> AsyncGenerator[list[tuple[str, bytes]], None]:
    """Each read's Anthropic stream events, as (type, JSON bytes), for the native road's relay; an
    exception frame is raised as its error, in the client's format at the frontend."""
    async with messages_of(response, provider) as reads:
        async for messages in reads:
            events: list[tuple[str, bytes]] = []
            for message in messages:
                if message.kind != "event":
                    if events:
                        yield events
                    raise error_from_frame(message.name, message.payload, provider=provider, scrub=scrub)
                if message.name != "chunk":
                    continue
                data = chunk_bytes(message.payload, provider)
                events.append((event_type(data, provider), data))
            if events:
                yield events


async def relay_as_sse(
    response: UpstreamResponse, *, provider: str, notes: CallNotes, scrub: Callable[[str], str]
) -> AsyncGenerator[bytes, None]:
    """The native Messages road's stream: each Anthropic event as the SSE frame Anthropic would have
    sent (`event: <type>` + `data: <json>`), with accounting read from message_start and message_delta
    as the Anthropic relay reads it. A stream that ends before message_stop was cut off."""
    usage: dict[str, Any] = {}
    events = anthropic_events(response, provider=provider, scrub=scrub)
    async with contextlib.aclosing(events):
        async for batch in events:
            out: list[bytes] = []
            for kind, data in batch:
                if kind == "error":  # Anthropic's own error event, should Bedrock pass one on
                    if out:
                        yield b"".join(out)
                    raise error_from_body(orjson.loads(data), provider=provider, scrub=scrub)
                if kind in ("message_start", "message_delta"):
                    account(orjson.loads(data), usage, notes)
                out.append(b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n")
                if kind == "message_stop":
                    notes.completed = True
                    yield b"".join(out)
                    return
            yield b"".join(out)
    raise UpstreamProtocolError("stream_interrupted", provider=provider)
