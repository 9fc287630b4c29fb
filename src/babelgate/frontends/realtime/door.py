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
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import parse_qs

import orjson

from babelgate import pipeline
from babelgate.answer import Answer, Headers
from babelgate.call import Call
from babelgate.config.realtime import CascadeConfig
from babelgate.errors import GatewayError, InvalidRequest, NotFound
from babelgate.exchange import DRAIN, ClientGone, Receive, Scope, Send, client_address
from babelgate.frontends.openai_errors import encode_error, error_object
from babelgate.frontends.prepare import prepared_request
from babelgate.frontends.realtime.sign_in import sign_in
from babelgate.model_call import ModelCall
from babelgate.observability.logging import Scrubber
from babelgate.providers.base import CallNotes, live_of, realtime_of
from babelgate.realtime.calls import PlacedCall
from babelgate.realtime.cascade.models import GatewayModels
from babelgate.realtime.cascade.road import CascadeRoad
from babelgate.realtime.guard import RealtimeGuard
from babelgate.realtime.live import LiveRoad
from babelgate.realtime.protocol import BETA_HEADER, SessionUsage, error_event
from babelgate.realtime.relay import RelayRoad
from babelgate.realtime.road import Road
from babelgate.realtime.secrets import Grant
from babelgate.realtime.session import POLICY_VIOLATION, Bounds, Session
from babelgate.realtime.sessions import CLOSING_SECONDS
from babelgate.routing.registry import Deployment
from babelgate.schema.chat import ChatRequest, Usage

if TYPE_CHECKING:
    from babelgate.config.models import Config
    from babelgate.observability.request_id import RequestIds
    from babelgate.runtime import Runtime

ROUTE: Final = "realtime"
KEY_PROTOCOL: Final = "openai-insecure-api-key."  # a browser's key, as a subprotocol (it cannot set headers)
BETA_PROTOCOL: Final = "openai-beta.realtime-v1"
ANSWER_PROTOCOL: Final = "realtime"


class RealtimeDoor:
    """One connection: the pipeline's sink, and the client's side of its session."""

    door: str | None = None  # another API's door on the same sessions, as the ledger's detail names it

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
        self.secret = b""  # the client secret presented, when one was
        self.road: Road | None = None
        self.notes: CallNotes | None = None
        self.usage = SessionUsage()
        self.reserved: str | None = None
        self.placed: PlacedCall | None = None  # a WebRTC call's sideband (`?call_id=`): the call it watches
        self.accepted = False  # the socket's handshake was answered (a door that reads a message first did)

    async def run(self) -> None:
        message = await self._receive()
        if message["type"] != "websocket.connect":
            return
        await self.conduct()

    async def conduct(self) -> None:
        """The session as one model call, from the key's check to the ledger row."""
        sessions = self.runtime.realtime.sessions
        try:
            await pipeline.serve(self.runtime, self, self._handle, authenticate=False, model_route=True)
        finally:
            if self.reserved is not None:
                sessions.release(self.reserved)
            if self.grant is not None and not self.running:  # refused before it opened: the secret is not spent
                self.runtime.realtime.secrets.give_back(self.secret, self.grant)
            if self.road is not None and not self.running:  # connected, then refused before it started
                await self.road.close()

    # The model call

    async def _handle(self) -> ModelCall:
        record, runtime = self.call, self.runtime
        signed = await sign_in(runtime, record)
        if signed is not None:
            self.grant, self.secret = signed
        model = self._model()
        if runtime.realtime.sessions.draining:
            raise GatewayError("realtime_shutting_down", code="service_restart", status=503)
        self.reserved = runtime.realtime.sessions.reserve(record.key_id, runtime.config.realtime.max_sessions_per_key)
        return ModelCall(model, self._attempt, True, check=self._check if self.placed is not None else self._road)

    def _road(self, deployment: Deployment) -> None:
        pipeline.require(pick_road(self.runtime.config, deployment) is not None, deployment, "realtime")

    def _model(self) -> str:
        """The model the session asks for: a WebRTC call's (its sideband), the URL's `model`, else the client
        secret's."""
        query = parse_qs(self.call.query.decode("latin-1"))
        named_models = query.get("model")
        model: str | None = named_models[0] if named_models else None
        call_ids = query.get("call_id")
        if call_ids:  # a call made through the gateway, by this key: its model, on its provider
            self.placed = self.runtime.realtime.calls.find(call_ids[0], self.call.key_id)
            if self.placed is None:
                raise NotFound("realtime_call_not_found", code="call_not_found", call_id=call_ids[0])
            model = self.placed.model
        if model is None and self.grant is not None:
            named = self.grant.session.get("model")
            model = named if isinstance(named, str) else None
        if not model:
            raise InvalidRequest("missing_field", param="model", code="missing_model")
        return model

    def _opening(self) -> tuple[dict[str, Any], ...]:
        """Events for the road before the client's: a client secret's session settings."""
        if self.grant is not None and self.grant.session and self.placed is None:  # a call has its settings already
            settings = {name: value for name, value in self.grant.session.items() if name != "model"}
            if settings:
                return ({"type": "session.update", "session": settings},)
        return ()

    async def _attempt(self, deployment: Deployment, notes: CallNotes) -> Answer:
        """Opens the upstream's socket; a failure to connect is an attempt's failure (the router tries the next
        deployment). The answer is empty: the sink runs the session on the road this leaves."""
        if self.road is not None:  # an earlier attempt's, refused after it connected
            await self.road.close()
            self.road = None
        call_id = self.placed.call_id if self.placed is not None else None
        cascade = pick_road(self.runtime.config, deployment) if call_id is None else None
        if isinstance(cascade, CascadeConfig):
            self.road = self._cascade(deployment, cascade)
        else:
            self.road = await open_road(deployment, beta=self.beta, call_id=call_id)
        self.notes = notes
        return Answer(b"", notes, headers=[])

    def _cascade(self, deployment: Deployment, cascade: CascadeConfig) -> CascadeRoad:
        assert cascade.transcription is not None and cascade.speech is not None  # checked at config load
        runtime = self.runtime

        async def prepare(chosen: Deployment, request: ChatRequest, notes: CallNotes) -> ChatRequest:
            return await prepared_request(runtime, chosen, request, stream=True, context=None, notes=notes)

        models = GatewayModels(runtime, deployment.public_name, cascade.transcription, cascade.speech, prepare)
        return CascadeRoad(
            models,
            deployment.public_name,
            cascade,
            beta=self.beta,
            error_payload=lambda error: error_object(error, self.language),
            transcription_model=cascade.transcription,
        )

    async def _response_done(self, turn: dict[str, Any]) -> None:
        """After each response: its turn in the metrics, the usage so far on the call's notes, and the caller's
        budgets checked with it."""
        notes, record = self.notes, self.call
        if self.road is not None:
            self.runtime.metrics.realtime_turn(record.requested_model, self.road.name, turn)
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
            audio_prompt_tokens=max(0, usage.input_audio - usage.input_cached_audio),
            audio_completion_tokens=usage.output_audio,
            extra=usage.details(),
        )

    # The sink

    async def send_answer(
        self, answer: Answer, last_event: Callable[[GatewayError], Awaitable[Any]]
    ) -> GatewayError | None:
        road = self.road
        assert road is not None
        self.answered = self.running = True
        if not self.accepted:
            accept: dict[str, Any] = {"type": "websocket.accept"}
            if self.answer_protocol is not None:
                accept["subprotocol"] = self.answer_protocol
            await self._send(accept)
            self.accepted = True
        bounds = self.runtime.config.realtime
        opening = self._opening()
        session = Session(
            road,
            self,
            Bounds(bounds.max_session_seconds, bounds.idle_timeout_seconds, bounds.max_event_bytes),
            beta=self.beta,
            usage=self.usage,
            response_done=self._response_done,
            opening=opening,
            guard=self._guard(),
        )
        sessions = self.runtime.realtime.sessions
        sessions.add(session)
        self.scope[DRAIN] = self._drain
        opened = time.monotonic()
        metrics = self.runtime.metrics
        metrics.realtime_opened.labels(road.name).inc()
        try:
            ending = await session.run()
        finally:
            sessions.discard(session)
            metrics.realtime_closed.labels(road.name).inc()
            if self.notes is not None:
                self.notes.usage = self._usage()
                self.notes.completed = True
            seconds = round(time.monotonic() - opened, 3)
            door = {"door": self.door} if self.door is not None else {}
            details = {"road": road.name, **door, "seconds": seconds, **self.usage.details()}
            self.call.details = orjson.dumps(details).decode()
        return ending.error

    def _guard(self) -> RealtimeGuard | None:
        """The session's guardrails, the same the caller's requests to the model pass (their decisions on the
        call, for its ledger row and the metrics)."""
        record, guardrails = self.call, self.runtime.guardrails
        decisions = record.guarded
        if not guardrails.active or decisions is None or not record.requested_model:
            return None
        guards = guardrails.applicable(record.virtual_key, record.requested_model)
        return RealtimeGuard(guards, decisions, record.requested_model, record.key_id) if guards else None

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
    provider = deployment.provider
    pipeline.require(realtime_of(provider) is not None or live_of(provider) is not None, deployment, "realtime")


def pick_road(config: Config, deployment: Deployment) -> CascadeConfig | Literal["upstream"] | None:
    """How a deployment serves a session: the voice cascade when its model has a `realtime:` block of its own (a
    compatible server declares the Realtime API whether or not it serves that model); else its upstream's own
    realtime API (`open_road`: relayed or translated); else the cascade when the server's `realtime:` configures
    one; else None (refused)."""
    server = config.realtime.cascade()
    own = _own_cascade(config, deployment.public_name)
    if own is not None:
        return own.over(server)
    provider = deployment.provider
    if realtime_of(provider) is not None or live_of(provider) is not None:
        return "upstream"
    return server if server.complete else None


def _own_cascade(config: Config, name: str) -> CascadeConfig | None:
    """A model's own cascade block, its aliases followed."""
    for _ in range(8):
        model = config.models.get(name)
        if model is not None:
            return model.realtime
        target = config.aliases.get(name)
        if target is None:
            return None
        name = target
    return None


async def open_road(deployment: Deployment, *, beta: bool, call_id: str | None = None) -> Road:
    """The road to the deployment's upstream, by what its provider serves: OpenAI's Realtime API (relayed; a
    WebRTC call's sideband when `call_id` names one) or Gemini's Live API (translated)."""
    provider = deployment.provider
    scrub = Scrubber(provider.secrets)
    relay = realtime_of(provider)
    if relay is not None:
        upstream = await relay.realtime_upstream(deployment.model, beta=beta, call_id=call_id)
        return await RelayRoad.open(
            upstream,
            deployment.model,
            deployment.public_name,
            provider=provider.name,
            connect_timeout=upstream.connect_timeout,
            scrub=scrub,
        )
    live = live_of(provider)
    assert live is not None  # `_check`
    translated = await live.live_upstream(deployment.model)
    return await LiveRoad.open(translated, deployment.public_name, beta=beta, provider=provider.name, scrub=scrub)


async def serve_realtime(runtime: Runtime, scope: Scope, receive: Receive, send: Send, ids: RequestIds) -> None:
    """One connection on `/v1/realtime`: one session."""
    await RealtimeDoor(runtime, scope, receive, send, ids).run()
