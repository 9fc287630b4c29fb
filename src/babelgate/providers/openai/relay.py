"""The fast path's relays: the upstream's answer goes to the client as it is.

A whole chat completion is read for its usage and checked to be one (`COMPLETION`, through transport.skim)
without being parsed into objects.


Per frame a relay only searches bytes: for the end marker, an error payload, and the final
event that carries usage (parsed once). No frame is decoded otherwise. The Chat Completions relay's per-read
work is frames.py's `relay_read`, compiled; the generator here waits for reads and hands them on. One relay serves Chat
Completions streams and legacy completions streams (the same framing: `choices[].finish_reason`,
a usage chunk with empty choices, `[DONE]`), the other OpenAI's own Responses API streams
(`native_responses`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

import msgspec

from babelgate.errors import UpstreamProtocolError
from babelgate.http import UpstreamResponse
from babelgate.providers.base import CallNotes
from babelgate.providers.openai.frames import relay_read
from babelgate.providers.openai.stream import stream_error
from babelgate.providers.sse import SSEBody
from babelgate.providers.transport import checked_data, event_object
from babelgate.schema.chat import Usage
from babelgate.streaming import frame_data


class Completion(msgspec.Struct):
    """What the fast path reads of a chat completion it relays: its choices, each left unparsed, and its usage."""

    choices: list[msgspec.Raw]
    usage: Any = None


# `skim` reads a chat completion with it (providers/transport.py): its choices checked, not made into objects.
COMPLETION: Final = msgspec.json.Decoder(Completion)


def ask_for_usage(body: dict[str, Any]) -> bool:
    """Accounting needs a stream's usage (the ledger, budgets, token limits), which OpenAI sends
    only when asked: ask for it, and answer whether the client had not (then `relay_frames`
    hides it, so the client gets the stream it asked for)."""
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        return False
    body["stream_options"] = (
        {**options, "include_usage": True} if isinstance(options, dict) else {"include_usage": True}
    )
    return True


async def relay_frames(
    posted: Callable[[], Awaitable[UpstreamResponse]],
    *,
    provider: str,
    notes: CallNotes,
    scrub: Callable[[str], str],
    hide_usage: bool = False,
) -> AsyncIterator[bytes]:
    """`hide_usage`: the gateway asked for usage the client did not (`ask_for_usage`): the usage
    chunk is read, not relayed, and the `"usage":null` every other chunk then carries is cut.
    An event that is not a JSON object is a protocol error (the client's SDK could not read it);
    a body that is one JSON error instead of a stream is that error. `posted` makes the request, on the first
    iteration."""
    sse = SSEBody(await posted(), provider)
    async with contextlib.aclosing(sse.reads()) as reads:
        async for frames in reads:
            out, ended, error = relay_read(frames, notes, provider, scrub, hide_usage)
            if error is not None:
                if out:
                    yield out
                raise error
            yield out
            if ended:
                await sse.end()
                return
    answered = sse.json_instead()
    if answered is not None and "error" in answered:
        raise stream_error(answered, provider, scrub)
    if notes.finish_reason is not None:
        # Some compatible servers end after the finish reason without `[DONE]`: end it properly.
        notes.completed = True
        yield b"data: [DONE]\n\n"
        return
    raise UpstreamProtocolError("stream_interrupted", provider=provider)


_TERMINAL = (b'"type":"response.completed"', b'"type":"response.incomplete"', b'"type":"response.failed"')
_ERROR = b"event: error\n"
_ERROR_TYPE = b'"type":"error"'


async def relay_response_events(
    posted: Callable[[], Awaitable[UpstreamResponse]], *, provider: str, notes: CallNotes, scrub: Callable[[str], str]
) -> AsyncIterator[bytes]:
    """A Responses API stream ends with its terminal `response.*` event (and maybe `[DONE]`). An
    upstream `error` event ends it too: it is raised, in the upstream's words, for the frontend to
    render as its own `error` event (one the SDK raises, where the upstream's may lack the `error`
    object the SDK looks for) and for accounting to see the failure. An event that is not a JSON
    object is a protocol error; a JSON error answered instead of a stream is that error."""
    sse = SSEBody(await posted(), provider)
    async with contextlib.aclosing(sse.reads()) as reads:
        async for frames in reads:
            for position, frame in enumerate(frames):
                data = frame_data(frame)
                if data is None or data == b"[DONE]":
                    continue
                checked_data(data, provider)
                if any(frame.find(marker) >= 0 for marker in _TERMINAL):
                    notes.completed = True
                    terminal = event_object(data, provider)
                    notes.usage = responses_usage((terminal.get("response") or {}).get("usage"))
                elif frame.find(_ERROR, 0, 40) >= 0 or data.find(_ERROR_TYPE, 0, 40) >= 0:
                    if position:
                        yield b"".join(frames[:position])
                    raise stream_error(event_object(data, provider), provider, scrub)
            yield b"".join(frames)
    answered = sse.json_instead()
    if answered is not None and isinstance(answered.get("error"), dict):
        raise stream_error(answered, provider, scrub)
    if not notes.completed:
        raise UpstreamProtocolError("stream_interrupted", provider=provider)


def responses_usage(usage: object) -> Usage | None:
    """Responses API usage → canonical usage."""
    if not isinstance(usage, dict):
        return None
    prompt, completion = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    return Usage(
        prompt,
        completion,
        int(usage.get("total_tokens") or prompt + completion),
        cached_tokens=(usage.get("input_tokens_details") or {}).get("cached_tokens"),
        reasoning_tokens=(usage.get("output_tokens_details") or {}).get("reasoning_tokens"),
    )
