"""The door of `/v1/realtime`: one WebSocket is one Realtime session, conducted by `pipeline.serve` as one model
call (authenticate, the model's access list, limits and budgets admitted once, deployments tried in turn until one
connects), whose answer is the session itself: the sink accepts the socket and runs it (realtime/session.py).

A refusal before the session opens (a wrong key, an unknown or forbidden model, a limit) is an HTTP answer to the
handshake, in OpenAI's error format, where the server can send one (ASGI's `websocket.http.response`); elsewhere an
`error` event and close code 1008. The session is one ledger row (route `realtime`), settled when it ends."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

import orjson

from babelgate import pipeline
from babelgate.answer import Answer, Headers
from babelgate.call import Call
from babelgate.errors import GatewayError, InvalidRequest, NotFound
from babelgate.exchange import DRAIN, ClientGone, Receive, Scope, Send, client_address
from babelgate.frontends.openai_errors import encode_error, error_object
from babelgate.governance.gateway_keys import credentials
from babelgate.model_call import ModelCall
from babelgate.observability.logging import Scrubber
from babelgate.providers.base import CallNotes, realtime_of
from babelgate.realtime.calls import PlacedCall
from babelgate.realtime.protocol import BETA_HEADER, SessionUsage, error_event
from babelgate.realtime.relay import RelayRoad
from babelgate.realtime.road import Road
from babelgate.realtime.secrets import Grant, is_client_secret
from babelgate.realtime.session import POLICY_VIOLATION, Bounds, Session
from babelgate.realtime.sessions import CLOSING_SECONDS
from babelgate.routing.registry import Deployment
from babelgate.schema.chat import Usage

if TYPE_CHECKING:
    from babelgate.observability.request_id import RequestIds
    from babelgate.runtime import Runtime

ROUTE: Final = "realtime"
KEY_PROTOCOL: Final = "openai-insecure-api-key."  # a browser's key, as a subprotocol (it cannot set headers)
BETA_PROTOCOL: Final = "openai-beta.realtime-v1"
ANSWER_PROTOCOL: Final = "realtime"


class RealtimeDoor:
    """One connection: the pipeline's sink, and the client's side of its session."""

    def __init__(self, runtime: Runtime, scope: Scope, receive: Receive, send: Send, ids: RequestIds) -> None:
        self.runtime = runtime
        self.scope = scope
        self._receive = receive
        self._send = send
        offered = [str(protocol) for protocol in scope.get("subprotocols") or ()]
        headers = list(scope["headers"])
        names = {name for name, _ in headers}
        key = next((p[len(KEY_PROTOCOL) :] for p in offered if p.startswith(KEY_PROTOCOL)), None)
        if b"authorization" not in names:
            # The `api-key` header (Azure's clients) and the browser's subprotocol, as the one key the gateway reads.
            presented = next((value for name, value in headers if name == b"api-key"), None)
            if presented is None and key is not None:
                presented = key.encode("latin-1", "replace")
            if presented is not None:
                headers.append((b"authorization", b"Bearer " + presented))
        self.call = Call(ROUTE, ids(None), headers)
        self.call.query = scope.get("query_string", b"")
        beta = self.call.header(b"openai-beta")
        self.beta = (beta is not None and BETA_HEADER.encode() in beta) or BETA_PROTOCOL in offered
        self.answer_protocol = ANSWER_PROTOCOL if ANSWER_PROTOCOL in offered else None
        self.language = self.call.language
        self.peer = client_address(scope)
        self.disconnected = False
        self.answered = False
        self.running = False  # the session began on its road (which then closes it)
        self.started = time.perf_counter()
        self.grant: Grant | None = None
        self.road: Road | None = None
        self.notes: CallNotes | None = None
        self.usage = SessionUsage()
        self.reserved: str | None = None
        self.placed: PlacedCall | None = None  # a WebRTC call's sideband (`?call_id=`): the call it watches

    async def run(self) -> None:
        message = await self._receive()
        if message["type"] != "websocket.connect":
            return
        sessions = self.runtime.realtime.sessions
        try:
            await pipeline.serve(self.runtime, self, self._handle, authenticate=False, model_route=True)
        finally:
            if self.reserved is not None:
                sessions.release(self.reserved)
            if self.road is not None and not self.running:  # connected, then refused before it started
                await self.road.close()

    # The model call

    async def _handle(self) -> ModelCall:
        record, runtime = self.call, self.runtime
        presented = credentials(record.header, record.query)
        token = presented[7:].strip() if presented is not None and presented[:7].lower() == b"bearer " else b""
        if is_client_secret(token):
            grant = self.grant = runtime.realtime.secrets.find(token)
            record.key_id, record.virtual_key = grant.key_id, grant.virtual_key
        else:
            await pipeline.identify(runtime, record)
        query = parse_qs(record.query.decode("latin-1"))
        named_models = query.get("model")
        model: str | None = named_models[0] if named_models else None
        call_ids = query.get("call_id")
        if call_ids:  # a call made through the gateway, by this key: its model, on its provider
            self.placed = runtime.realtime.calls.find(call_ids[0], record.key_id)
            if self.placed is None:
                raise NotFound("realtime_call_not_found", code="call_not_found", call_id=call_ids[0])
            model = self.placed.model
        if model is None and self.grant is not None:
            named = self.grant.session.get("model")
            model = named if isinstance(named, str) else None
        if not model:
            raise InvalidRequest("missing_field", param="model", code="missing_model")
        if runtime.realtime.sessions.draining:
            raise GatewayError("realtime_shutting_down", code="service_restart", status=503)
        self.reserved = runtime.realtime.sessions.reserve(record.key_id, runtime.config.realtime.max_sessions_per_key)
        return ModelCall(model, self._attempt, True, check=self._check if self.placed is not None else _check)

    async def _attempt(self, deployment: Deployment, notes: CallNotes) -> Answer:
        """Opens the upstream's socket; a failure to connect is an attempt's failure (the router tries the next
        deployment). The answer is empty: the sink runs the session on the road this leaves."""
        provider = deployment.provider
        relay = realtime_of(provider)
        assert relay is not None  # `_check`
        call_id = self.placed.call_id if self.placed is not None else None
        upstream = await relay.realtime_upstream(deployment.model, beta=self.beta, call_id=call_id)
        if self.road is not None:  # an earlier attempt's, refused after it connected
            await self.road.close()
        self.road = await RelayRoad.open(
            upstream,
            deployment.model,
            deployment.public_name,
            provider=provider.name,
            connect_timeout=upstream.connect_timeout,
            scrub=Scrubber(provider.secrets),
        )
        self.notes = notes
        return Answer(b"", notes, headers=[])

    async def _response_done(self) -> None:
        """After each response: the usage so far on the call's notes, and the caller's budgets checked with it."""
        notes, record = self.notes, self.call
        if notes is None:
            return
        notes.usage = self._usage()
        cost = notes.cost
        if cost:
            await self.runtime.governance.check_budgets(
                record.virtual_key, record.requested_model, record.end_user, cost
            )

    def _usage(self) -> Usage:
        usage = self.usage
        return Usage(
            prompt_tokens=usage.input_tokens,
            completion_tokens=usage.output_tokens,
            total_tokens=usage.input_tokens + usage.output_tokens,
            cached_tokens=usage.input_cached,
            extra=usage.details(),
        )

    # The sink

    async def send_answer(
        self, answer: Answer, last_event: Callable[[GatewayError], Awaitable[Any]]
    ) -> GatewayError | None:
        road = self.road
        assert road is not None
        self.answered = self.running = True
        accept: dict[str, Any] = {"type": "websocket.accept"}
        if self.answer_protocol is not None:
            accept["subprotocol"] = self.answer_protocol
        await self._send(accept)
        bounds = self.runtime.config.realtime
        opening: tuple[dict[str, Any], ...] = ()
        if self.grant is not None and self.grant.session and self.placed is None:  # a call has its settings already
            settings = {name: value for name, value in self.grant.session.items() if name != "model"}
            if settings:
                opening = ({"type": "session.update", "session": settings},)
        session = Session(
            road,
            self,
            Bounds(bounds.max_session_seconds, bounds.idle_timeout_seconds, bounds.max_event_bytes),
            beta=self.beta,
            usage=self.usage,
            response_done=self._response_done,
            opening=opening,
        )
        sessions = self.runtime.realtime.sessions
        sessions.add(session)
        self.scope[DRAIN] = self._drain
        opened = time.monotonic()
        try:
            ending = await session.run()
        finally:
            sessions.discard(session)
            if self.notes is not None:
                self.notes.usage = self._usage()
                self.notes.completed = True
            seconds = round(time.monotonic() - opened, 3)
            self.call.details = orjson.dumps({"road": road.name, "seconds": seconds, **self.usage.details()}).decode()
        return ending.error

    async def send_error(self, error: GatewayError, headers: Headers) -> None:
        """A refusal before the session opened: an HTTP answer to the handshake where the server can send one."""
        self.answered = True
        if "websocket.http.response" in (self.scope.get("extensions") or {}):
            await self._send(
                {
                    "type": "websocket.http.response.start",
                    "status": error.status,
                    "headers": [(b"content-type", b"application/json"), *headers],
                }
            )
            await self._send({"type": "websocket.http.response.body", "body": encode_error(error, self.language)})
            return
        await self._send({"type": "websocket.accept"})
        await self.send_error_event(error)
        await self._send({"type": "websocket.close", "code": POLICY_VIOLATION})

    def _drain(self) -> bool:
        """The server shuts down: the session goes on for the drain time (within the server's own graceful
        shutdown), then ends with 1012 (realtime/sessions.py)."""
        config = self.runtime.config
        seconds = min(config.realtime.drain_seconds, max(0.0, config.server.shutdown_timeout - CLOSING_SECONDS))
        self.runtime.realtime.sessions.begin_drain(seconds)
        return True

    def client_left(self) -> None:
        self.disconnected = True

    def outcome(self) -> tuple[int, float, float | None, bool]:
        error = self.call.error
        status = error.status if error is not None else 200
        return status, time.perf_counter() - self.started, None, True

    def watch(self, after: float = 0.0) -> None:
        """The session's own loop notices a client that leaves."""

    def unwatch(self) -> None:
        pass

    # The client's side of the session (realtime/session.py's Client)

    async def receive(self) -> str | bytes | None:
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        return text if text is not None else message.get("bytes") or b""

    async def send(self, text: str) -> None:
        try:
            await self._send({"type": "websocket.send", "text": text})
        except (OSError, RuntimeError) as error:  # uvicorn raises these once the client is gone
            raise ClientGone() from error

    async def send_error_event(self, error: GatewayError) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            await self._send(
                {"type": "websocket.send", "text": error_event(error_object(error, self.language)).decode()}
            )

    async def close(self, code: int) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            await self._send({"type": "websocket.close", "code": code})

    def _check(self, deployment: Deployment) -> None:
        """A call's sideband is on the provider that holds the call."""
        _check(deployment)
        assert self.placed is not None
        on_its_provider = deployment.provider.name == self.placed.provider
        pipeline.require(on_its_provider, deployment, "a call made on another provider")


def _check(deployment: Deployment) -> None:
    pipeline.require(realtime_of(deployment.provider) is not None, deployment, "realtime")


async def serve_realtime(runtime: Runtime, scope: Scope, receive: Receive, send: Send, ids: RequestIds) -> None:
    """One connection on `/v1/realtime`: one session."""
    await RealtimeDoor(runtime, scope, receive, send, ids).run()
