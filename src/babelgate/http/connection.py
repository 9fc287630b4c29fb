"""One keep-alive HTTP/1.1 connection to an upstream, and the response read from it.

The least a gateway needs and nothing more, because this is the hot path's largest cost after the
server itself: one request at a time per connection, the request written in one call, the answer
parsed by httptools (llhttp, the parser uvicorn serves with), bodies by length, by chunks or up
to the close, gzip/deflate decoded, the socket paused while a slow reader leaves bytes unread.
Every wait has a deadline; every failure is a GatewayError naming the provider, never the URL.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import deque
from typing import Final, Protocol

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

from babelgate.errors import (
    GatewayError,
    UpstreamConnectionFailed,
    UpstreamProtocolError,
    UpstreamTimeout,
    size_text,
)
from babelgate.http.decoding import BodyDecoder, decoder_for
from babelgate.http.turn_writer import TurnWriter

# A slow reader (a client that reads a stream slowly) stops the upstream socket here instead of
# letting its answer pile up in memory; reading resumes once the reader has caught up.
PAUSE_AT: Final = 256 * 1024
RESUME_AT: Final = 64 * 1024
MAX_HEAD_BYTES: Final = 64 * 1024  # an answer's status line and headers; upstreams send ~1 KiB
# The largest answer read whole (a JSON body; streams are read as they come, without a limit on
# their length): the largest a legitimate answer gets is an embeddings batch, 2,048 vectors of
# 3,072 floats as JSON text (~126 MB). Anything larger is refused as it arrives, never held.
MAX_ANSWER_BYTES: Final = 128 * 1024 * 1024
# The most one read of a compressed body may inflate to (a read is at most 256 KiB: a ratio of 64,
# where JSON compresses ten times at best): a compression bomb is refused before it is inflated.
MAX_INFLATE: Final = 16 * 1024 * 1024
# What `send` resets the answer to. Not a literal None: mypy would narrow the attribute to None for the rest of
# `send`, across the awaits in which the parser sets it, and mypyc (bench/compiled.py) compiles that narrowing
# into a check that fails.
_NO_ANSWER_YET: Final[PooledResponse | None] = None
# len(b"content-length"), len(b"content-encoding"), len(b"transfer-encoding")
_FRAMING_NAME_LENGTHS: Final = frozenset({14, 16, 17})


class Home(Protocol):
    """Where a connection reports back (pool.py's ConnectionPool): described here rather than imported,
    so that the pool builds connections and a connection never needs the pool's module."""

    def put_back(self, connection: Connection) -> None:
        """`connection` answered in full and may serve the next request."""

    def closed(self, connection: Connection) -> None:
        """`connection` closed, whoever closed it (called once per connection)."""


class StaleConnection(Exception):
    """A pooled connection was closed by the upstream before it answered a byte: the request
    never reached it, so the client may send it again on a fresh connection."""


class PooledResponse:
    """Status and headers as they arrived; the body still to be read (`read`, or `readany` chunk by
    chunk). `release` hands a finished connection back to its pool, `close` drops it."""

    __slots__ = ("_connection", "_head", "_headers", "status")

    def __init__(self, connection: Connection, status: int, head: bytes) -> None:
        self._connection = connection
        self.status = status
        self._head = head  # the status line and the header lines, each ending in CRLF
        self._headers: CIMultiDictProxy[str] | None = None

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """Read from the head on first use: the fast path reads none of them."""
        if self._headers is None:
            self._headers = CIMultiDictProxy(
                CIMultiDict(
                    (name.decode("latin-1"), value.decode("latin-1")) for name, value in header_fields(self._head)
                )
            )
        return self._headers

    def read_now(self) -> bytes | None:
        """The whole body when all of it has arrived (most JSON answers come with their head), read without a
        coroutine, the connection back in its pool; else None (`read` waits for it, and judges its size)."""
        connection = self._connection
        if not connection.complete or connection.buffered > connection.max_answer_bytes:
            return None
        try:
            body = connection.take()
        except BaseException:  # the connection failed: as `read_body`, it is dropped
            connection.close()
            raise
        connection.release()
        return body

    async def read(self, phase: str = "body") -> bytes:
        """The whole body; the connection goes back to the pool once it is read. A body larger than
        the client's `max_answer_bytes` is an UpstreamProtocolError as soon as it passes the limit."""
        connection = self._connection
        limit = connection.max_answer_bytes
        parts: list[bytes] = []
        size = 0
        while not connection.complete:
            if connection.buffered > RESUME_AT:
                size += connection.buffered
                parts.append(connection.take())  # so a large body never pauses the socket for good
                if size > limit:
                    raise connection.too_large(limit)
            await connection.wait(phase)
        if size + connection.buffered > limit:
            raise connection.too_large(limit)
        parts.append(connection.take())
        connection.release()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def readany(self, phase: str = "stream") -> bytes:
        """What has arrived so far (waiting for at least one byte), or b"" at the body's end. The
        call's total time is checked on every read, not only on the waits: an upstream that sends
        faster than our client reads never has to be waited for, and would outlive it otherwise."""
        connection = self._connection
        if connection.deadline is not None and not connection.complete:
            connection.check_deadline(phase)
        while not connection.buffered and not connection.complete:
            await connection.wait(phase)
        return connection.take()

    def at_eof(self) -> bool:
        return self._connection.complete and not self._connection.buffered

    def release(self) -> None:
        self._connection.release()

    def close(self) -> None:
        self._connection.close()


class Connection(asyncio.Protocol):
    """The protocol of one upstream socket. `send` writes a request and waits for its head; the
    parser's callbacks fill the body buffer the response reads from."""

    # Slots: a dict of more than 30 attributes is no longer shared between instances (CPython), and a
    # held stream holds its connection: 1.5 KiB per open stream (bench/many_streams.py).
    __slots__ = (
        "_chunks",
        "_decoder",
        "_error",
        "_head",
        "_head_at",
        "_inflated",
        "_keep_alive",
        "_out",
        "_parser",
        "_paused",
        "_pool",
        "_response",
        "_timer",
        "_timer_at",
        "_transport",
        "_until_close",
        "_wait_deadline",
        "_wait_phase",
        "_waiter",
        "answered_any",
        "buffered",
        "closed",
        "complete",
        "deadline",
        "first_byte_timeout",
        "idle_since",
        "in_use",
        "loop",
        "max_answer_bytes",
        "provider",
        "read_timeout",
        "reused",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, pool: Home) -> None:
        self.loop = loop
        self._pool = pool
        self._transport: asyncio.Transport | None = None
        self._out: TurnWriter | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._error: Exception | None = None  # a GatewayError, or StaleConnection
        self._chunks: deque[bytes] = deque()
        self.buffered = 0
        self._paused = False
        # The answer's head as it arrives (the reads so far, from the first), and where in them the head
        # being parsed starts (after an informational answer's): httptools checked it, `on_headers_complete`
        # cuts it out. Headers are read from it only when someone asks (`PooledResponse.headers`): a
        # callback per header line was a tenth of a fast-path request's Python (OpenAI answers with ~20).
        self._head = b""
        self._head_at = 0
        self._response: PooledResponse | None = None
        self._decoder: BodyDecoder | None = None
        self._inflated = 0
        self._until_close = False
        self._keep_alive = False
        self.complete = False
        self.closed = False
        self.in_use = False
        self.reused = False
        self.answered_any = False
        self.idle_since = 0.0
        self.provider = ""
        self.read_timeout: float | None = None  # between chunks
        self.first_byte_timeout: float | None = None  # until the answer's head
        self.deadline: float | None = None
        self.max_answer_bytes = MAX_ANSWER_BYTES  # set per request by the client
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._wait_deadline: float | None = None
        self._wait_phase = ""

    # --- the request ------------------------------------------------------------------------------

    async def send(self, head: bytes, body: bytes | None) -> PooledResponse:
        """Write the request and wait for the answer's head; informational answers are skipped."""
        self._error, self._response, self.complete, self.answered_any = None, _NO_ANSWER_YET, False, False
        self._head, self._head_at, self._decoder = b"", 0, None
        out = self._out
        if out is None or self.closed:
            raise StaleConnection
        if body:
            out.writelines((head, body))
        else:
            out.write(head)
        while self._response is None:
            await self.wait("first byte", first_byte=True)
        return self._response

    async def wait(self, phase: str, *, first_byte: bool = False) -> None:
        """Until the parser has news (head, body bytes, end) or the deadline: no answer for
        `first_byte_timeout` (before the head) or `read_timeout` seconds (the gap allowed between
        chunks), or the call's total time, whichever comes first."""
        if self._error is not None:
            raise self._error
        loop = self.loop
        if self.deadline is not None:
            self.check_deadline(phase)
        timeout = self.first_byte_timeout if first_byte else self.read_timeout
        deadline = None if timeout is None else loop.time() + timeout
        if self.deadline is not None and (deadline is None or self.deadline < deadline):
            deadline = self.deadline
        waiter = self._waiter = loop.create_future()
        self._wait_deadline, self._wait_phase = deadline, phase
        if deadline is not None and (self._timer is None or self._timer_at > deadline):
            self._arm(deadline)
        try:
            await waiter
        except BaseException:
            # Cancelled (the client went away) or timed out: the answer is still coming on this
            # socket, so it can never carry another request.
            self.close()
            raise
        finally:
            self._waiter = None

    def too_large(self, limit: int) -> UpstreamProtocolError:
        """An answer past `limit` bytes: the connection is closed (the rest is never read)."""
        self.close()
        return UpstreamProtocolError(provider=self.provider, detail=f"the answer is larger than {size_text(limit)}")

    def check_deadline(self, phase: str) -> None:
        """The call's total time is up: an UpstreamTimeout, and the connection closed (its answer is
        still coming, so it can never carry another request)."""
        if self.deadline is not None and self.loop.time() >= self.deadline:
            self.close()
            raise UpstreamTimeout(provider=self.provider, phase=phase)

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = self.loop.call_at(when, self._check_deadline), when

    def _check_deadline(self) -> None:
        """One timer per connection, not one per wait (a stream waits once per chunk): when it
        fires early, because later waits moved the deadline on, it is set again for the new one."""
        self._timer = None
        waiter, deadline = self._waiter, self._wait_deadline
        if waiter is None or waiter.done() or deadline is None:
            return
        if self.loop.time() < deadline:
            self._arm(deadline)
        else:
            waiter.set_exception(UpstreamTimeout(provider=self.provider, phase=self._wait_phase))

    def take(self) -> bytes:
        """Everything buffered, in one piece; resumes a paused socket."""
        chunks = self._chunks
        if not chunks:
            if self._error is not None:
                raise self._error
            return b""
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self.buffered = 0
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return data

    def release(self) -> None:
        """Back to the pool if the answer ended cleanly and the upstream keeps it open; else closed."""
        if not self.in_use:
            return
        if self.complete and self._keep_alive and not self.closed and self._error is None:
            self.in_use = False
            self._chunks.clear()
            self.buffered = 0
            self._pool.put_back(self)
        else:
            self.close()

    def close(self) -> None:
        self.in_use = False
        if not self.closed:
            if self._out is not None:
                self._out.close()
            self._mark_closed()

    def _mark_closed(self) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pool.closed(self)

    # --- asyncio.Protocol ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._out = TurnWriter(transport, self.loop)  # the request leaves at the end of the turn (turn_writer.py)

    def data_received(self, data: bytes) -> None:
        if not self.in_use:  # bytes nobody asked for: the connection is not reusable
            self.close()
            return
        self.answered_any = True
        self._inflated = 0  # what this read inflated to, if the body is compressed (on_body)
        if self._response is None:  # the head, or part of it: kept until it is complete (a copy only if split)
            self._head = self._head + data if self._head else data
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            # A callback's own error (headers too large, an unknown encoding) comes wrapped.
            reason = exc.__context__
            self._fail(
                reason
                if isinstance(reason, GatewayError)
                else UpstreamProtocolError(provider=self.provider, detail="the answer is not valid HTTP/1.1")
            )
            self.close()
            return
        if self._response is None and len(self._head) - self._head_at > MAX_HEAD_BYTES:  # and no end in sight
            self._fail(self._head_too_large())
            self.close()

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self._mark_closed()
        if not self.in_use or self.complete:
            return
        if self._response is not None and self._until_close:
            self._finish()  # a body without length or chunks ends where the connection does
        elif self._response is not None:
            self._fail(UpstreamProtocolError(provider=self.provider, detail="the connection closed mid-body"))
        elif self.reused and not self.answered_any:
            self._fail(StaleConnection())
        else:
            self._fail(UpstreamConnectionFailed(provider=self.provider))

    # --- httptools callbacks -------------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        # httptools has checked the head (CRLF line ends, no folded lines, names without spaces): it is the
        # kept bytes from `_head_at` up to the blank line.
        kept, start = self._head, self._head_at
        end = kept.find(b"\r\n\r\n", start) + 2  # found: the reads are kept before httptools sees them
        if end - start > MAX_HEAD_BYTES:
            raise self._head_too_large()
        status = self._parser.get_status_code()
        if status < 200:  # 100 Continue, 103 Early Hints: the real answer follows
            self._head_at = end + 2
            return
        head = kept[start:end]
        self._head = b""
        lowered = head.lower()
        # Each search walks the whole head: one for both codings first, as most answers have neither.
        if lowered.find(b"-encoding:") < 0:  # most answers: a length, or nothing to look at closer
            length_known = status in (204, 304) or lowered.find(b"\r\ncontent-length:") >= 0
        elif lowered.find(b"\r\ntransfer-encoding: chunked\r\n") >= 0 and lowered.find(b"\r\ncontent-encoding:") < 0:
            length_known = True  # a stream's, as upstreams write it
        else:  # a compressed body, or another transfer coding
            length_known = self._framing(head, status)
        self._until_close = not length_known
        self._keep_alive = length_known and self._parser.should_keep_alive()
        self._response = PooledResponse(self, status, head)
        self._wake()

    def _framing(self, head: bytes, status: int) -> bool:
        """Whether the body's end is known (a length, chunks, or no body), and the decoder of a compressed one."""
        length_known = status in (204, 304)
        for name, value in header_fields(head):
            if len(name) not in _FRAMING_NAME_LENGTHS:  # most headers: no need to look closer
                continue
            lowered = name.lower()
            if lowered == b"content-length" or (lowered == b"transfer-encoding" and b"chunked" in value.lower()):
                length_known = True
            elif lowered == b"content-encoding":
                coding = value.strip().lower()
                self._decoder = decoder_for(coding)
                if self._decoder is None and coding != b"identity":
                    raise UpstreamProtocolError(provider=self.provider, detail="an unrequested content encoding")
        return length_known

    def _head_too_large(self) -> UpstreamProtocolError:
        return UpstreamProtocolError(provider=self.provider, detail="the answer's headers are too large")

    def on_body(self, body: bytes) -> None:
        if self._response is None:
            return  # the body of an informational answer (there is none)
        if self._decoder is not None:
            try:
                body = self._decoder.decompress(body, MAX_INFLATE - self._inflated)
            except zlib.error:
                raise UpstreamProtocolError(provider=self.provider, detail="a body that does not decompress") from None
            self._inflated += len(body)
            if self._decoder.unconsumed_tail or self._inflated >= MAX_INFLATE:
                detail = f"one read of a compressed body inflates past {size_text(MAX_INFLATE)}"
                raise UpstreamProtocolError(provider=self.provider, detail=detail)
            if not body:
                return
        self._chunks.append(body)
        self.buffered += len(body)
        if self.buffered > PAUSE_AT and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._response is not None:
            self._finish()

    # --- internals -----------------------------------------------------------------------------------

    def _finish(self) -> None:
        if self._decoder is not None:
            rest = self._decoder.flush()
            if rest:
                self._chunks.append(rest)
                self.buffered += len(rest)
        self.complete = True
        self._wake()

    def _fail(self, error: Exception) -> None:
        self._error = error
        self._keep_alive = False
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if self._error is not None and not self.buffered:
                waiter.set_exception(self._error)
            else:
                waiter.set_result(None)


def header_fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """The header lines of a head httptools has accepted (the status line first, every line ending in CRLF) as
    (name, value), read as httptools reads them: the value's leading blanks dropped, its trailing kept."""
    fields = []
    for line in head.split(b"\r\n")[1:-1]:
        name, _, value = line.partition(b":")
        fields.append((name, value.lstrip(b" \t")))
    return fields
