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
- **Header lines written whole.** The rate limits' `x-ratelimit-*` headers come as two `headers.LINES` pairs of
  three lines each, checked where they are made (`headers.CheckedLines`), which go into the head as they are
  (server_cycle.py; any other lines are checked whole first); the scope announces it
  (`scope["extensions"]["babelgate.header_lines"]`), and the exchange sends plain pairs to any other server.
- **Stopping.** An idle keep-alive connection is not closed the moment the server stops: a request that has
  arrived on it unread, or that comes within `STOP_LINGER`, is read and answered with `Connection: close`
  rather than reset.
- As uvicorn: `Expect: 100-continue`, HEAD, 204 and 304 without a body, chunked answers when the app gives no
  length, HTTP/1.0, the keep-alive timeout, `limit_concurrency`, the access log, uvicorn's `default_headers`
  (its `date`), a 500 for an app that fails before answering.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from typing import Any, Final

import httptools
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.utils import get_local_addr, get_remote_addr, is_ssl

from babelgate import protocol_errors
from babelgate.errors import GatewayError
from babelgate.exchange import DRAIN
from babelgate.headers import LINES_EXTENSION
from babelgate.http.turn_writer import TurnWriter
from babelgate.server_cycle import Cycle, Flow

# What this server takes beyond ASGI (`scope["extensions"]`): header lines written whole (headers.LINES). One
# mapping for every request: apps read a server's extensions, none writes them.
_EXTENSIONS: Final[dict[str, dict[str, Any]]] = {LINES_EXTENSION: {}}


@dataclass(frozen=True, slots=True)
class Limits:
    """What one connection may take (the `server:` settings of the same names)."""

    header_timeout: float = 10.0  # from a connection's or request's first byte to the end of its head
    body_timeout: float = 60.0  # from the end of a head to the end of its body
    max_header_bytes: int = 65536  # request line and headers together


# The server's (uvicorn takes a protocol class, not an instance), set by `babelgate serve` from its config; an app
# that mounts gateways runs its own server.
_limits = Limits()


def set_limits(limits: Limits) -> None:
    """Every connection opened from now on in this process takes these (each worker sets them from its config)."""
    global _limits
    _limits = limits


# Parsed requests one connection may have waiting behind the one being answered. Pipelined requests are
# answered one after the other anyway, so a longer queue only holds memory, never adds speed.
PIPELINE_DEPTH: Final = 8
# A read longer than this is parsed this much at a time, so that a full queue stops the parsing within
# one step (the parser cannot be paused in the middle of what it was given).
READ_STEP: Final = 4096
# A request body buffered past this, while its app is not reading it, pauses reading (uvicorn's figure).
HIGH_WATER_LIMIT: Final = 65536
# The name of every request's task (asyncio's own are numbered: "Task-<n>").
REQUEST_TASK_NAME: Final = "babelgate-request"
# How long an idle keep-alive connection stays open once the server stops. A proxy that has not yet seen the
# connection close may be writing a request on it, and it never sends a written POST again (nginx answered 502
# for a request it sent the instant the server closed). Meanwhile a request is answered with `Connection:
# close`; a proxy reuses its most recent connections first, so under load each is closed by an answer, not
# under a request. The server's exit waits at most this long for an idle connection.
STOP_LINGER: Final = 0.5

_logger = logging.getLogger("uvicorn.error")


class _HeadTooLarge(Exception):
    """Raised from a parser callback: httptools stops parsing, and the request is refused with a 431."""


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
        "_message_from",
        "_read_from",
        "_read_to",
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
        "out",
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
        self.access_log: bool = logging.getLogger("uvicorn.access").hasHandlers()
        self.parser: Any = httptools.HttpRequestParser(self)
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.limits = _limits
        # Per connection
        self.transport: Any = None
        self.out = TurnWriter(None, self.loop)  # the writes of a turn; its transport's own once the connection is made
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
        # The connection's bytes parsed before the read being parsed, and after it; where the read that began the
        # current message started. A head is at most `_read_to - _message_from` bytes: while that is within the
        # bound, its exact size need not be added up (`_head_size`).
        self._read_from = self._read_to = self._message_from = 0
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
        self.out = TurnWriter(transport, self.loop)
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
        self._read_from = self._read_to
        self._read_to += len(data)
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
        if self._in_head and self._past_bound():  # and it goes on
            self._refuse(protocol_errors.head_too_large(self.limits.max_header_bytes))
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
        self._message_from = self._read_from
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
            "extensions": _EXTENSIONS,
        }

    def _past_bound(self) -> bool:
        """Whether the head so far is larger than `max_header_bytes`: added up only when the reads since the
        message began are (rarely: a head is ~300 bytes, the bound 64 KiB)."""
        bound = self.limits.max_header_bytes
        return self._read_to - self._message_from > bound and self._head_size() > bound

    def _head_size(self) -> int:
        """The head's bytes so far, as its bound counts them: the target, and each header's name and value with
        their colon, blank and line end (added up in C: no Python call per header)."""
        headers = self.headers
        return self._head_bytes + sum(map(len, chain.from_iterable(headers))) + 4 * len(headers)

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if self._head_bytes > self.limits.max_header_bytes:
            self._refusal = 431
            raise _HeadTooLarge()
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        # The head's size is added up once the head is complete, or after each read that leaves it incomplete
        # (`_head_size`), not here: one callback per header line, a dozen per request from an SDK.
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100 = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._past_bound():
            self._refusal = 431
            raise _HeadTooLarge()
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
            app: Any = service_unavailable  # uvicorn's own 503
        else:
            app = self.app
        keep_alive = http_version != "1.0" and parser.should_keep_alive() and not self._stopping
        previous = self.cycle
        cycle = self.cycle = Cycle(self, scope, keep_alive, self.expect_100, self.on_response_complete)
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
        # Made with a name: an unnamed task's ("Task-<n>") is formatted per task (~1.4k instructions a
        # request), and uvloop's `create_task` names it after making it.
        task = asyncio.Task(cycle.run(app), loop=self.loop, name=REQUEST_TASK_NAME)
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
            self.out.close()
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
        protocol = _draining(self.config.ws_protocol_class)(
            config=self.config, server_state=self.server_state, app_state=self.app_state
        )
        self.out.flush()  # an answer of this turn leaves before the connection is the WebSocket's
        protocol.connection_made(self.transport)
        protocol.data_received(b"".join(output))
        self.transport.set_protocol(protocol)

    # Stopping and refusing

    def shutdown(self, linger: float = STOP_LINGER) -> None:
        """The server stops. A request already waiting unread on an idle keep-alive connection is read and
        answered, with `Connection: close` (nginx answered 502 for one request in five SIGTERMs under load
        when uvicorn reset it); an idle connection is closed after `linger` seconds without a request, or
        by the answer to the one that comes meanwhile. A busy one closes after its answer."""
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
            self._idle_since = self.loop.time()
            self.keep_alive_timeout = min(self.keep_alive_timeout, linger)
            if self._idle_timer is not None:
                self._idle_timer.cancel()
            self._idle_timer = self.loop.call_later(self.keep_alive_timeout, self._idle_check)
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
                self.out.close()
            else:
                seconds = self.limits.header_timeout if part == "head" else self.limits.body_timeout
                self._refuse(protocol_errors.too_slow(part, seconds))

    def _refuse(self, error: GatewayError) -> None:
        accept_language = next(
            (value.decode("latin-1") for name, value in self.headers if name == b"accept-language"), None
        )
        self.out.write(protocol_errors.refusal(error, self._path_read(), accept_language))
        self.out.close()

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
# uvicorn's WebSocket protocol classes, each with a shutdown that lets the app drain its connection (below): a class
# per class uvicorn resolved, code's, not a gateway's.
_DRAINING: dict[type[Any], type[Any]] = {}


def _draining(protocol: type[Any]) -> type[Any]:
    """`protocol` whose shutdown first asks the app (the callable under `exchange.DRAIN` in the connection's scope)
    whether it ends the connection itself: a Realtime session goes on for its drain time, then closes with 1012.
    Any other connection closes at once with 1012, as uvicorn's own does."""
    found = _DRAINING.get(protocol)
    if found is None:
        # Made with `type`, not a class statement in this function: the compiled build has no nested classes.
        found = _DRAINING[protocol] = type("Draining", (protocol,), {"shutdown": _draining_shutdown(protocol)})
    return found


def _draining_shutdown(base: type[Any]) -> Callable[[Any], None]:
    def shutdown(self: Any) -> None:
        scope = getattr(self, "scope", None)
        drain = scope.get(DRAIN) if isinstance(scope, dict) else None
        if drain is not None and drain():
            return
        base.shutdown(self)

    return shutdown


UVICORN_OPTIONS: Final[dict[str, Any]] = {
    "http": GatewayHttpProtocol,
    "server_header": False,
    "access_log": False,
    "log_config": None,
}
