"""One client exchange over ASGI, I/O only: headers, a size-bounded body, answers, and streams that stop
the moment the client goes away. It is the HTTP sink of the pipeline (answer.Sink); the request's record
is its `call` (call.py), which the pipeline owns."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, Final

from babelgate.answer import JSON_TYPE, Answer, Headers, close
from babelgate.call import Call
from babelgate.errors import GatewayError, InvalidRequest, RequestTooLarge
from babelgate.headers import LINES_EXTENSION, pairs
from babelgate.observability.request_id import RequestIds

# An `http.response.start` key of the gateway's own: true when the app sends the first body bytes before its next
# await on anything else, so the server may hold the head for them without a flush at the end of the turn.
BODY_FOLLOWS: Final = "babelgate.body_follows"

# The method of the gateway's own server's request cycle (server_cycle.py) that writes the next piece of a started
# stream's body as `send` would its `http.response.body` message (more to come), without the message: a stream's
# every chunk goes through it. Found on the object whose method the app's `send` is, so only where `send` is the
# cycle's own (a middleware between them, which would miss the pieces, has its own `send`). Not a scope key: the
# scope would hold the cycle that holds it, a reference cycle per request for the collector.
PIECES: Final = "babelgate_piece"
# The method of the same cycle that hands over the whole request body when all of it has arrived (most requests: it
# comes with the head), without `receive`'s coroutine and message; None otherwise. Found on `receive` likewise.
WHOLE_BODY: Final = "babelgate_whole_body"

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
# Renders an error as the body of an answer, in a frontend's format (the error, the client's language).
ErrorBody = Callable[[GatewayError, str], bytes]
# The headers an error's answer carries in a frontend's format besides its body.
ErrorHeaders = Callable[[GatewayError], list[tuple[bytes, bytes]]]

COST_HEADER: Final = b"x-babelgate-cost-usd"
# The name of the task that watches a request's client for a disconnect (`Exchange.watch`).
_WATCHER_NAME: Final = "babelgate-disconnect-watcher"


def client_address(scope: Scope) -> str:
    """The address the client connected from (ASGI's `client`), or `-` where the server gives none."""
    client = scope.get("client")
    return str(client[0]) if client else "-"


# A WebSocket's scope may hold a callable under this key: the server calls it at shutdown instead of closing the
# socket at once (server_protocol.py), and it answers whether the app closes the socket itself (a Realtime session
# drains: frontends/realtime/).
DRAIN: Final = "babelgate.drain"


class ClientGone(Exception):
    """The client disconnected before its answer was complete."""


class Exchange:
    __slots__ = (
        "_body",
        "_watcher",
        "call",
        "disconnected",
        "error_headers",
        "errors",
        "first_byte_at",
        "headers_out",
        "receive",
        "response_started",
        "scope",
        "send",
        "started",
        "status",
        "streamed",
    )

    def __init__(
        self, scope: Scope, receive: Receive, send: Send, ids: RequestIds, route: str = "", *, errors: ErrorBody
    ) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.started = time.perf_counter()
        call = self.call = Call(route, b"", scope["headers"])
        call.request_id = ids(call.header(b"x-request-id"))
        call.query = scope.get("query_string", b"")
        self.errors = errors  # how this door renders an error (the route's frontend)
        # The headers a door's error format puts beside the body (Bedrock's `x-amzn-ErrorType`); None: none.
        self.error_headers: ErrorHeaders | None = None
        self.status = 0
        self.response_started = False
        self.disconnected = False
        self.headers_out: Headers = []  # the exchange's own headers (CORS)
        self.first_byte_at = 0.0
        self.streamed = False
        self._watcher: asyncio.Task[None] | None = None
        self._body: bytes | None = None  # once read: a signed request's is read to check its signature first

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def header(self, name: bytes) -> bytes | None:
        return self.call.header(name)

    @property
    def request_id(self) -> bytes:
        return self.call.request_id

    @property
    def answered(self) -> bool:
        """Whether anything of the answer has gone out (then an error can no longer be the answer)."""
        return self.response_started

    @property
    def peer(self) -> str:
        return client_address(self.scope)

    def outcome(self) -> tuple[int, float, float | None, bool]:
        ttft = self.first_byte_at - self.started if self.first_byte_at else None
        return self.status or 500, self.elapsed(), ttft, self.streamed

    def client_left(self) -> None:
        self.status = 499

    async def send_error(self, error: GatewayError, headers: Headers) -> None:
        """The error as the answer, in the route's format."""
        if self.error_headers is not None:
            headers = [*headers, *self.error_headers(error)]
        await self.respond(error.status, self.errors(error, self.call.language), headers=headers)

    async def read_body(self, limit: int) -> bytes:
        """The whole body, refused with 413 as soon as it is known to pass `limit`; read once, kept for the handler
        when the key's check read it first (pipeline.identify)."""
        if self._body is not None:
            return self._body
        declared = self.header(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                raise InvalidRequest("invalid_value", param="content-length", detail="not a number") from None
            if size > limit:
                raise RequestTooLarge(limit=limit)
        whole: Callable[[], bytes | None] | None = getattr(getattr(self.receive, "__self__", None), WHOLE_BODY, None)
        body = whole() if whole is not None else None
        if body is not None:
            if len(body) > limit:
                raise RequestTooLarge(limit=limit)
            self.call.body_size = len(body)
            self._body = body
            return body
        parts: list[bytes] = []
        received = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                raise ClientGone()
            chunk = message.get("body", b"")
            if chunk:
                received += len(chunk)
                if received > limit:
                    raise RequestTooLarge(limit=limit)
                parts.append(chunk)
            if not message.get("more_body", False):
                break
        self.call.body_size = received
        body = self._body = parts[0] if len(parts) == 1 else b"".join(parts)
        return body

    def _start(self, status: int, content_type: tuple[bytes, bytes], extra: Headers) -> dict[str, Any]:
        self.status = status
        self.response_started = True
        self.first_byte_at = time.perf_counter()
        headers = [content_type, (b"x-request-id", self.call.request_id), *self.headers_out, *extra]
        extensions = self.scope.get("extensions")
        if extensions is None or LINES_EXTENSION not in extensions:  # a server that takes pairs only
            headers = pairs(headers)
        # Every answer's first body bytes follow its head in the same turn of the loop (a stream's first frame
        # was pulled before the answer was made): the gateway's own server need not schedule the head's
        # flush (server_protocol.py). Other ASGI servers ignore a key they do not know.
        return {"type": "http.response.start", "status": status, "headers": headers, BODY_FOLLOWS: True}

    async def respond(
        self, status: int, body: bytes, *, content_type: tuple[bytes, bytes] = JSON_TYPE, headers: Headers | None = None
    ) -> None:
        start = self._start(status, content_type, headers or [])
        start["headers"].append((b"content-length", str(len(body)).encode()))
        await self.send(start)
        await self.send({"type": "http.response.body", "body": body})

    async def send_answer(
        self, answer: Answer, last_event: Callable[[GatewayError], Awaitable[bytes]]
    ) -> GatewayError | None:
        """Send what an attempt answered (answer.py): the whole body, or its stream as it comes. A
        GatewayError from the stream ends it with `last_event(error)`; a client disconnect cancels the
        stream at once (closing the upstream). Returns the error that ended the stream, if any.

        A client that leaves after a piece sent once the answer was complete (`answer.completed()`) is
        not a disconnect but the end: SDKs close the connection as soon as they read `[DONE]`, while the
        relay may still be reading the upstream's last bytes."""
        rest = answer.rest
        if rest is None:
            await self.respond(answer.status, answer.body, content_type=answer.content_type, headers=answer.headers)
            return None
        await self.send(self._start(answer.status, answer.content_type, answer.headers))
        self.streamed = True
        watched = self.watched
        # The handlers (in `_relay`) and the cleanup in two try statements: no `await` in the `finally` of a
        # `try` that handles (tests/unit/test_compiled_build.py keeps compiled modules free of it).
        try:
            return await self._relay(answer, rest, last_event)
        finally:
            if not watched:
                self.unwatch()
            await close(rest)

    async def _relay(
        self, answer: Answer, rest: AsyncIterator[Any], last_event: Callable[[GatewayError], Awaitable[bytes]]
    ) -> GatewayError | None:
        """`send_answer`'s stream after its head: the first frame, then the rest as it comes."""
        task = asyncio.current_task()
        assert task is not None
        delivered = False
        try:
            await self.send({"type": "http.response.body", "body": answer.body, "more_body": True})
            delivered = answer.completed()
            # Watched from here (the first bytes leave without waiting for the watcher's creation) until the
            # answer is complete: what is left then is the upstream's end, read whether the client stays or
            # not, so a client that leaves after `[DONE]` cancels nothing. (Cancelled there, compiled code
            # raised the CancelledError again after `_relay` had handled it: the request was booked as 499.)
            if delivered:
                self.unwatch()  # the pipeline's watch for a long call, if it began one
            else:
                self.watch()
            write = self._piece_writer()
            notes = answer.notes  # `answer.completed()` read in place: a call fewer per chunk
            async for piece in rest:
                await write(piece)
                if not delivered and notes is not None and notes.completed:
                    delivered = True
                    self.unwatch()
            await self.send({"type": "http.response.body", "body": b""})
            return None
        except GatewayError as error:
            await self.send({"type": "http.response.body", "body": await last_event(error)})
            return error
        except asyncio.CancelledError:
            if not self.disconnected:
                raise
            task.uncancel()
            if delivered:
                return None
            raise ClientGone() from None
        except OSError:  # the server noticed the disconnect first, while we were sending
            self.disconnected = True
            if delivered:
                return None
            raise ClientGone() from None

    def _piece_writer(self) -> Callable[[bytes], Awaitable[None]]:
        """How the stream's pieces after the first are sent: by the server's cycle when `send` is its own."""
        piece: Callable[[bytes], Awaitable[None]] | None = getattr(getattr(self.send, "__self__", None), PIECES, None)
        return piece if piece is not None else self._send_piece

    async def _send_piece(self, body: bytes) -> None:
        await self.send({"type": "http.response.body", "body": body, "more_body": True})

    def watch(self, after: float = 0.0) -> None:
        """Until `unwatch`, a client disconnect cancels the task handling this exchange: the
        upstream call, a stream being relayed, or a retry waiting for its turn. Only once the whole
        body is read (the watcher reads what the server sends next).

        `after`: start watching only if the task still runs then (within `after` more seconds). An
        answer that comes sooner needs no watcher (a task per request is a measurable part of the
        fast path's CPU), and a client that left in between is noticed the moment it starts."""
        if self._watcher is not None:
            return
        task = asyncio.current_task()
        assert task is not None
        if after > 0:
            _long_calls(task.get_loop(), after).add(self, task)
        else:
            self._start_watcher(task)

    def _start_watcher(self, task: asyncio.Task[Any]) -> None:
        _LongCalls.forget(self)
        if self._watcher is None and not task.done():
            # Named: an unnamed task's name is formatted when it is made (server_protocol.REQUEST_TASK_NAME).
            self._watcher = asyncio.Task(self._watch_disconnect(task), loop=task.get_loop(), name=_WATCHER_NAME)

    @property
    def watched(self) -> bool:
        return self._watcher is not None or _LongCalls.waiting(self)

    def unwatch(self) -> None:
        _LongCalls.forget(self)
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None

    async def _watch_disconnect(self, task: asyncio.Task[Any]) -> None:
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                task.cancel()
                return


class _LongCalls:
    """Exchanges waiting to be watched (`Exchange.watch(after=…)`), in the order they began, swept
    by one timer per loop: a request costs a dict entry, not a timer of its own. Kept per loop, not per
    gateway: an exchange is here only while its request runs."""

    _all: ClassVar[dict[tuple[asyncio.AbstractEventLoop, float], _LongCalls]] = {}
    _member: ClassVar[dict[Exchange, _LongCalls]] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop, after: float) -> None:
        self.loop, self.after = loop, after
        self.pending: dict[Exchange, tuple[asyncio.Task[Any], float]] = {}
        self.timer: asyncio.TimerHandle | None = None

    def add(self, exchange: Exchange, task: asyncio.Task[Any]) -> None:
        if exchange in self._member:
            return
        self.pending[exchange] = (task, self.loop.time() + self.after)
        self._member[exchange] = self
        if self.timer is None:
            self.timer = self.loop.call_later(self.after, self._sweep)

    def _sweep(self) -> None:
        self.timer = None
        now = self.loop.time()
        for exchange, (task, due) in list(self.pending.items()):
            if due > now:
                break
            exchange._start_watcher(task)  # forgets it (and the group, once it is empty)
        if self.pending:
            first_due = next(iter(self.pending.values()))[1]
            self.timer = self.loop.call_later(max(0.0, first_due - now), self._sweep)

    @classmethod
    def forget(cls, exchange: Exchange) -> None:
        group = cls._member.pop(exchange, None)
        if group is not None:
            group.pending.pop(exchange, None)
            if not group.pending:
                # Nothing left to watch: no timer, and no reference to the loop (tests close many).
                if group.timer is not None:
                    group.timer.cancel()
                    group.timer = None
                cls._all.pop((group.loop, group.after), None)

    @classmethod
    def waiting(cls, exchange: Exchange) -> bool:
        return exchange in cls._member


def _long_calls(loop: asyncio.AbstractEventLoop, after: float) -> _LongCalls:
    group = _LongCalls._all.get((loop, after))
    if group is None:
        group = _LongCalls._all[(loop, after)] = _LongCalls(loop, after)
    return group
