"""An upstream's event stream, read by the gateway's one SSE loop (`SSEBody`): every stream of every provider
goes through it, the native roads' relays reading its frames as they are and `translate_sse` translating them.
Python, not compiled: its loops are async generators, and the per-frame work they call is compiled elsewhere."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Protocol

import orjson

from babelgate.errors import UpstreamProtocolError
from babelgate.http import UpstreamResponse, drain, let_go
from babelgate.providers.base import CallNotes
from babelgate.schema.chunks import ChatChunk
from babelgate.streaming import SSEDecoder, SSEEvent, parse_frame


class SSEBody:
    """An upstream's event stream, read by the gateway's one SSE loop (`reads`): the native roads'
    relays and `translate_sse` alike go through it, each reading the frames its own way. A frame is the
    upstream's exact bytes (LF line ends, ending in a blank line), so a relay may pass it on untouched.

    What the body held after its last frame stays in the decoder, for the reader to judge at the end:
    `tail_events` (a last event without its blank line, or bare JSON) or `json_instead` (one JSON
    object where events were expected: an upstream's error answered with HTTP 200)."""

    __slots__ = ("decoder", "response")

    def __init__(self, response: UpstreamResponse, provider: str) -> None:
        self.response = response
        self.decoder = SSEDecoder(provider=provider)

    async def reads(self) -> AsyncGenerator[list[bytes], None]:
        """The complete frames of each read of the body, as they arrive (a read that completes none
        is not yielded). The wait between two reads is bounded by the connection's chunk timeout
        (http/connection.py): a stream that goes quiet ends here with UpstreamTimeout. A reader that
        stops early closes this (`contextlib.aclosing`), which lets the connection go: back to the
        pool when the body was read to its end (`end` reads the rest), dropped otherwise, so that the
        upstream stops generating when the client has gone."""
        response, decoder = self.response, self.decoder
        try:
            while chunk := await response.readany():
                frames = decoder.feed_frames(chunk)
                if frames:
                    yield frames
        finally:
            let_go(response)

    async def end(self) -> None:
        """The reader saw the stream's end marker: the little that follows is read and dropped, so
        the connection can be reused."""
        await drain(self.response)

    def tail_events(self) -> list[SSEEvent]:
        """At the body's end: a last event without the blank line after it, or a JSON body where
        events were expected, as one event (the translator raises the error it holds)."""
        decoder = self.decoder
        leftover = decoder.pending
        return decoder.close() or [event for event in (_bare_json(leftover),) if event is not None]

    def json_instead(self) -> dict[str, Any] | None:
        """At the body's end: the JSON object it held instead of events, if it is one (an upstream's
        error answered with HTTP 200 and `application/json`), else None."""
        rest = self.decoder.pending.strip()
        if not rest.startswith(b"{"):
            return None
        try:
            parsed = orjson.loads(rest)
        except orjson.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None


class StreamTranslator(Protocol):
    """Every provider's stream translator (providers/*/stream.py): upstream events in, canonical
    chunks out. `done` turns true at the provider's end marker (Gemini has none: the connection's
    end is its end); `finish` is called when the body ended, for what the translator still holds
    (Gemini's usage), and raises when the stream ended before it was whole."""

    @property
    def done(self) -> bool: ...

    @property
    def finish_reason(self) -> str | None: ...

    def feed(self, event: SSEEvent) -> list[ChatChunk]: ...

    def finish(self) -> list[ChatChunk]: ...


async def translate_sse(
    response: UpstreamResponse,
    translator: StreamTranslator,
    notes: CallNotes,
    *,
    provider: str,
    end_marker_required: bool = False,
) -> AsyncIterator[ChatChunk]:
    """The translated road's stream: an upstream SSE body through `translator`, filling `notes`
    (usage, finish, completed). After the end marker the rest of the body is drained so the
    connection is reused. A body that ends without the marker is complete only if a finish reason
    came (and the marker is optional). A body that is one JSON object instead of events (an error
    answered with 200, no stream at all) goes to the translator as one event: it raises the
    provider's error, in the upstream's words."""
    sse = SSEBody(response, provider)
    async with contextlib.aclosing(sse.reads()) as reads:
        async for frames in reads:
            for frame in frames:
                event = parse_frame(frame) or _bare_json(frame)
                if event is None:
                    continue  # a keep-alive comment
                for canonical in translator.feed(event):
                    if canonical.usage is not None:
                        notes.usage = canonical.usage
                    yield canonical
                if translator.done:
                    notes.finish_reason, notes.completed = translator.finish_reason, True
                    await sse.end()
                    return
    for event in sse.tail_events():
        for canonical in translator.feed(event):
            if canonical.usage is not None:
                notes.usage = canonical.usage
            yield canonical
    for canonical in translator.finish():
        if canonical.usage is not None:
            notes.usage = canonical.usage
        yield canonical
    notes.finish_reason = translator.finish_reason
    if end_marker_required or translator.finish_reason is None:
        raise UpstreamProtocolError("stream_interrupted", provider=provider)
    notes.completed = True


def _bare_json(frame: bytes) -> SSEEvent | None:
    """A frame that is JSON without `data:`: how some upstreams send an error after the stream
    began (Gemini: "errors after the stream began may come as raw JSON", GEM _api_client.py)."""
    text = frame.strip()
    if text.startswith((b"{", b"[")):
        return SSEEvent(data=text.decode("utf-8", "replace"))
    return None
