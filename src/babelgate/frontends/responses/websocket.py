"""WebSocket mode on `/v1/responses`: the client sends `response.create` events (a create body
without `stream`), the server answers each with the same events an SSE stream carries.

Responses run one after another per lane (`stream_id`; one default lane), lanes run side by
side, and every event of a lane's response echoes its `stream_id`. The connection remembers the
responses it produced, `store: false` ones included, so `previous_response_id` continues them on
this connection only; a continuation that fails evicts the response it continued, as OpenAI's
WebSocket mode does. Failures before a response starts are `error` events with an HTTP-style
`status`; the connection stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate import pipeline
from babelgate.answer import Answer, Headers, close, streamed
from babelgate.call import Call
from babelgate.errors import AuthenticationFailed, GatewayError, InvalidRequest, RequestTooLarge
from babelgate.exchange import Receive, Scope, Send, client_address
from babelgate.frontends.openai_errors import error_object
from babelgate.frontends.responses import turn
from babelgate.frontends.responses.conversation import CODEC
from babelgate.frontends.responses.texts import MESSAGE_TEXTS
from babelgate.frontends.responses.validate import validate_create_body
from babelgate.frontends.responses.wire import JSON
from babelgate.frontends.stream_encoder import encode_stream
from babelgate.governance.gateway_keys import credentials
from babelgate.governance.virtual_keys import VirtualKey
from babelgate.i18n import choose_language
from babelgate.model_call import ModelCall
from babelgate.pipeline import caller_of, parse_json_object
from babelgate.providers.base import CallNotes
from babelgate.routing.registry import Deployment
from babelgate.store import StoredResponse
from babelgate.streaming import encode_ndjson

if TYPE_CHECKING:
    from babelgate.observability.request_id import RequestIds
    from babelgate.runtime import Runtime

log = logging.getLogger("babelgate.responses.websocket")
CONNECTION_MEMORY: Final = 64  # responses a connection remembers for `store: false` continuations
POLICY_VIOLATION: Final = 1008


class ResponsesSocket:
    def __init__(self, runtime: Runtime, scope: Scope, receive: Receive, send: Send, ids: RequestIds) -> None:
        self.runtime = runtime
        self.scope = scope
        self.receive = receive
        self.send = send
        self.ids = ids
        self.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.language = choose_language(self.headers.get("accept-language"))
        self.key_id: str | None = None
        self.virtual_key: VirtualKey | None = None
        self.remembered: OrderedDict[str, StoredResponse] = OrderedDict()
        self.lanes: dict[str, asyncio.Queue[tuple[JSON, int] | None]] = {}
        self.workers: set[asyncio.Task[None]] = set()
        self.send_lock = asyncio.Lock()

    async def run(self) -> None:
        message = await self.receive()
        if message["type"] != "websocket.connect":
            return
        await self.send({"type": "websocket.accept"})
        try:
            # Checked once, at connect (a JWT that expires later does not end the connection).
            self.key_id, self.virtual_key = await caller_of(self.runtime, credentials(self._header))
        except AuthenticationFailed as error:
            await self._error(error)
            await self.send({"type": "websocket.close", "code": POLICY_VIOLATION})
            return
        try:
            await self._read_loop()
        finally:
            for worker in self.workers:
                worker.cancel()
            for worker in list(self.workers):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker

    def _header(self, name: bytes) -> bytes | None:
        value = self.headers.get(name.decode())
        return value.encode("latin-1") if value is not None else None

    async def _read_loop(self) -> None:
        limit = self.runtime.max_body_bytes
        while True:
            message = await self.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text") or message.get("bytes") or b""
            try:
                if len(data) > limit:
                    raise RequestTooLarge(limit=limit)
                event = _parse(data)
            except GatewayError as error:
                await self._error(error)
                continue
            lane = event.get("stream_id") or ""
            queue = self.lanes.get(lane)
            if queue is None:
                queue = self.lanes[lane] = asyncio.Queue()
                worker = asyncio.create_task(self._lane(queue))
                self.workers.add(worker)
                worker.add_done_callback(self.workers.discard)
            queue.put_nowait((event, len(data)))

    async def _lane(self, queue: asyncio.Queue[tuple[JSON, int] | None]) -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            event, size = item
            # One response is one request to the pipeline: its own record, this connection's caller.
            record = Call("responses.websocket", self.ids(None), self.scope["headers"])
            record.key_id, record.virtual_key, record.body_size = self.key_id, self.virtual_key, size
            response = _Response(record, self._send_frame, event.get("stream_id"), client_address(self.scope))
            await pipeline.serve(
                self.runtime,
                response,
                functools.partial(self._respond, event, response),
                authenticate=False,
                model_route=True,
            )
            if response.disconnected:  # the client left while we were sending: the read loop ends the connection
                return

    async def _respond(self, event: JSON, response: _Response) -> ModelCall:
        """One `response.create` message as the model call the pipeline conducts, as a POST's would be; what
        the connection remembers is kept or evicted once it is over (`after`)."""
        lane = event.pop("stream_id", None)
        body = {key: value for key, value in event.items() if key != "type"}
        previous_id = body.get("previous_response_id")
        current: turn.Turn | None = None
        record = response.call
        try:
            validate_create_body(body, websocket=True)
        except GatewayError:
            self._evict(previous_id)
            raise

        async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
            nonlocal current
            current = await turn.prepare(
                self.runtime,
                body,
                deployment,
                self._lookup,
                language=self.language,
                context=record.context,
                notes=notes,
                stream=True,
                owner=self.key_id,
                call=record,
            )
            # Each event one line (one message: `_messages`), echoing the lane's `stream_id`; no `[DONE]`.
            encoder = current.stream_encoder(functools.partial(_message, lane=lane), trailer=b"")
            return await streamed(_messages(encode_stream(current.chunks(), encoder)), notes, on_error=encoder.fail)

        async def after(answer: Answer | None, error: GatewayError | None) -> None:
            if error is not None:  # it failed, before its stream began or after
                self._evict(previous_id)
            if answer is None:
                return
            assert current is not None
            if current.response is not None:
                stored = current.record()
                self._remember(stored)
                if current.store:
                    await self.runtime.response_store.put(stored)

        return ModelCall(
            body["model"],
            attempt,
            True,
            check=_not_native,
            fields=body,
            after=after,
            texts=MESSAGE_TEXTS,
            codec=CODEC,
            document=body,
        )

    def _evict(self, previous_id: Any) -> None:
        """A continuation that fails evicts the response it continued."""
        if previous_id:
            self.remembered.pop(previous_id, None)

    async def _lookup(self, response_id: str) -> StoredResponse | None:
        record = self.remembered.get(response_id)
        if record is not None:
            return record
        return await turn.owned(self.runtime.response_store, response_id, self.key_id)

    def _remember(self, record: StoredResponse) -> None:
        self.remembered[record.id] = record
        while len(self.remembered) > CONNECTION_MEMORY:
            self.remembered.popitem(last=False)

    async def _error(self, error: GatewayError, lane: Any = None) -> None:
        await self._send_frame(_error_frame(error, self.language, lane=lane))

    async def _send_frame(self, frame: bytes) -> None:
        async with self.send_lock:
            await self.send({"type": "websocket.send", "text": frame.decode()})


def _message(event: JSON, *, lane: Any) -> bytes:
    """One event as a line, echoing the lane's `stream_id`."""
    return encode_ndjson({**event, "stream_id": lane} if lane is not None else event)


async def _messages(frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The encoded stream one event (one line, one WebSocket message) at a time: the pipeline shows each
    message to the hooks, and the sink sends each frame as one message."""
    async with contextlib.aclosing(frames):  # type: ignore[type-var]
        async for frame in frames:
            for message in frame.splitlines():
                yield message


def _error_frame(error: GatewayError, language: str, *, lane: Any = None) -> bytes:
    payload = error_object(error, language)
    payload["code"] = payload["code"] or error.type  # Open Responses requires a code here
    event: JSON = {"type": "error", "status": error.status, "error": payload}
    if lane is not None:
        event["stream_id"] = lane
    return orjson.dumps(event)


class _Response:
    """One response on the socket, as the pipeline's sink: each frame of its answer one message, its errors an
    `error` event of its lane."""

    __slots__ = ("answered", "call", "disconnected", "lane", "peer", "send_frame", "started")

    def __init__(self, call: Call, send_frame: Callable[[bytes], Awaitable[None]], lane: Any, peer: str) -> None:
        self.call = call
        self.peer = peer  # the client's address
        self.send_frame = send_frame
        self.lane = lane
        self.answered = False  # an event of this response went to the client
        self.disconnected = False
        self.started = time.perf_counter()

    async def send_answer(
        self, answer: Answer, last_event: Callable[[GatewayError], Awaitable[bytes]]
    ) -> GatewayError | None:
        self.answered = True
        rest = answer.rest
        try:
            await self.send_frame(answer.body)
            if rest is not None:
                async for frame in rest:
                    await self.send_frame(frame)
            return None
        except GatewayError as error:
            for message in (await last_event(error)).splitlines():  # the encoder's lines (`_message`)
                await self.send_frame(message)
            return error
        finally:
            if rest is not None:
                await close(rest)

    async def send_error(self, error: GatewayError, headers: Headers) -> None:
        """Failures before a response starts are `error` events with an HTTP-style `status`; the connection
        stays open."""
        await self.send_frame(_error_frame(error, self.call.language, lane=self.lane))

    def client_left(self) -> None:
        self.disconnected = True

    def outcome(self) -> tuple[int, float, float | None, bool]:
        error = self.call.error
        status = 499 if self.disconnected else error.status if error is not None else 200
        return status, time.perf_counter() - self.started, None, True

    def watch(self, after: float = 0.0) -> None:
        """The read loop notices a client that leaves (it cancels the lanes)."""

    def unwatch(self) -> None:
        pass


def _not_native(deployment: Deployment) -> None:
    if deployment.native_responses:
        raise InvalidRequest("responses_unsupported", param="model", feature="WebSocket mode on a native model")


def _parse(data: str | bytes) -> JSON:
    event = parse_json_object(data.encode() if isinstance(data, str) else data)
    kind = event.get("type")
    if kind != "response.create":
        raise InvalidRequest("unknown_event_type", param="type", code="unknown_event_type", event_type=str(kind))
    lane = event.get("stream_id")
    if lane is not None and not isinstance(lane, str):
        raise InvalidRequest("wrong_type", param="stream_id", expected="a string")
    return event


async def serve_websocket(runtime: Runtime, scope: Scope, receive: Receive, send: Send, ids: RequestIds) -> None:
    """One connection in WebSocket mode on `/v1/responses`."""
    await ResponsesSocket(runtime, scope, receive, send, ids).run()
