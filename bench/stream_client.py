"""The bench's stream client: a raw asyncio Protocol (on uvloop, as run.py runs it) that sends one prebuilt
request per stream on a keep-alive connection and checks every event as it arrives (streams.py).

It exists because the load generator shares a core with the fake upstream: with aiohttp, reading and
parsing ~16,000 chunks/s at 16 concurrent streams saturated that core, and the client's own queueing
showed up as time to first token. Here the HTTP response is parsed by httptools (llhttp, as the gateway's
own server uses it), SSE events are framed by byte search, and most text deltas are checked by comparing
bytes (streams.DeltaTemplate), so the client costs a few microseconds per chunk.

Times are taken once per socket read (every event of one read arrived together): the time to first token
is when the event with the first text token arrived, the total time when the format's end marker did. The
connection is reused only once the body has ended, and only if the server keeps it alive.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, cast

import httptools

from streams import StreamCheck, framer_for

STREAM_TIMEOUT: Final = 60.0  # seconds for one whole stream, as the aiohttp client's total timeout was
ERROR_BODY_BYTES: Final = 300  # how much of a non-200 answer goes into the error message
# Sent with every request. The client does not decode compressed bodies, so it asks for none, and an answer
# that is compressed anyway fails the stream.
_FIXED_HEADERS: Final = "Accept: */*\r\nAccept-Encoding: identity\r\nUser-Agent: babelgate-bench\r\n"


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """A POST whose bytes are built once per run, so sending it is one write."""

    host: str
    port: int
    raw: bytes

    @classmethod
    def post(cls, url: str, headers: Mapping[str, str], body: bytes) -> StreamRequest:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"the stream client needs http://host:port/…, not {url!r}")
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        head = (
            f"POST {target} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            + f"Content-Length: {len(body)}\r\n{_FIXED_HEADERS}\r\n"
        )
        return cls(parts.hostname, parts.port, head.encode() + body)


@dataclass(frozen=True, slots=True)
class StreamResult:
    problem: str | None  # None: every event passed its check and the body ended after the end marker
    first_token_s: float | None  # from sending the request to the arrival of the first text token
    total_s: float | None  # from sending the request to the arrival of the end marker


class _Exchange:
    """One stream on a connection: the answer's status, its events fed to the check as they come."""

    __slots__ = ("check", "done", "end_at", "error_body", "first_token_at", "framer", "sent_at", "status")

    def __init__(self, check: StreamCheck, done: asyncio.Future[str | None]) -> None:
        self.check = check
        self.done = done  # resolved with the problem, or None, once the stream is judged
        self.framer = framer_for(check.format)
        self.status = 0
        self.error_body = b""
        self.sent_at = 0.0
        self.first_token_at: float | None = None
        self.end_at: float | None = None

    def body(self, piece: bytes, now: float) -> None:
        if self.status != 200:
            self.error_body = (self.error_body + piece)[:ERROR_BODY_BYTES]
            return
        check = self.check
        for name, data in self.framer.feed(piece):
            problem = check.feed(name, data)
            if self.first_token_at is None and check.received:
                self.first_token_at = now
            if self.end_at is None and check.ended:
                self.end_at = now
            if problem is not None:
                self.judge(problem)
                return

    def complete(self) -> None:
        """The body ended: whatever was not judged yet is judged now."""
        if self.status != 200:
            self.judge(f"HTTP {self.status}: {self.error_body!r}")
        elif self.framer.leftover.strip():
            self.judge(f"{self.check.format}: the body ended inside an event: {self.framer.leftover[:200]!r}")
        else:
            self.judge(self.check.finish())

    def judge(self, problem: str | None) -> None:
        if not self.done.done():
            self.done.set_result(problem)

    def result(self, problem: str | None) -> StreamResult:
        def since_sent(at: float | None) -> float | None:
            return None if at is None else at - self.sent_at

        return StreamResult(problem, since_sent(self.first_token_at), since_sent(self.end_at))


class StreamConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one stream at a time. The httptools parser calls the `on_*`
    methods while `data_received` feeds it; a stream judged before its body ended closes the connection
    (the rest of that body is not read), as does a server that does not keep it alive."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._exchange: _Exchange | None = None
        self._keep_alive = True
        self._now = 0.0  # when the bytes being parsed arrived

    @property
    def usable(self) -> bool:
        return self._transport is not None and not self._transport.is_closing() and self._keep_alive

    async def stream(self, request: bytes, check: StreamCheck) -> StreamResult:
        """Send the request and read its stream to the end (or to the first problem)."""
        assert self._transport is not None and self._exchange is None, "one stream at a time, on an open connection"
        exchange = _Exchange(check, asyncio.get_running_loop().create_future())
        self._exchange = exchange
        exchange.sent_at = time.perf_counter()
        self._transport.write(request)
        try:
            async with asyncio.timeout(STREAM_TIMEOUT):
                problem = await exchange.done
        except TimeoutError:
            problem = f"no end of the stream within {STREAM_TIMEOUT:g} s"
        if self._exchange is exchange:  # judged before the body ended: the connection is out of step
            self.close()
        return exchange.result(problem)

    def close(self) -> None:
        self._exchange = None
        if self._transport is not None:
            self._transport.close()

    # --- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if self._exchange is not None:
            self._exchange.judge(f"connection lost: {exc or 'closed by the server'}")
        self._exchange = None

    def data_received(self, data: bytes) -> None:
        if self._exchange is None:  # bytes nobody asked for: the next stream could not be read right
            self.close()
            return
        self._now = time.perf_counter()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._exchange.judge(f"bad HTTP response: {type(exc).__name__}: {exc}")
            self.close()

    # --- httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._exchange is not None and name.lower() == b"content-encoding" and value.lower() != b"identity":
            self._exchange.judge(f"a compressed answer ({value!r}) the bench does not decode")

    def on_headers_complete(self) -> None:
        self._keep_alive = self._parser.should_keep_alive()
        if self._exchange is not None:
            self._exchange.status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        exchange = self._exchange
        if exchange is not None and not exchange.done.done():
            exchange.body(body, self._now)

    def on_message_complete(self) -> None:
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            exchange.complete()
        if not self._keep_alive and self._transport is not None:
            self._transport.close()


class StreamClient:
    """A worker's connection, opened again (untimed) whenever the last one cannot be reused."""

    def __init__(self, request: StreamRequest) -> None:
        self.request = request
        self._connection: StreamConnection | None = None

    async def stream(self, check: StreamCheck) -> StreamResult:
        if self._connection is None or not self._connection.usable:
            try:
                self._connection = await self._connect()
            except OSError as exc:
                return StreamResult(f"cannot connect: {type(exc).__name__}: {exc}", None, None)
        return await self._connection.stream(self.request.raw, check)

    async def connect(self) -> StreamConnection:
        """A new connection (the many-streams bench times it)."""
        self._connection = await self._connect()
        return self._connection

    async def _connect(self) -> StreamConnection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(StreamConnection, self.request.host, self.request.port)
        return connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
