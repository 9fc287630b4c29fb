"""The translated road: a Realtime session on an upstream that speaks Gemini's Live API (`BidiGenerateContent`,
a provider with the `live` capability: providers/base.py `LiveApi`). The client's events go through the
translator (gemini_live `OpenAIToLive`) to Gemini's messages, Gemini's messages through it to the client's
events, in the client's own dialect (GA or beta). What cannot be translated the translator tells the client as an
`error` event where it says so, and the log at debug level. Mapping: docs/realtime-translation.md."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from babelgate.errors import UpstreamError, UpstreamProtocolError
from babelgate.providers.base import LiveUpstream
from babelgate.providers.status import error_for_status
from babelgate.realtime.gemini_live import OpenAIToLive, Translated
from babelgate.realtime.protocol import JSON
from babelgate.realtime.relay import connect_upstream, dropped

log = logging.getLogger("babelgate.realtime")

SESSION_EVENTS: Final = frozenset(("session.created", "session.updated"))
# Close codes Gemini ends a session with for something it refused (an invalid setup or key, a model it does not
# serve live), the reason in words: the client is told them.
REFUSED_CLOSE: Final = frozenset((1007, 1008))
# Events translated and waiting for the client: the upstream's reader waits beyond this (the client is slow).
QUEUED: Final = 256


class LiveRoad:
    name = "translated"
    # The translator writes the client's dialect itself (a beta session object differs in more than names).
    speaks_client_names = True

    def __init__(
        self,
        socket: ClientConnection,
        translator: OpenAIToLive,
        public_model: str,
        provider: str,
        scrub: Callable[[str], str],
        *,
        audio_stream_end: bool = True,
    ) -> None:
        self.socket = socket
        self.translator = translator
        self.upstream_model = translator.settings.model
        self.public_model = public_model
        self.provider = provider
        self.scrub = scrub
        self.audio_stream_end = audio_stream_end
        self._events: asyncio.Queue[JSON | UpstreamError | None] = asyncio.Queue(QUEUED)
        self._sending = asyncio.Lock()  # the client's pump and the reader both send upstream: one message at a time
        for event in translator.opening().client:
            self._events.put_nowait(event)
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(
        cls, upstream: LiveUpstream, public_model: str, *, beta: bool, provider: str, scrub: Callable[[str], str]
    ) -> LiveRoad:
        """Connects (a refusal is the router's failed attempt, as on the relayed road). Gemini's `setup` waits for
        the client's first event, which usually carries the session's settings Gemini takes only then."""
        socket = await connect_upstream(
            upstream.socket, provider=provider, connect_timeout=upstream.socket.connect_timeout, scrub=scrub
        )
        translator = OpenAIToLive(upstream.model, dialect="beta" if beta else "ga")
        return cls(socket, translator, public_model, provider, scrub, audio_stream_end=upstream.audio_stream_end)

    async def send(self, event: JSON, raw: str) -> None:
        if event.get("type") == "session.update":
            session = event.get("session")
            if isinstance(session, dict) and "model" in session:
                # The client knows the public name; the session's model is the deployment's, set when it opened.
                event = {**event, "session": {name: value for name, value in session.items() if name != "model"}}
        await self._deliver(self.translator.client_event(event))

    async def receive(self) -> tuple[JSON, str] | None:
        event = await self._events.get()
        if event is None:
            return None
        if isinstance(event, UpstreamError):
            raise event
        if event.get("type") in SESSION_EVENTS:
            session = event.get("session")
            if isinstance(session, dict) and session.get("model") == self.upstream_model:
                event["session"] = {**session, "model": self.public_model}
        return event, orjson.dumps(event).decode()

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.socket.close(), timeout=2.0)

    async def _deliver(self, out: Translated) -> None:
        for message in out.upstream:
            if not self.audio_stream_end and _ends_stream(message):
                # Without it the upstream's own speech detection ends the turn, as it would have anyway.
                log.debug("realtime session on %s: audioStreamEnd not sent (the upstream has none)", self.provider)
                continue
            async with self._sending:
                try:
                    await self.socket.send(orjson.dumps(message).decode())
                except ConnectionClosed as closed:
                    raise self._closed(closed) from None
        for event in out.client:
            await self._events.put(event)
        for warning in out.warnings:
            log.debug("realtime session on %s: %s", self.provider, warning)

    async def _read(self) -> None:
        """Gemini's messages, translated, to the client's queue; its end (None) or its failure last."""
        ending: UpstreamError | None
        try:
            while True:
                message = await self.socket.recv()
                try:
                    parsed = orjson.loads(message)
                except orjson.JSONDecodeError:
                    parsed = None
                if not isinstance(parsed, dict):
                    raise UpstreamProtocolError(provider=self.provider)
                await self._deliver(self.translator.server_message(parsed))
        except ConnectionClosed as closed:
            ending = None if closed.rcvd is not None and closed.rcvd.code == 1000 else self._closed(closed)
        except UpstreamError as error:
            ending = error
        except Exception:  # a message the translator could not take: the session cannot go on, and is told so
            log.exception("realtime session on %s: a Gemini message could not be translated", self.provider)
            ending = UpstreamProtocolError(provider=self.provider)
        await self._events.put(ending)

    def _closed(self, closed: ConnectionClosed) -> UpstreamError:
        """Gemini's words when it refused something, scrubbed; otherwise the upstream dropped."""
        received = closed.rcvd
        if received is not None and received.code in REFUSED_CLOSE and received.reason:
            refused = error_for_status(400, provider=self.provider, scrub=self.scrub, message=received.reason)
            if isinstance(refused, UpstreamError):
                return refused
        return dropped(closed, self.provider)


def _ends_stream(message: JSON) -> bool:
    realtime = message.get("realtimeInput")
    return isinstance(realtime, dict) and "audioStreamEnd" in realtime
