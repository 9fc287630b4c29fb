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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.accounting import account
from babelgate.answer import Answer, Headers, close, streamed
from babelgate.errors import AuthenticationFailed, GatewayError, InvalidRequest, RequestTooLarge
from babelgate.exchange import Receive, Scope, Send
from babelgate.frontends.openai_errors import error_object
from babelgate.frontends.responses import turn
from babelgate.frontends.responses.validate import validate_create_body
from babelgate.frontends.responses.wire import JSON
from babelgate.governance.gateway_keys import credentials
from babelgate.governance.virtual_keys import VirtualKey
from babelgate.hooks import Completion, Hook, RequestContext, notify_complete
from babelgate.i18n import choose_language
from babelgate.observability.tracing import AttemptRecord
from babelgate.pipeline import call, parse_json_object
from babelgate.providers.base import CallNotes
from babelgate.routing.registry import Deployment
from babelgate.store import StoredResponse

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
            self.key_id, self.virtual_key = self.runtime.keys.identify(credentials(self._header))
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
            started = time.perf_counter()
            outcome = _Outcome(
                self._context, self._send_frame, language=self.language, virtual_key=self.virtual_key, body_size=size
            )
            lane = event.get("stream_id")
            try:
                await self._respond(event, outcome)
            except OSError:  # the client left while we were sending: the read loop ends the connection
                outcome.status = 499
                return
            except Exception:
                log.exception("unexpected error in a WebSocket response")
                outcome.failed(GatewayError())
                with contextlib.suppress(OSError):
                    await self._error(GatewayError(), lane)
            finally:
                await self._account(outcome, time.perf_counter() - started)

    async def _account(self, outcome: _Outcome, elapsed: float) -> None:
        notes = outcome.notes
        usage = notes.usage if notes is not None else None
        account(
            self.runtime,
            outcome,
            route="responses.websocket",
            request_id=self.ids(None),
            key_id=self.key_id,
            status=outcome.status,
            error_code=outcome.error_code,
            elapsed=elapsed,
            ttft=None,
            streamed=True,
            headers=[],
        )
        if outcome.context is not None:
            completion = Completion(
                outcome.status, elapsed, usage, notes.finish_reason if notes else None, outcome.error_code or None
            )
            await notify_complete(self.runtime.hooks, outcome.context, completion)

    async def _respond(self, event: JSON, outcome: _Outcome) -> None:
        lane = event.pop("stream_id", None)
        body = {key: value for key, value in event.items() if key != "type"}
        previous_id = body.get("previous_response_id")
        current: turn.Turn | None = None

        async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
            nonlocal current
            current = await turn.prepare(
                self.runtime,
                body,
                deployment,
                self._lookup,
                language=self.language,
                context=outcome.context,
                notes=notes,
                stream=True,
                owner=self.key_id,
            )
            return await streamed(_frames(current, lane), notes, on_error=functools.partial(_error_frame, lane=lane))

        try:
            validate_create_body(body, websocket=True)
            await call(self.runtime, outcome, body["model"], attempt, stream=True, check=_not_native)
        except GatewayError as error:
            if previous_id:
                self.remembered.pop(previous_id, None)
            outcome.failed(error)
            await self._error(error, lane)
            return
        assert current is not None
        failure = current.error or outcome.error
        if failure is not None:
            outcome.failed(failure)
            if previous_id:
                self.remembered.pop(previous_id, None)
        if current.final is not None:
            record = current.record()
            self._remember(record)
            if current.store:
                await self.runtime.response_store.put(record)

    async def _lookup(self, response_id: str) -> StoredResponse | None:
        record = self.remembered.get(response_id)
        if record is not None:
            return record
        return await turn.owned(self.runtime.response_store, response_id, self.key_id)

    def _remember(self, record: StoredResponse) -> None:
        self.remembered[record.id] = record
        while len(self.remembered) > CONNECTION_MEMORY:
            self.remembered.popitem(last=False)

    def _context(self, model: str, provider: str, upstream_model: str, stream: bool) -> RequestContext:
        key = self.virtual_key
        return RequestContext(
            request_id=self.ids(None).decode(),
            route="responses.websocket",
            model=model,
            provider=provider,
            upstream_model=upstream_model,
            stream=stream,
            key_id=self.key_id,
            headers=self.headers,
            team=key.team if key is not None else None,
            key_metadata=key.metadata if key is not None else {},
        )

    async def _error(self, error: GatewayError, lane: Any = None) -> None:
        await self._send_frame(_error_frame(error, self.language, lane=lane))

    async def _send_frame(self, frame: bytes) -> None:
        async with self.send_lock:
            await self.send({"type": "websocket.send", "text": frame.decode()})


async def _frames(current: turn.Turn, lane: Any) -> AsyncIterator[bytes]:
    """The response's events, one frame (one WebSocket message) each, echoing the lane's `stream_id`."""
    async for batch in turn.events(current):
        for item in batch:
            yield orjson.dumps({**item, "stream_id": lane} if lane is not None else item)


def _error_frame(error: GatewayError, language: str, *, lane: Any = None) -> bytes:
    payload = error_object(error, language)
    payload["code"] = payload["code"] or error.type  # Open Responses requires a code here
    event: JSON = {"type": "error", "status": error.status, "error": payload}
    if lane is not None:
        event["stream_id"] = lane
    return orjson.dumps(event)


@dataclass(slots=True)
class _Outcome:
    """What accounting needs from one response on the socket; the call site (pipeline.CallSite)
    of its upstream call."""

    hook_context: Callable[[str, str, str, bool], RequestContext]
    send_frame: Callable[[bytes], Awaitable[None]]
    language: str = "en"
    virtual_key: VirtualKey | None = None
    provider: str = ""
    model: str = ""
    status: int = 200
    error: GatewayError | None = None
    notes: CallNotes | None = None
    context: RequestContext | None = None
    response_started: bool = False  # an event of this response went to the client
    requested_model: str = ""
    body_size: int = 0
    attempt_log: list[AttemptRecord] | None = None  # no traces for WebSocket responses yet
    chunk_hooks: tuple[Hook, ...] = ()
    headers_out: Headers = field(default_factory=list)  # unused: a socket has no response headers

    async def send_answer(
        self, answer: Answer, last_event: Callable[[GatewayError], Awaitable[bytes]]
    ) -> GatewayError | None:
        """The sink of one response on the socket: each frame one message."""
        self.response_started = True
        rest = answer.rest
        try:
            await self.send_frame(answer.body)
            if rest is not None:
                async for frame in rest:
                    await self.send_frame(frame)
            return None
        except GatewayError as error:
            await self.send_frame(await last_event(error))
            return error
        finally:
            if rest is not None:
                await close(rest)

    def watch(self, after: float = 0.0) -> None:
        """Nothing to do: a closed socket cancels its responses' tasks (ResponsesSocket.run)."""

    def unwatch(self) -> None:
        pass

    def failed(self, error: GatewayError) -> None:
        self.status, self.error = error.status, error

    @property
    def error_code(self) -> str:
        return self.error.label if self.error is not None else ""


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
