"""The gateway's own HTTP/1.1 server protocol: httptools (llhttp) parses, this module answers, uvicorn's
`Server` runs it (sockets, workers, signals, lifespan, graceful shutdown) and its WebSocket protocol takes
over an upgraded connection.

Why not uvicorn's own protocol: on the compiled build it was two thirds of the Python a fast-path request
still ran (docs/performance.md, "The server layer"): a regular expression per response header, name and
value, an `asyncio.Event` and a keep-alive timer armed and cancelled per request, a flow-control object and
a wrapper transport per connection. This one is a native class on the compiled build, checks a head's names
and values in two searches whatever their number, arms one keep-alive timer per idle period rather than per
request, and sends a response's head and its first body bytes in one write.

What it keeps from uvicorn's, and adds:
- **One write per answer.** uvicorn writes a response's head when the app sends `http.response.start` and its
  body when the app sends `http.response.body`: two `send` system calls, each running the loopback TCP stack
  and waking the client. The gateway sends the body right after the head, so the head waits for it. A head
  with no body after it in the same turn of the event loop goes out at the end of that turn, unless the app
  said that its body follows before it awaits anything else (`exchange.BODY_FOLLOWS`, as the gateway's own
  answers do): then nothing is scheduled for it.
- **Bounds on what a client may hold** (`Limits`): the time to send a request's head and its body, and the
  head's size. A client that opens a connection and sends nothing, sends its headers a byte at a time
  (slowloris), or sends a chunked body that never ends is refused in JSON like any error of the app
  (protocol_errors.py). The timers are armed only when a read leaves a head or a body unfinished, so a
  request that arrives whole (nearly all of them) costs nothing more.
- **A bounded pipeline.** Reads resume only while fewer than `PIPELINE_DEPTH` requests wait, and a long read
  is parsed `READ_STEP` bytes at a time, the rest held (at most one read) until the queue has room again:
  with uvicorn's, 10,000 pipelined `GET /health` left 9,993 parsed requests waiting at once
  (docs/reliability.md, "Pipelining").
- **Stopping.** A request that has arrived on an idle keep-alive connection but that the loop has not read
  yet when the server stops is read and answered, with `Connection: close`, rather than reset.
- As uvicorn: `Expect: 100-continue`, HEAD, 204 and 304 without a body, chunked answers when the app gives no
  length, HTTP/1.0, the keep-alive timeout, `limit_concurrency`, the access log, uvicorn's `default_headers`
  (its `date`), a 500 for an app that fails before answering.
"""

from __future__ import annotations

import asyncio
import http
import logging
import os
import socket
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import httptools
from uvicorn.protocols.utils import get_client_addr, get_local_addr, get_path_with_query_string, get_remote_addr, is_ssl

from babelgate import protocol_errors
from babelgate.errors import GatewayError
from babelgate.exchange import BODY_FOLLOWS


@dataclass(frozen=True, slots=True)
class Limits:
    """What one connection may take (the `server:` settings of the same names)."""

    header_timeout: float = 10.0  # from a connection's or request's first byte to the end of its head
    body_timeout: float = 60.0  # from the end of a head to the end of its body
    max_header_bytes: int = 65536  # request line and headers together


_limits = Limits()


def set_limits(limits: Limits) -> None:
    """Every connection opened from now on in this process takes these (each worker sets them from its config)."""
    global _limits
    _limits = limits


def current_limits() -> Limits:
    return _limits


# Parsed requests one connection may have waiting behind the one being answered. Pipelined requests are
# answered one after the other anyway, so a longer queue only holds memory, never adds speed.
PIPELINE_DEPTH: Final = 8
# A read longer than this is parsed this much at a time, so that a full queue stops the parsing within
# one step (the parser cannot be paused in the middle of what it was given).
READ_STEP: Final = 4096
# A request body buffered past this, while its app is not reading it, pauses reading (uvicorn's figure).
HIGH_WATER_LIMIT: Final = 65536

# What a response header's name (RFC 9110's token characters, as uvicorn checks them) and value (all but
# controls; tab allowed) may hold. A head's names and values are checked joined, each in one `translate` that
# deletes what is allowed: whatever is left is refused. (A regular expression per header was 14k instructions
# of a governed request's head, in the regex engine's character-set loop.)
_NAME_BYTES: Final = bytes(
    byte for byte in range(256) if byte > 32 and byte != 127 and chr(byte) not in '()<>@,;:[]={}\\"'
)
_VALUE_BYTES: Final = bytes(byte for byte in range(256) if byte == 9 or (byte >= 32 and byte != 127))


def _status_line(status: int) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase.encode()
    except ValueError:
        phrase = b""
    return b"HTTP/1.1 %d %s\r\n" % (status, phrase)


_STATUS_LINES: Final = {status: _status_line(status) for status in range(100, 600)}
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_INTERNAL_ERROR: Final = (
    b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 21\r\nconnection: close\r\n\r\nInternal Server Error"
)
_UNAVAILABLE: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 19\r\nconnection: close\r\n\r\nService Unavailable"
)

_logger = logging.getLogger("uvicorn.error")
_access_logger = logging.getLogger("uvicorn.access")


class Flow:
    """Reading and writing paused and resumed on one connection. Reading resumes only while the protocol
    has room for another request (`may_read`): every `receive()` and the end of every answer ask."""

    __slots__ = ("_drained", "_may_read", "_transport", "read_paused", "write_paused")

    def __init__(self, transport: Any, may_read: Callable[[], bool]) -> None:
        self._transport = transport
        self._may_read = may_read
        self.read_paused = False
        self.write_paused = False
        self._drained: asyncio.Future[None] | None = None

    def pause_reading(self) -> None:
        if not self.read_paused:
            self.read_paused = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused and self._may_read():
            self.read_paused = False
            self._transport.resume_reading()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    async def drain(self) -> None:
        if self.write_paused:
            if self._drained is None:
                self._drained = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._drained)


class _HeadTooLarge(Exception):
    """Raised from a parser callback: httptools stops parsing, and the request is refused with a 431."""


class Cycle:
    """One request and its answer: what the app's `receive` and `send` read and write."""

    __slots__ = (
        "_ended",
        "_head",
        "_head_only",
        "_waiter",
        "body",
        "chunked",
        "disconnected",
        "keep_alive",
        "more_body",
        "on_response",
        "protocol",
        "remaining",
        "response_complete",
        "response_started",
        "scope",
        "transport",
        "waiting_for_100_continue",
    )

    def __init__(
        self, protocol: GatewayHttpProtocol, scope: dict[str, Any], keep_alive: bool, expect_100: bool
    ) -> None:
        self.protocol = protocol
        self.transport = protocol.transport
        self.scope = scope
        self.keep_alive = keep_alive
        self.waiting_for_100_continue = expect_100
        self.on_response: Callable[[], None] | None = protocol.on_response_complete
        self.disconnected = False
        self.body = bytearray()
        self.more_body = True
        self._ended = False  # the body's end has been given to the app
        self.response_started = False
        self.response_complete = False
        self.chunked = False
        self.remaining = 0  # body bytes the answer's content-length still promises
        self._head: bytes | None = None  # a head waiting for the body bytes it leaves with
        self._head_only = False  # HEAD: the answer's head, no body bytes
        self._waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        """Body bytes arrived, the body ended, the client left or the answer completed: `receive` looks again."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def client_left(self) -> None:
        if not self.response_complete:
            self.disconnected = True
        self.wake()

    async def run(self, app: Any) -> None:
        try:
            result = await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            _logger.error("Exception in ASGI application\n", exc_info=exc)
            if not self.response_started:
                self._send_500()
            else:
                self.transport.close()
        else:
            if result is not None:
                _logger.error("ASGI callable should return None, but returned '%s'.", result)
                self.transport.close()
            elif not self.response_started and not self.disconnected:
                _logger.error("ASGI callable returned without starting response.")
                self._send_500()
            elif not self.response_complete and not self.disconnected:
                _logger.error("ASGI callable returned without completing response.")
                self.transport.close()
        finally:
            self.on_response = None

    def _send_500(self) -> None:
        if self.disconnected:
            return
        self.response_started = True
        self.response_complete = True
        if not self.transport.is_closing():
            self.transport.write(_INTERNAL_ERROR)
            self.transport.close()

    async def receive(self) -> dict[str, Any]:
        if self.waiting_for_100_continue and not self.transport.is_closing():
            self.transport.write(_CONTINUE)
            self.waiting_for_100_continue = False
        while not self.disconnected and not self.response_complete:
            if self.body or (not self.more_body and not self._ended):
                message = {"type": "http.request", "body": bytes(self.body), "more_body": self.more_body}
                self.body = bytearray()
                self._ended = not self.more_body
                return message
            self.protocol.flow.resume_reading()
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        protocol = self.protocol
        if protocol.flow.write_paused and not self.disconnected:
            await protocol.flow.drain()
        if self.disconnected:
            return
        kind = message["type"]
        if not self.response_started:
            if kind != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{kind}'.")
            self._start(message["status"], message.get("headers") or (), message.get(BODY_FOLLOWS) is True)
        elif not self.response_complete:
            if kind != "http.response.body":
                raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{kind}'.")
            self._body(message.get("body", b""), bool(message.get("more_body", False)))
        else:
            raise RuntimeError(f"Unexpected ASGI message '{kind}' sent, after response already completed.")

    def _start(self, status: int, headers: Any, body_follows: bool) -> None:
        self.response_started = True
        self.waiting_for_100_continue = False
        protocol = self.protocol
        if protocol.access_log:
            scope = self.scope
            _access_logger.info(
                '%s - "%s %s HTTP/%s" %d',
                get_client_addr(scope),  # type: ignore[arg-type]
                scope["method"],
                get_path_with_query_string(scope),  # type: ignore[arg-type]
                scope["http_version"],
                status,
            )
        content = [_STATUS_LINES[status]]
        for name, value in protocol.server_state.default_headers:
            content += (name, b": ", value, b"\r\n")
        names: list[bytes] = []
        values: list[bytes] = []
        closes = False
        length = -1
        chunked = False
        for name, value in headers:
            name = name.lower()
            names.append(name)
            values.append(value)
            if name == b"content-length":
                if length < 0 and not chunked:
                    length = int(value)
            elif name == b"transfer-encoding":
                if value.lower() == b"chunked":
                    chunked = True
                    length = -1
            elif name == b"connection" and b"close" in [token.strip() for token in value.lower().split(b",")]:
                closes = True
            content += (name, b": ", value, b"\r\n")
        if names and (b"".join(names).translate(None, _NAME_BYTES) or b"\t".join(values).translate(None, _VALUE_BYTES)):
            raise RuntimeError("Invalid HTTP header name or value.")
        if closes:
            self.keep_alive = False
        elif not self.keep_alive:
            content.append(b"connection: close\r\n")
        self._head_only = self.scope["method"] == "HEAD"
        if length < 0 and not chunked and not self._head_only and status != 204 and status != 304:
            chunked = True
            content.append(b"transfer-encoding: chunked\r\n")
        self.chunked = chunked
        self.remaining = max(length, 0)  # no length, no chunks (HEAD, 204, 304): no body bytes
        content.append(b"\r\n")
        self._head = b"".join(content)
        if not body_follows:  # an app that may await something else first: the head leaves at the end of the turn
            protocol.loop.call_soon(self._flush_head)

    def _flush_head(self) -> None:
        """The end of the turn in which the head was sent without a body: it leaves alone."""
        head, self._head = self._head, None
        if head is not None and not self.transport.is_closing():
            self.transport.write(head)

    def _body(self, body: Any, more_body: bool) -> None:  # Any: bytes, or what an app passes for them
        head, self._head = self._head, None
        if self._head_only:
            out = b""
            self.remaining = 0
        elif self.chunked:
            if body:
                out = b"%x\r\n%b\r\n%b" % (len(body), body, b"" if more_body else b"0\r\n\r\n")
            else:
                out = b"" if more_body else b"0\r\n\r\n"
        else:
            if len(body) > self.remaining:
                raise RuntimeError("Response content longer than Content-Length")
            self.remaining -= len(body)
            out = body
        transport = self.transport
        if not transport.is_closing():
            if head is not None:
                if out:
                    transport.writelines((head, out))
                else:
                    transport.write(head)
            elif out:
                transport.write(out)
        if not more_body:
            if self.remaining > 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.response_complete = True
            self.wake()
            if not self.keep_alive:
                transport.close()
            on_response = self.on_response
            if on_response is not None:
                on_response()


class GatewayHttpProtocol:
    """The HTTP/1.1 protocol `babelgate serve` runs under uvicorn's server (and the tests' servers):
    constructed as uvicorn constructs its own, `(config, server_state, app_state)`."""

    # Slots: its attributes are past the 30 keys CPython shares between instances' dicts (1.5 KiB per connection).
    __slots__ = (
        "_deadline",
        "_head_bytes",
        "_held",
        "_idle_since",
        "_idle_timer",
        "_in_body",
        "_in_head",
        "_refusal",
        "_stopping",
        "_upgrade_pending",
        "_upgraded",
        "access_log",
        "app",
        "app_state",
        "client",
        "config",
        "cycle",
        "expect_100",
        "flow",
        "headers",
        "keep_alive_timeout",
        "limit_concurrency",
        "limits",
        "loop",
        "parser",
        "pipeline",
        "root_path",
        "scheme",
        "scope",
        "server",
        "server_state",
        "transport",
        "url",
    )

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None) -> None:
        if not config.loaded:
            config.load()
        self.config = config
        self.app: Any = config.loaded_app
        self.loop: asyncio.AbstractEventLoop = _loop or asyncio.get_running_loop()
        self.server_state = server_state
        self.app_state = app_state
        self.root_path: str = config.root_path
        self.limit_concurrency: int | None = config.limit_concurrency
        self.keep_alive_timeout: float = config.timeout_keep_alive
        self.access_log: bool = _access_logger.hasHandlers()
        self.parser: Any = httptools.HttpRequestParser(self)
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.limits = _limits
        # Per connection
        self.transport: Any = None
        self.flow = Flow(None, self._may_read)  # its transport's own once the connection is made
        self.server: Any = None
        self.client: Any = None
        self.scheme = "http"
        self.pipeline: deque[tuple[Cycle, Any]] = deque()
        # Per request
        self.url = b""
        self.scope: dict[str, Any] | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.expect_100 = False
        self.cycle: Cycle | None = None
        # What was read but not parsed while the queue of requests is full (at most one read).
        self._held: bytes | memoryview = b""
        self._upgraded = False
        self._upgrade_pending = False  # the head read asks for a WebSocket: its body, if any, is not the app's
        self._stopping = False
        self._head_bytes = 0
        self._in_head = False
        self._in_body = False
        self._deadline: asyncio.TimerHandle | None = None
        self._refusal = 0
        # Keep-alive: when the connection last went idle, and the one timer that checks it.
        self._idle_since = -1.0
        self._idle_timer: asyncio.TimerHandle | None = None

    # asyncio's Protocol

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.server_state.connections.add(self)
        self.transport = transport
        self.flow = Flow(transport, self._may_read)
        self.server = get_local_addr(transport)
        self.client = get_remote_addr(transport)
        self.scheme = "https" if is_ssl(transport) else "http"
        # A connection that never sends a byte is held no longer than a slow head.
        self._arm(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        self._held = b""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self.cycle is not None:
            self.cycle.client_left()
        self.flow.resume_writing()
        if exc is None:
            self.transport.close()
        self.parser = None

    def eof_received(self) -> None:
        pass

    def pause_writing(self) -> None:
        self.flow.pause_writing()

    def resume_writing(self) -> None:
        self.flow.resume_writing()

    def data_received(self, data: bytes) -> None:
        self._idle_since = -1.0
        if self._held:  # a read that was under way when reading paused
            self._held = bytes(self._held) + data
        elif len(data) <= READ_STEP:
            self._parse(data)
        else:
            self._parse_in_steps(data)

    # Reading, a step at a time while the queue has room

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

    def _parse(self, data: bytes | memoryview) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self._upgrade()
            else:
                _logger.warning("Unsupported upgrade request.")
            return
        except httptools.HttpParserError:
            _logger.warning("Invalid HTTP request received.")
            if self._refusal == 431:
                self._refuse(protocol_errors.head_too_large(self.limits.max_header_bytes))
            else:
                self._refuse(protocol_errors.malformed())
            return
        if self._in_head or self._in_body:
            if self._deadline is None:
                self._arm(self.limits.header_timeout if self._in_head else self.limits.body_timeout)
        elif self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _may_read(self) -> bool:
        return not self._held and self._has_room()

    def _has_room(self) -> bool:
        """Whether another request may be parsed: fewer than PIPELINE_DEPTH requests wait, and the request
        being read, if it waits too, has not buffered a body past the high-water mark (its app is not
        reading it yet, so nothing else bounds it)."""
        if len(self.pipeline) >= PIPELINE_DEPTH:
            return False
        cycle = self.cycle
        waiting = bool(self.pipeline) and cycle is not None and self.pipeline[0][0] is cycle
        return not (waiting and cycle is not None and len(cycle.body) > HIGH_WATER_LIMIT)

    def _parse_held(self) -> None:
        if not self._held or not self._has_room() or self._upgraded or self.transport.is_closing():
            return
        held, self._held = self._held, b""
        self._parse_in_steps(held)
        if not self._held:
            self.flow.resume_reading()

    # httptools' callbacks

    def on_message_begin(self) -> None:
        self.url = b""
        self.expect_100 = False
        self.headers = []
        self._head_bytes = 0
        self._in_head = True
        self._upgrade_pending = False
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "root_path": self.root_path,
            "headers": self.headers,
            "state": self.app_state.copy(),
        }

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if self._head_bytes > self.limits.max_header_bytes:
            self._refusal = 431
            raise _HeadTooLarge()
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > self.limits.max_header_bytes:
            self._refusal = 431
            raise _HeadTooLarge()
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100 = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._deadline is not None:  # the head's deadline; the body, if any, gets its own
            self._deadline.cancel()
            self._deadline = None
        parser = self.parser
        scope = self.scope
        assert scope is not None
        http_version: str = parser.get_http_version()
        scope["method"] = parser.get_method().decode("ascii")
        if http_version != "1.1":
            scope["http_version"] = http_version
        if parser.should_upgrade() and self._should_upgrade():
            self._upgrade_pending = True
            self._in_body = False
            return
        self._in_body = True
        url: Any = httptools.parse_url(self.url)  # Any: its stubs say `query` is bytes; it is None when absent
        raw_path: bytes = url.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        root = self.root_path
        scope["path"] = root + path if root else path
        scope["raw_path"] = root.encode("ascii") + raw_path if root else raw_path
        scope["query_string"] = url.query or b""
        limit = self.limit_concurrency
        if limit is not None and (len(self.server_state.connections) >= limit or len(self.server_state.tasks) >= limit):
            _logger.warning("Exceeded concurrency limit.")
            app: Any = _service_unavailable
        else:
            app = self.app
        keep_alive = http_version != "1.0" and parser.should_keep_alive() and not self._stopping
        previous = self.cycle
        cycle = self.cycle = Cycle(self, scope, keep_alive, self.expect_100)
        if previous is None or previous.response_complete:
            self._start(cycle, app)
        else:  # pipelined: it waits its turn
            self.flow.pause_reading()
            self.pipeline.appendleft((cycle, app))

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if self._upgrade_pending or cycle is None or cycle.response_complete:
            return
        cycle.body += body
        if len(cycle.body) > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        cycle.wake()

    def on_message_complete(self) -> None:
        self._in_body = False
        cycle = self.cycle
        if self._upgrade_pending or cycle is None or cycle.response_complete:
            return
        cycle.more_body = False
        cycle.wake()

    # Answers

    def _start(self, cycle: Cycle, app: Any) -> None:
        tasks = self.server_state.tasks
        task = self.loop.create_task(cycle.run(app))
        task.add_done_callback(tasks.discard)
        tasks.add(task)

    def on_response_complete(self) -> None:
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        if self.pipeline:  # the next waiting request: the queue has room again
            cycle, app = self.pipeline.pop()
            self._start(cycle, app)
        else:
            self._idle_since = self.loop.time()
            if self._idle_timer is None:
                self._idle_timer = self.loop.call_later(self.keep_alive_timeout, self._idle_check)
        if self._held:
            # Parsed from the loop, not from inside the app's `send` that finished this answer.
            self.loop.call_soon(self._parse_held)
        else:
            self.flow.resume_reading()

    def _idle_check(self) -> None:
        """The keep-alive timer: one per idle period, re-armed for what is left of it rather than
        armed and cancelled for every request."""
        self._idle_timer = None
        if self._idle_since < 0 or self.transport.is_closing():
            return  # busy: the end of the answer arms it again
        left = self._idle_since + self.keep_alive_timeout - self.loop.time()
        if left <= 0:
            self.transport.close()
        else:
            self._idle_timer = self.loop.call_later(left, self._idle_check)

    # WebSocket

    def _should_upgrade(self) -> bool:
        if self.config.ws_protocol_class is None:
            return False
        connection: list[bytes] = []
        upgrade = None
        for name, value in self.headers:
            if name == b"connection":
                connection = [token.lower().strip() for token in value.split(b",")]
            elif name == b"upgrade":
                upgrade = value.lower()
        return b"upgrade" in connection and upgrade == b"websocket"

    def _upgrade(self) -> None:
        """The connection becomes uvicorn's WebSocket protocol's, which reads the request's head again."""
        self._upgraded = True
        self.server_state.connections.discard(self)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        scope = self.scope
        assert scope is not None
        output = [scope["method"].encode(), b" ", self.url, b" HTTP/1.1\r\n"]
        for name, value in self.headers:
            output += (name, b": ", value, b"\r\n")
        output.append(b"\r\n")
        protocol = self.config.ws_protocol_class(
            config=self.config, server_state=self.server_state, app_state=self.app_state
        )
        protocol.connection_made(self.transport)
        protocol.data_received(b"".join(output))
        self.transport.set_protocol(protocol)

    # Stopping and refusing

    def shutdown(self) -> None:
        """The server stops. An idle keep-alive connection is closed at once, unless a request has already
        arrived on it that the loop has not read yet: a proxy does not send again a POST it has written
        (nginx answered 502 for one request in five SIGTERMs under load when uvicorn reset it). Such a
        request is read and answered, with `Connection: close`; the server waits for it."""
        self._stopping = True
        cycle = self.cycle
        idle = cycle is None or cycle.response_complete
        if idle and not self.transport.is_closing() and (self._held or _has_unread_bytes(self.transport)):
            if self._held:
                self.loop.call_soon(self._parse_held)
            else:
                self.flow.resume_reading()
            return
        if idle:
            self.transport.close()
        elif cycle is not None:
            cycle.keep_alive = False

    def _arm(self, seconds: float) -> None:
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _expired(self) -> None:
        self._deadline = None
        if self._held or self.flow.read_paused:
            # The gateway is the one not reading (pipelined requests wait their turn): the client is not late.
            self._arm(self.limits.header_timeout if self._in_head else self.limits.body_timeout)
            return
        cycle = self.cycle
        part = "head" if self._in_head or cycle is None else "body"
        if self._in_head or self._in_body or cycle is None:
            if cycle is not None and not cycle.response_complete:
                cycle.client_left()  # the app waits for the rest of the body: it is told the client left
            if cycle is not None and cycle.response_started:
                self.transport.close()
            else:
                seconds = self.limits.header_timeout if part == "head" else self.limits.body_timeout
                self._refuse(protocol_errors.too_slow(part, seconds))

    def _refuse(self, error: GatewayError) -> None:
        accept_language = next(
            (value.decode("latin-1") for name, value in self.headers if name == b"accept-language"), None
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


async def _service_unavailable(scope: Any, receive: Any, send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", b"19"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"Service Unavailable"})


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
    "http": GatewayHttpProtocol,
    "server_header": False,
    "access_log": False,
    "log_config": None,
}
