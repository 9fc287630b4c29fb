"""One HTTP/1.1 request and its answer on a connection of the gateway's server (server_protocol.py): what the
app's ASGI `receive` and `send` read and write, how the answer's head and body are written (the head held for
the body's first bytes: one write per answer; header names and values checked; chunked when the app gives no
length), and the connection's flow control that both share.
"""

from __future__ import annotations

import asyncio
import http
import logging
from collections.abc import Callable
from typing import Any, Final, Protocol

from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

from babelgate.exchange import BODY_FOLLOWS
from babelgate.headers import VALUE_REFUSED, CheckedLines, lines_are_safe
from babelgate.http.turn_writer import TurnWriter

# What a response header's name (RFC 9110's token characters, as uvicorn checks them) and value (all but
# controls; tab allowed) may not hold. A head's names and values are checked joined, each in one `translate` that
# deletes what is refused: a shorter result refuses the head. (A regular expression per header was 14k
# instructions of a governed request's head, in the regex engine's character-set loop; deleting what is allowed
# instead, ~200 bytes each, cost the table's set-up another ~1k a head.)
_NAME_REFUSED: Final = bytes(
    byte for byte in range(256) if byte <= 32 or byte == 127 or chr(byte) in '()<>@,;:[]={}\\"'
)
_FRAMING: Final = frozenset((b"content-length", b"transfer-encoding", b"connection"))
# Header names already checked, as written, and lowered. An answer's names are nearly all the gateway's own
# constants (their hashes kept by the objects) and the few names its upstreams send, so a name is looked up here
# instead of being lowered into a new object, hashed anew and checked again for every answer (~350 instructions a
# name; a governed answer has a dozen). Bounded in count and in a name's length: past either, a name is lowered and
# checked each time, as before. Values are checked every time. The server's, for every app it serves: a name's
# lowered spelling depends on nothing else.
_LOWERED: Final[dict[bytes, bytes]] = {}
_LOWERED_AT_MOST: Final = 1024
_LOWERED_LONGEST: Final = 64


def _remember(names: list[Any]) -> None:
    """Names a head carried, all checked: looked up, not lowered or checked, in the next heads."""
    table = _LOWERED
    for name in names:
        if len(table) < _LOWERED_AT_MOST and len(name) <= _LOWERED_LONGEST and name.__class__ is bytes:
            table[name] = name.lower()


def _checked_lines(lines: list[bytes]) -> bytes:
    """Header lines written whole (`headers.LINES`), joined, once it is sure they cannot end the head or split the
    answer (`lines_are_safe`). Asked when any piece is not a `headers.CheckedLines` (made of pieces checked where
    they were made: the rate limiter's, which `_start` joins without a look, valid lines joined being valid
    lines); the whole is checked then, the seams too, so that a mistake stays harmless."""
    joined = b"".join(lines)
    if not lines_are_safe(joined):
        raise RuntimeError("Invalid HTTP header name or value.")
    return joined


def _status_line(status: int) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase.encode()
    except ValueError:
        phrase = b""
    return b"HTTP/1.1 %d %s\r\n" % (status, phrase)


def _chunk(body: bytes) -> bytes:
    """One piece of a chunked answer's body, framed."""
    return b"%x\r\n%b\r\n" % (len(body), body)


_STATUS_LINES: Final = {status: _status_line(status) for status in range(100, 600)}
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_INTERNAL_ERROR: Final = (
    b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 21\r\nconnection: close\r\n\r\nInternal Server Error"
)

_logger = logging.getLogger("uvicorn.error")
_access_logger = logging.getLogger("uvicorn.access")


class Connection(Protocol):
    """What a request's cycle uses of its connection's protocol (server_protocol.GatewayHttpProtocol)."""

    transport: Any
    out: TurnWriter
    flow: Flow
    loop: asyncio.AbstractEventLoop
    server_state: Any
    access_log: bool


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


class Cycle:
    """One request and its answer: what the app's `receive` and `send` read and write."""

    __slots__ = (
        "_ended",
        "_head",
        "_head_only",
        "_pieces",
        "_waiter",
        "body",
        "chunked",
        "connection",
        "disconnected",
        "keep_alive",
        "more_body",
        "on_response",
        "remaining",
        "response_complete",
        "response_started",
        "scope",
        "transport",
        "waiting_for_100_continue",
    )

    def __init__(
        self,
        connection: Connection,
        scope: dict[str, Any],
        keep_alive: bool,
        expect_100: bool,
        on_response: Callable[[], None],
    ) -> None:
        self.connection = connection
        self.transport = connection.out  # every write and close of the answer's: in order, at the end of the turn
        self.scope = scope
        self.keep_alive = keep_alive
        self.waiting_for_100_continue = expect_100
        self.on_response: Callable[[], None] | None = on_response
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
        # A chunked answer under way whose head has left, to a client still there: `babelgate_piece` may write.
        self._pieces = False
        self._waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        """Body bytes arrived, the body ended, the client left or the answer completed: `receive` looks again."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def client_left(self) -> None:
        self._pieces = False
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
        self._pieces = False
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
            self.connection.flow.resume_reading()
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        flow = self.connection.flow
        if flow.write_paused and not self.disconnected:
            await flow.drain()
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

    def babelgate_whole_body(self) -> bytes | None:
        """The whole request body, as `receive`'s one message would give it, when all of it has arrived and none of
        it was given to the app yet (its name is exchange.WHOLE_BODY); else None, and the app awaits `receive`."""
        if self.more_body or self._ended or self.disconnected or self.response_complete:
            return None
        body = bytes(self.body)
        self.body = bytearray()
        self._ended = True
        return body

    async def babelgate_piece(self, body: bytes) -> None:
        """`send({"type": "http.response.body", "body": body, "more_body": True})` without the message, for the
        gateway's streams (its name is exchange.PIECES): a chunked answer whose head has left takes the piece as
        one chunk; anything else (a paused writer, a gone client, a HEAD, a length, no head yet) goes through
        `send`."""
        if self._pieces and not self.connection.flow.write_paused:
            if body:  # a closing transport gets nothing: the turn writer drops what waits for one (turn_writer.py)
                self.transport.write(_chunk(body))
            return
        await self.send({"type": "http.response.body", "body": body, "more_body": True})

    def _start(self, status: int, headers: Any, body_follows: bool) -> None:
        self.response_started = True
        self.waiting_for_100_continue = False
        connection = self.connection
        if connection.access_log:
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
        for name, value in connection.server_state.default_headers:
            content += (name, b": ", value, b"\r\n")
        first = len(content)  # the answer's own headers: four pieces each from here (name, ": ", value, CRLF)
        closes = False
        length = -1
        chunked = False
        lowered_names = _LOWERED
        fresh = None  # the names not in that table: checked below, then remembered
        lines = None  # header lines the gateway wrote whole (headers.LINES): they follow the other headers
        unchecked = False  # whether a piece of them was not checked where it was made
        for name, value in headers:
            lowered = lowered_names.get(name)
            if lowered is None:
                if not name:
                    if lines is None:
                        lines = [value]
                    else:
                        lines.append(value)
                    if value.__class__ is not CheckedLines:
                        unchecked = True
                    continue
                if fresh is None:
                    fresh = [name]
                else:
                    fresh.append(name)
                name = name.lower()
            else:
                name = lowered
            if name in _FRAMING:  # the few headers that frame the body or end the connection
                if name == b"content-length":
                    if length < 0 and not chunked:
                        length = int(value)
                elif name == b"transfer-encoding":
                    if value.lower() == b"chunked":
                        chunked = True
                        length = -1
                elif b"close" in [token.strip() for token in value.lower().split(b",")]:  # connection
                    closes = True
            content += (name, b": ", value, b"\r\n")
        # The values, checked joined (every fourth piece: a slice, made in C), and the names not checked before.
        if len(content) > first:
            values = b"\t".join(content[first + 2 :: 4])
            if len(values.translate(None, VALUE_REFUSED)) != len(values):
                raise RuntimeError("Invalid HTTP header name or value.")
        if fresh is not None:
            names = b"".join(fresh)
            if len(names.translate(None, _NAME_REFUSED)) != len(names):
                raise RuntimeError("Invalid HTTP header name or value.")
            _remember(fresh)
        if lines is not None:
            content.append(_checked_lines(lines) if unchecked else b"".join(lines))
        if closes:
            self.keep_alive = False
        elif not self.keep_alive:
            content.append(b"connection: close\r\n")
        self._head_only = self.scope["method"] == "HEAD"
        if length < 0 and not chunked and not self._head_only and status != 204 and status != 304:
            chunked = True
            content.append(b"transfer-encoding: chunked\r\n")
        self.chunked = chunked
        self.remaining = length if length > 0 else 0  # no length, no chunks (HEAD, 204, 304): no body bytes
        content.append(b"\r\n")
        self._head = b"".join(content)
        if not body_follows:  # an app that may await something else first: the head leaves at the end of the turn
            connection.loop.call_soon(self._flush_head)

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
                out = _chunk(body) if more_body else _chunk(body) + b"0\r\n\r\n"
            else:
                out = b"" if more_body else b"0\r\n\r\n"
        else:
            if len(body) > self.remaining:
                raise RuntimeError("Response content longer than Content-Length")
            self.remaining -= len(body)
            # Written at the end of the turn (TurnWriter): an app's own buffer (a bytearray it may reuse) is copied.
            out = body if body.__class__ is bytes else bytes(body)
        transport = self.transport
        if not transport.is_closing():
            if head is not None:
                if out:
                    transport.writelines((head, out))
                else:
                    transport.write(head)
            elif out:
                transport.write(out)
        self._pieces = more_body and self.chunked and not self._head_only
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
