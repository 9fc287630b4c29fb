"""The native Messages road's stream relay: Anthropic's SSE frames go to the client as they came.

Per frame only the event name (its first line) is read; the JSON of the few events accounting
needs is parsed — `message_start` (input and cache usage) and `message_delta` (stop reason, output
usage) — and nothing else. An `event: error` is raised as a GatewayError instead of relayed, so the
frontend renders it (scrubbed, in the client's language) and accounting sees the failure; a body
that ends before `message_stop` was cut off. An event whose data is not a JSON object is a protocol
error (the client's SDK could not read it), and a body that is one JSON error instead of a stream
(answered with HTTP 200) is that error.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

from babelgate.errors import UpstreamProtocolError
from babelgate.http import UpstreamResponse
from babelgate.providers.anthropic.errors import error_from_body
from babelgate.providers.anthropic.translate import finish_reason, usage_from_wire
from babelgate.providers.base import CallNotes
from babelgate.providers.sse import SSEBody
from babelgate.providers.transport import checked_data, event_object
from babelgate.streaming import frame_data, parse_frame

_EVENT: Final = b"event:"
_ACCOUNTED: Final = frozenset({b"message_start", b"message_delta"})


async def relay_message_events(
    response: UpstreamResponse, *, provider: str, notes: CallNotes, scrub: Callable[[str], str]
) -> AsyncIterator[bytes]:
    sse = SSEBody(response, provider)
    usage: dict[str, Any] = {}
    async with contextlib.aclosing(sse.reads()) as reads:
        async for frames in reads:
            out: list[bytes] = []
            for frame in frames:
                name = event_name(frame)
                if name == b"error":
                    if out:
                        yield b"".join(out)
                    raise error_from_body(_payload(frame, provider), provider=provider, scrub=scrub)
                if name in _ACCOUNTED:
                    account(_payload(frame, provider), usage, notes)
                elif not frame.endswith(b"}\n\n"):  # the usual frame ends with its JSON: no parse
                    data = frame_data(frame)
                    if data is not None:
                        checked_data(data, provider)
                out.append(frame)
                if name == b"message_stop":
                    notes.completed = True
                    yield b"".join(out)
                    await sse.end()
                    return
            if out:
                yield b"".join(out)
    answered = sse.json_instead()
    if answered is not None and answered.get("type") == "error":
        raise error_from_body(answered, provider=provider, scrub=scrub)
    raise UpstreamProtocolError("stream_interrupted", provider=provider)


def event_name(frame: bytes) -> bytes | None:
    """The SSE event name; Anthropic writes it on a frame's first line."""
    if frame.startswith(_EVENT):
        return frame[len(_EVENT) : frame.find(b"\n")].strip()
    for line in frame.split(b"\n"):
        if line.startswith(_EVENT):
            return line[len(_EVENT) :].strip()
    return None


def account(payload: dict[str, Any], usage: dict[str, Any], notes: CallNotes) -> None:
    """Fold a message_start / message_delta (or a whole Message) into `usage` and `notes`."""
    message = payload.get("message") if payload.get("type") == "message_start" else payload
    if not isinstance(message, dict):
        return
    reported = message.get("usage")
    if isinstance(reported, dict):
        # message_delta's counts are cumulative, and newer API versions repeat the input counts there.
        usage.update({key: value for key, value in reported.items() if value is not None})
        notes.usage = usage_from_wire(usage)
    delta = message.get("delta")
    stop = (delta if isinstance(delta, dict) else message).get("stop_reason")
    if stop is not None:
        notes.finish_reason = finish_reason(stop, has_tool_calls=True)


def _payload(frame: bytes, provider: str) -> dict[str, Any]:
    event = parse_frame(frame)
    if event is None:
        raise UpstreamProtocolError(provider=provider, detail="a stream event has no data")
    return event_object(event.data, provider)
