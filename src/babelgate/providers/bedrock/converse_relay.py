"""The native Converse road: a Converse body (the Bedrock Converse frontend's client's own) relayed to Bedrock's
Converse and ConverseStream, with what accounting needs read on the way (the usage, the stop reason).

A streamed answer comes back as each ConverseStream event in an SSE frame (`event: contentBlockDelta`, `data:
{…}`), the framing every relay hands its frontend: the frontend's output guardrails read it so, and the frontend
writes it back into the event stream (frontends/bedrock_converse/stream.py). An exception message from Bedrock is
raised as its error, which the frontend writes in its own words.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

from babelgate.errors import UpstreamProtocolError
from babelgate.http import UpstreamResponse
from babelgate.providers.base import CallNotes
from babelgate.providers.bedrock.errors import error_from_frame
from babelgate.providers.bedrock.eventstream import messages_of
from babelgate.providers.bedrock.translate import finish_reason, usage_from_wire
from babelgate.providers.transport import event_object


def account(body: dict[str, Any], notes: CallNotes) -> None:
    """A ConverseResponse's usage and stop reason, into the notes."""
    notes.usage = usage_from_wire(body.get("usage"))
    message = (body.get("output") or {}).get("message") or {}
    calls = any("toolUse" in block for block in message.get("content") or () if isinstance(block, dict))
    notes.finish_reason = finish_reason(body.get("stopReason"), has_tool_calls=calls)
    notes.completed = True


async def relay_as_sse(
    response: UpstreamResponse, *, provider: str, notes: CallNotes, scrub: Callable[[str], str]
) -> AsyncGenerator[bytes, None]:
    """Each ConverseStream event as an SSE frame; the stream is complete at its `metadata` event (or at
    `messageStop`, should the metadata not come)."""
    calls = False
    async with messages_of(response, provider) as reads:
        async for messages in reads:
            out: list[bytes] = []
            for message in messages:
                if message.kind != "event":
                    if out:
                        yield b"".join(out)
                    raise error_from_frame(message.name, message.payload, provider=provider, scrub=scrub)
                name = message.name
                if name == "contentBlockStart":
                    calls = True  # only tool uses open with a start event
                elif name == "messageStop":
                    notes.finish_reason = finish_reason(
                        event_object(message.payload, provider).get("stopReason"), has_tool_calls=calls
                    )
                elif name == "metadata":
                    notes.usage = usage_from_wire(event_object(message.payload, provider).get("usage"))
                out.append(b"event: " + name.encode() + b"\ndata: " + message.payload + b"\n\n")
                if name == "metadata":
                    notes.completed = True
                    yield b"".join(out)
                    return
            if out:
                yield b"".join(out)
    if notes.finish_reason is None:
        raise UpstreamProtocolError("stream_interrupted", provider=provider)
    notes.completed = True
