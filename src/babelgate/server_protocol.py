"""uvicorn's httptools protocol, with a response's head and first body bytes sent as one, and
bounds on what a client may hold: the time to send a request's head and its body, and the head's size.

uvicorn writes a response's head when the app sends `http.response.start` and its body when the
app sends `http.response.body`: two `send` system calls per answer, each running the loopback
TCP stack and waking the client. The gateway sends the body right after the head, so holding the
head until the body comes makes them one `writev` — measured in docs/performance.md. A head
with no body after it goes out at the end of that turn of the event loop; later writes (a
stream's chunks) go out at once, as before.

uvicorn sets no deadline on a request's head or body and no bound on its headers' size: a client
that opens a connection and sends nothing, sends its headers a byte at a time (slowloris), or
sends a chunked body that never ends would hold a connection and its memory for as long as it
likes. `Limits` bounds each; the timers are armed only when a read leaves a head or a body
unfinished, so a request that arrives whole (nearly all of them) costs nothing more. What is refused
here (those, and bytes that are not HTTP) is answered in JSON like any error of the app (protocol_errors.py),
where uvicorn answers in plain text.

uvicorn pauses reading when a pipelined request has to wait, but every `receive()` of the request being
answered and the end of every answer resume it, and each read is parsed whole: 10,000 pipelined
`GET /health` on one connection left 9,993 parsed requests (scope, headers, an event each) waiting at
once, and the worker's RSS rose by 25-35 MiB a round (docs/reliability.md, "Pipelining"). Here reads
resume only while fewer than `PIPELINE_DEPTH` requests wait, and a long read is parsed `READ_STEP` bytes
at a time, the rest held (at most one read) until the queue has room again.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import httptools
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT, FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from babelgate import protocol_errors
from babelgate.errors import GatewayError


class CoalescingTransport:
    """A transport that holds a response head (uvicorn's, starting with its status line) until the
    next write, which leaves with it, or the end of the current loop iteration, whichever comes
    first. Nothing is written around what is held, so the order of bytes never changes.

    Whatever is not about writing is the wrapped transport's own; closing sends what is pending
    first, aborting drops it (as the transport itself would)."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pending = self._pending
        if pending is not None:
            # The body after the head: both leave now (not at the end of the turn, so nothing the
            # app does after sending its answer delays it).
            self._pending = None
            pending.append(bytes(data))
            if not self._transport.is_closing():
                self._transport.writelines(pending)
        elif data[:5] == b"HTTP/":
            self._pending = [bytes(data)]
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            if len(pending) == 1:
                self._transport.write(pending[0])
            else:
                self._transport.writelines(pending)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def get_write_buffer_size(self) -> int:
        pending = self._pending
        return self._transport.get_write_buffer_size() + (sum(map(len, pending)) if pending else 0)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


@dataclass(frozen=True, slots=True)
class Limits:
    """What one connection may take (the `server:` settings of the same names)."""

    header_timeout: float = 10.0  # from a connection's or request's first byte to the end of its head
    body_timeout: float = 60.0  # from the end of a head to the end of its body
    max_header_bytes: int = 65536  # request line and headers together


# Parsed requests one connection may have waiting behind the one being answered. Pipelined requests are
# answered one after the other anyway, so a longer queue only holds memory, never adds speed.
PIPELINE_DEPTH: Final = 8
# A read longer than this is parsed this much at a time, so that a full queue stops the parsing within
# one step (the parser cannot be paused in the middle of what it was given).
READ_STEP: Final = 4096


class PipelineFlow(FlowControl):
    """uvicorn's flow control, whose `resume_reading` (called by every `receive()` and at the end of every
    answer) resumes only when the protocol has room for more requests."""

    def __init__(self, transport: asyncio.Transport, may_read: Callable[[], bool]) -> None:
        super().__init__(transport)
        self._may_read = may_read

    def resume_reading(self) -> None:
        if self.read_paused and self._may_read():
            super().resume_reading()


class _HeadTooLarge(Exception):
    """Raised from a parser callback: httptools stops parsing, and uvicorn calls send_400_response."""


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """The protocol `babelgate serve` runs uvicorn with (and the tests' servers)."""

    limits: ClassVar[Limits] = Limits()  # set from the config by each worker before it serves
    # Our own attributes in slots: uvicorn's fill the instance dict nearly to the 30 keys CPython
    # shares between instances; past them each connection's dict is its own (1.5 KiB per connection).
    __slots__ = ("_deadline", "_head_bytes", "_held", "_in_body", "_in_head", "_refusal", "_stopping", "_upgraded")

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        self.flow = PipelineFlow(self.transport, self._may_read)
        # What was read but not parsed while the queue of requests is full (at most one read).
        self._held: bytes | memoryview = b""
        self._upgraded = False
        self._stopping = False
        self._head_bytes = 0
        self._in_head = False
        self._in_body = False
        self._deadline: asyncio.TimerHandle | None = None
        self._refusal = 0
        # A connection that never sends a byte is held no longer than a slow head.
        self._arm(self.limits.header_timeout)

    def data_received(self, data: bytes) -> None:
        if self._held:  # a read that was under way when reading paused
            self._held = bytes(self._held) + data
        elif len(data) <= READ_STEP:
            self._parse(data)
        else:
            self._parse_in_steps(data)

    def _parse_in_steps(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        for start in range(0, len(view), READ_STEP):
            if start and not self._has_room():
                self._held = view[start:]  # a view: holding the rest copies nothing
                self.flow.pause_reading()
                return
            self._parse(view[start : start + READ_STEP])
            if self._upgraded or self.transport.is_closing():
                return  # what follows is the WebSocket's, or nobody's

    def _may_read(self) -> bool:
        return not self._held and self._has_room()

    def _has_room(self) -> bool:
        """Whether another request may be parsed: fewer than PIPELINE_DEPTH requests wait, and the request
        being read, if it waits too, has not buffered a body past uvicorn's high-water mark (its app is not
        reading it yet, so nothing else bounds it)."""
        if len(self.pipeline) >= PIPELINE_DEPTH:
            return False
        waiting = bool(self.pipeline) and self.pipeline[0][0] is self.cycle
        return not (waiting and len(self.cycle.body) > HIGH_WATER_LIMIT)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # starts the next waiting request: the queue has room again
        if self._held:
            # Parsed from the loop, not from inside the app's `send` that finished this answer.
            self.loop.call_soon(self._parse_held)
        elif self.flow.read_paused and not self.transport.is_closing():
            # uvicorn resumed before it took the next waiting request off the queue: now there is room.
            self.flow.resume_reading()

    def _parse_held(self) -> None:
        if not self._held or not self._has_room() or self._upgraded or self.transport.is_closing():
            return
        held, self._held = self._held, b""
        self._parse_in_steps(held)
        if not self._held:
            self.flow.resume_reading()

    def handle_websocket_upgrade(self) -> None:
        self._upgraded = True
        super().handle_websocket_upgrade()

    def _parse(self, data: bytes | memoryview) -> None:
        super().data_received(data)  # type: ignore[arg-type]
        if self._in_head or self._in_body:
            if self._deadline is None:
                self._arm(self.limits.header_timeout if self._in_head else self.limits.body_timeout)
        elif self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._in_head = True

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        # `_count`, inlined: this runs for every header of every request.
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > self.limits.max_header_bytes:
            self._refusal = 431
            raise _HeadTooLarge()
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._deadline is not None:  # the head's deadline; the body, if any, gets its own
            self._deadline.cancel()
            self._deadline = None
        super().on_headers_complete()
        if self._stopping and self.cycle is not None:
            self.cycle.keep_alive = False  # answered, then closed: the server is stopping
        self._in_body = not (self.parser.should_upgrade() and self._should_upgrade())

    def shutdown(self) -> None:
        """The server stops. uvicorn closes an idle keep-alive connection at once; a request that has
        already arrived on it, but that the loop has not read yet, is then reset, and a proxy does not
        send again a POST it has written (nginx answered 502 for one request in five SIGTERMs under
        load). Such a request is read and answered, with `Connection: close`; the server waits for it."""
        self._stopping = True
        idle = self.cycle is None or self.cycle.response_complete
        if idle and not self.transport.is_closing() and (self._held or _has_unread_bytes(self.transport)):
            if self._held:
                self.loop.call_soon(self._parse_held)
            else:
                self.flow.resume_reading()
            return
        super().shutdown()

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._held = b""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.limits.max_header_bytes:
            self._refusal = 431
            raise _HeadTooLarge()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to what the parser refused, in plain text; ours in JSON (protocol_errors.py)."""
        if self._refusal == 431:
            self._refuse(protocol_errors.head_too_large(self.limits.max_header_bytes))
        else:
            self._refuse(protocol_errors.malformed())

    def _arm(self, seconds: float) -> None:
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _expired(self) -> None:
        self._deadline = None
        if self._held or self.flow.read_paused:
            # The gateway is the one not reading (pipelined requests wait their turn): the client is not late.
            self._arm(self.limits.header_timeout if self._in_head else self.limits.body_timeout)
            return
        part = "head" if self._in_head or self.cycle is None else "body"
        if self._in_head or self._in_body or self.cycle is None:
            if self.cycle is not None and not self.cycle.response_complete:
                # The app waits for the rest of the body: it is told the client left, and stops.
                self.cycle.disconnected = True
                self.cycle.message_event.set()
            if self.cycle is not None and self.cycle.response_started:
                self.transport.close()
            else:
                seconds = self.limits.header_timeout if part == "head" else self.limits.body_timeout
                self._refuse(protocol_errors.too_slow(part, seconds))

    def _refuse(self, error: GatewayError) -> None:
        accept_language = next(
            (value.decode("latin-1") for name, value in self.headers or () if name == b"accept-language"), None
        )
        self.transport.write(protocol_errors.refusal(error, self._path_read(), accept_language))
        self.transport.close()

    def _path_read(self) -> str | None:
        """The request's path as far as it arrived (its prefix names the API), or None before it began."""
        if self.scope is None:
            return None  # no request began
        path: str | None = self.scope.get("path")
        if path is None and self.url:
            try:
                path = httptools.parse_url(self.url).path.decode("latin-1")
            except httptools.HttpParserInvalidURLError:
                return None
        return path


def _has_unread_bytes(transport: Any) -> bool:
    """Whether bytes wait in the connection's receive buffer (peeked at on a duplicate of its socket:
    asyncio's transport sockets refuse `recv`)."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return False
    try:
        with socket.socket(fileno=os.dup(sock.fileno())) as peek:
            return bool(peek.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except OSError:  # nothing to read (BlockingIOError), or the socket is gone
        return False


# How the gateway runs under uvicorn, for `babelgate serve` (cli.py) and the tests' servers alike:
# this protocol, no `server: uvicorn` banner (nothing about the stack reaches a client), no access log.
UVICORN_OPTIONS: Final[dict[str, Any]] = {
    "http": CoalescingHttpToolsProtocol,
    "server_header": False,
    "access_log": False,
    "log_config": None,
}
