"""Claude through InvokeModel / InvokeModelWithResponseStream: Anthropic's Messages body, Bedrock's way.

The body is the Anthropic translator's (or, on the native road, the client's own) with what Bedrock
wants instead (Anthropic's Bedrock docs): no `model` (it is in the URL), no `stream` (the endpoint
says), `anthropic_version: bedrock-2023-05-31`, and the betas as an `anthropic_beta` list in the body
(not a header). A streamed answer is an event stream whose `chunk` events each carry one Anthropic
stream event, base64 in `bytes`: `anthropic_events` turns them back into the events themselves, so
the Anthropic stream translator and relay read them as they read Anthropic's own.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any, Final

import orjson

from babelgate.errors import UpstreamProtocolError
from babelgate.http import UpstreamResponse
from babelgate.providers.anthropic.errors import error_from_body
from babelgate.providers.anthropic.relay import account
from babelgate.providers.base import CallNotes
from babelgate.providers.bedrock.errors import error_from_frame
from babelgate.providers.bedrock.eventstream import messages_of
from babelgate.providers.bedrock.wire import ANTHROPIC_VERSION


def invoke_body(body: dict[str, Any], beta: Iterable[str] = ()) -> dict[str, Any]:
    """A Messages body made the body InvokeModel takes for Claude, in place: the body is this request's own (the
    translator's, or the native road's parse of the client's bytes for this attempt), and a copy of its dozen
    keys was a third of the step's cost. The client's own `anthropic_version` wins, as it did in a copy."""
    client_beta = body.pop("betas", None)
    body.pop("model", None)
    body.pop("stream", None)
    if "anthropic_version" not in body:
        body["anthropic_version"] = ANTHROPIC_VERSION
    if client_beta:
        body["anthropic_beta"] = list(dict.fromkeys((*beta, *(str(item) for item in client_beta))))
    elif beta:
        body["anthropic_beta"] = list(dict.fromkeys(beta))
    return body


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
                events.append((_event_type(data, provider), data))
            if events:
                yield events


_BYTES_FIRST: Final = b'{"bytes":"'
_BYTES_AT: Final = len(_BYTES_FIRST)


def chunk_bytes(payload: bytes, provider: str) -> bytes:
    """A `chunk` event's `bytes`: sliced out where AWS writes it first (base64 holds no quote), else parsed."""
    if payload.startswith(_BYTES_FIRST):
        end = payload.find(b'"', _BYTES_AT)
        if end != -1:
            try:
                return binascii.a2b_base64(payload[_BYTES_AT:end], strict_mode=True)
            except binascii.Error:
                raise UpstreamProtocolError(provider=provider, detail="a stream chunk has no base64 bytes") from None
    try:
        part = orjson.loads(payload)
        return base64.b64decode(part["bytes"], validate=True)
    except (orjson.JSONDecodeError, KeyError, TypeError, binascii.Error):
        raise UpstreamProtocolError(provider=provider, detail="a stream chunk has no base64 bytes") from None


_TYPE_FIRST: Final = b'{"type":"'


def _event_type(data: bytes, provider: str) -> str:
    """The event's `type`, read off the front where Anthropic writes it (no parse: the reader parses the
    event itself), else from the parsed JSON."""
    if data.startswith(_TYPE_FIRST):
        end = data.find(b'"', len(_TYPE_FIRST))
        if end != -1 and data.endswith(b"}"):
            return data[len(_TYPE_FIRST) : end].decode()
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamProtocolError(provider=provider, detail="a stream event is not JSON") from None
    if not isinstance(event, dict):
        raise UpstreamProtocolError(provider=provider, detail="a stream event is not an object")
    return str(event.get("type", ""))


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
