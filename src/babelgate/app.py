"""create_app(config): the ASGI app. Assembles the gateway from its parts, routes requests, renders errors.

A gateway is a few parts (assembly/), each holding what outlives one config and knowing how to start, take a
new config and stop: `Gateway.parts` lists them once, in the order they depend on each other. The runtime
(runtime.py) is the immutable view of them a request reads; a reload moves every part to the new config,
builds a new runtime and swaps a reference, so requests in flight finish on the runtime they started with.
The app needs no lifespan to work (it may be mounted inside another app, whose lifespan we never see): its
parts start on its first request, the upstream client connects on first use and the model catalog fills on
demand.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from importlib.metadata import PackageNotFoundError, version

from babelgate import pipeline, response_cache
from babelgate.answer import Answer
from babelgate.assembly.batches import BatchesPart
from babelgate.assembly.conversation import ConversationPart
from babelgate.assembly.governance import GovernancePart
from babelgate.assembly.guardrails import GuardrailsPart
from babelgate.assembly.identity import IdentityPart
from babelgate.assembly.ledger import LedgerPart
from babelgate.assembly.mcp import McpPart
from babelgate.assembly.part import Background, Part
from babelgate.assembly.redis import RedisPart, prefix_of
from babelgate.assembly.routing_state import RoutingStatePart
from babelgate.assembly.store import StorePart
from babelgate.assembly.telemetry import TelemetryPart
from babelgate.assembly.upstreams import UpstreamsPart
from babelgate.config.load import load_config
from babelgate.config.models import Config
from babelgate.config.reload import install_reload_signal
from babelgate.cors import Cors
from babelgate.errors import GatewayError, MethodNotAllowed, NotFound
from babelgate.exchange import Exchange, Receive, Scope, Send
from babelgate.frontends import registry as frontends
from babelgate.frontends.openai_errors import encode_error
from babelgate.frontends.openapi import OpenAPIDocument
from babelgate.frontends.route import ErrorEncoder, PrefixRoute, Route
from babelgate.governance.access_mode import RELOADED
from babelgate.governance.admission import Governance
from babelgate.governance.gateway_keys import GatewayKeys
from babelgate.hooks import Hook
from babelgate.model_call import ModelCall
from babelgate.observability.logging import REQUEST_ID
from babelgate.observability.request_id import RequestIds
from babelgate.observability.tracing import RequestRecord
from babelgate.providers import PROVIDER_TYPES
from babelgate.realtime.sessions import RealtimeState
from babelgate.response_cache import ResponseCache
from babelgate.routing.router import Router
from babelgate.runtime import Runtime

log = logging.getLogger("babelgate")

try:
    VERSION = version("babelgate")
except PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "0.0.0"

# The tables the app routes by, built from the frontends' declarations (frontends/registry.py). Paths are
# without the optional `/v1` prefix; both spellings reach the same route. Each route's operations are what
# /openapi.json publishes (frontends/openapi.py). Code's, not a config's: the same for every gateway.
ROUTES: dict[str, Route] = frontends.routes()
# Routes with an id in the path, tried in order where no exact path matched.
PREFIX_ROUTES: tuple[PrefixRoute, ...] = frontends.prefix_routes()
# Routes whose requests the ledger keeps, the refused ones too (Ollama's `show` reads a model's
# facts: no call, no row).
MODEL_ROUTES: frozenset[str] = frozenset(
    route.name for route in ROUTES.values() if route.names_model and route.name != "ollama.show"
) | frozenset(route.name for route in PREFIX_ROUTES if route.names_model)
OPENAPI = OpenAPIDocument(ROUTES, PREFIX_ROUTES)
ROUTES["/openapi.json"] = Route("GET", OPENAPI.serve, "openapi", public=True)
WEBSOCKETS = frontends.websockets()
# Where no route matched, the error still speaks the format of the API the path belongs to.
ERRORS_BY_PREFIX: tuple[tuple[str, ErrorEncoder], ...] = frontends.error_prefixes()
OPERATIONS = frontends.operations()  # gen_ai.operation.name by route name


class Gateway:
    """The ASGI application returned by `create_app`: its parts (`parts`, in order), the runtime a request reads,
    and the entry every ASGI call goes through."""

    def __init__(
        self, config: Config, *, hooks: Iterable[Hook] = (), reload: Callable[[], Config] | None = None
    ) -> None:
        self.reload_config = reload
        self.hooks = tuple(hooks)
        self.created = int(time.time())
        self.started_monotonic = time.monotonic()
        self.request_ids = RequestIds()
        self.realtime = RealtimeState()  # sessions and client secrets outlive a reload
        self.background = Background()
        self.started = False  # the parts' start: at the lifespan's startup, or on the first request
        self.telemetry = TelemetryPart(config, OPERATIONS)
        self.tracing = self.telemetry.tracing  # read by every request
        self.upstreams = UpstreamsPart(config)
        self.store = StorePart(config)
        self.redis = RedisPart(config, self.telemetry.metrics)
        self.ledger = LedgerPart(config, self.store)
        self.conversations = ConversationPart(config, self.store, self.telemetry.metrics)
        self.governance = GovernancePart(config, self.store, self.redis.link, self.background, self._current)
        self.routing = RoutingStatePart(
            config, self.redis.link, self.upstreams.key_pools, self.governance.alerts, self.telemetry.metrics
        )
        self.identity = IdentityPart(config, self.governance)
        self.mcp = McpPart(config, self.store, self.background, self._current, VERSION)
        governance = self.governance
        self.guardrails = GuardrailsPart(config, self.upstreams, lambda: governance.directory.team_guardrails)
        self.batches = BatchesPart(config, self._current, ROUTES, self.request_ids)
        # Each after what it uses: started and reloaded in this order, stopped in the reverse one (the ledger
        # writes its last rows before the store closes, the store before the client's pools close).
        self.parts: tuple[Part, ...] = (
            self.telemetry,
            self.upstreams,
            self.store,
            self.redis,
            self.ledger,
            self.conversations,
            self.governance,
            self.routing,
            self.identity,
            self.mcp,
            self.guardrails,
            self.batches,
        )
        self.cache = ResponseCache(
            max_entries=config.cache.max_entries, redis=self.redis.link, prefix=prefix_of(config)
        )
        self.runtime = self._runtime(config)

    def _runtime(self, config: Config) -> Runtime:
        """What a request reads of the parts, under `config`."""
        upstreams, governance, identity = self.upstreams, self.governance, self.identity
        metrics = self.telemetry.metrics
        return Runtime(
            config=config,
            providers=upstreams.providers,
            registry=upstreams.registry,
            router=Router(upstreams.registry, self.routing.health, metrics, self.routing.pins),
            catalog=upstreams.catalog,
            keys=GatewayKeys(
                config.server.api_keys,
                governance.key_ring,
                required=config.auth.jwt is not None,
                seen=governance.seen_signatures,
            ),
            key_ring=governance.key_ring,
            governance=Governance(
                config, governance.limiter, governance.budgets, governance.directory, governance.alerts
            ),
            directory=governance.directory,
            audit=governance.audit,
            alerts=governance.alerts,
            ledger=self.ledger.ledger,
            cache=self.cache,
            hooks=self.hooks,
            typed_hooks=tuple(h for h in self.hooks if h.needs_typed_request),
            chunk_hooks=tuple(h for h in self.hooks if h.observes_chunks),
            metrics=metrics,
            response_store=self.store.store,
            reasoning_sealer=self.store.sealer,
            max_body_bytes=config.server.max_body_bytes,
            version=VERSION,
            created=self.created,
            cors=Cors(config.server.cors) if config.server.cors is not None else None,
            started_monotonic=self.started_monotonic,
            refusals=governance.refusals,
            jwt=identity.jwt,
            oidc=identity.oidc,
            mcp_servers=self.mcp.servers,
            credential_problems=upstreams.credential_problems,
            guardrails=self.guardrails.guardrails,
            conversations=self.conversations.log,
            realtime=self.realtime,
            batch_store=self.batches.engine.store,
            file_contents=self.batches.engine.contents,
            batch_wake=self.batches.engine.wake,
        )

    def _current(self) -> Runtime:
        return self.runtime

    def swap(self, config: Config) -> None:
        """Serve `config` from now on; requests in flight keep the runtime they started with. Raises ValueError
        (with the key path) when its providers or aliases do not fit together, and then nothing changed."""
        retired = [part.reload(config) for part in self.parts]
        self.runtime = self._runtime(config)
        self.governance.access_changed(RELOADED)
        self.background.close_in_turn(closer for closers in reversed(retired) for closer in closers)

    def _start(self, *, lifespan: bool) -> None:
        """What runs beside the requests: at startup, or on the first request (of any kind) when the
        gateway is mounted without our lifespan."""
        self.started = True
        for part in self.parts:
            part.start(lifespan)

    async def aclose(self) -> None:
        """Stop every part, the last started first (pollers, pools, the store, the upstream connections). The
        gateway's own lifespan does this; an app that mounts the gateway calls it from its own shutdown."""
        await self.realtime.sessions.drain(self.runtime.config.realtime.drain_seconds)
        for part in reversed(self.parts):
            await part.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            if not self.started:
                self._start(lifespan=False)
            serve_websocket = WEBSOCKETS.get(_route_path(scope))
            if serve_websocket is not None:
                try:
                    await pipeline.keys_ready(self.runtime)
                except GatewayError:
                    await send({"type": "websocket.close", "code": 1011})
                    return
                await serve_websocket(self.runtime, scope, receive, send, self.request_ids)
            else:
                await send({"type": "websocket.close", "code": 1000})

    def _http(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The request's service, handed back to `__call__` to await (a plain call: no frame of its own per request)."""
        if not self.started:
            self._start(lifespan=False)
        runtime = self.runtime
        path = _route_path(scope)
        mcp = self.mcp.endpoint
        if mcp is not None and mcp.claims(path):
            return mcp.serve(path, scope, receive, send)
        if path.startswith("/v1/"):
            path = path[3:]
        route = ROUTES.get(path)
        # A prefix route sets its own format (`_handler`), and a path of no route gets the format of its API there.
        errors = route.errors if route is not None else encode_error
        exchange = Exchange(scope, receive, send, self.request_ids, route.name if route else "", errors=errors)
        if runtime.cors is not None:
            origin = exchange.header(b"origin")
            if origin is not None:
                if scope["method"] == "OPTIONS" and exchange.header(b"access-control-request-method") is not None:
                    preflight = runtime.cors.preflight_headers(origin)
                    return exchange.respond(204 if preflight is not None else 403, b"", headers=preflight or [])
                exchange.headers_out += runtime.cors.answer_headers(origin)
        record = exchange.call
        REQUEST_ID.set(record.request_id)  # for the logs of this request's task (and tasks it starts)
        if self.tracing is not None:
            record.attempt_log = []
        handle, public = self._handler(runtime, exchange, route, path)
        # The pipeline conducts the request (authentication, the frontend's handler, then the model call or the
        # answer the handler returned, accounting, hooks).
        served = pipeline.serve(
            runtime, exchange, handle, authenticate=not public, model_route=record.route in MODEL_ROUTES
        )
        return served if self.tracing is None else self._traced(served, exchange)

    async def _traced(self, served: Awaitable[None], exchange: Exchange) -> None:
        await served
        if exchange.call.requested_model:
            self._trace(exchange)

    @staticmethod
    def _handler(
        runtime: Runtime, exchange: Exchange, route: Route | None, path: str
    ) -> tuple[Callable[[], Awaitable[Answer | ModelCall]], bool]:
        """The route's handler for this request, and whether the route is public (no gateway key). A wrong
        method or an unknown path is refused before the key is looked at."""
        scope = exchange.scope
        if route is not None:
            if not _method_allowed(scope, route.method):
                return functools.partial(_refuse, MethodNotAllowed(method=scope["method"], path=scope["path"])), True
            return functools.partial(route.handler, runtime, exchange), route.public
        for prefixed in PREFIX_ROUTES:
            if path.startswith(prefixed.prefix) and len(path) > len(prefixed.prefix):
                if prefixed.claims is not None and not prefixed.claims(scope["method"], path[len(prefixed.prefix) :]):
                    continue
                exchange.call.route = prefixed.name
                exchange.errors = prefixed.errors
                exchange.error_headers = prefixed.error_headers
                return functools.partial(prefixed.handler, runtime, exchange, path[len(prefixed.prefix) :]), (
                    prefixed.public
                )
        exchange.errors = errors_outside_routes(path)
        return functools.partial(_refuse, NotFound(method=scope["method"], path=scope["path"])), True

    def _trace(self, exchange: Exchange) -> None:
        assert self.tracing is not None
        record = exchange.call
        provider = self.runtime.providers.get(record.provider)
        status, elapsed, _, _ = exchange.outcome()
        usage = record.notes.usage if record.notes is not None else None
        traceparent = exchange.header(b"traceparent")
        guarded = record.guarded
        trace = RequestRecord(
            record.route,
            record.request_id.decode(),
            record.key_id or "",
            record.requested_model,
            record.model,
            record.provider,
            provider.type if provider is not None else "",
            status,
            record.error_code,
            usage.prompt_tokens if usage else None,
            usage.completion_tokens if usage else None,
            exchange.started,
            exchange.started + elapsed,
            traceparent.decode("latin-1") if traceparent is not None else None,
            (response_cache.HEADER, b"hit") in record.headers_out,
            guarded.ledger_value() if guarded is not None else None,
            tuple(guarded.checks) if guarded is not None else (),
        )
        try:
            self.tracing.record(trace, record.attempt_log or [])
        except Exception:
            log.warning("could not record a trace", exc_info=True)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._start(lifespan=True)
                if self.reload_config is not None:
                    install_reload_signal(self.reload_config, self.swap)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def error_format(path: str) -> ErrorEncoder:
    """The error format of the route (or API) a path belongs to: for answers made before the app
    sees the request (server_protocol.py refuses malformed or slow requests)."""
    path = path[3:] if path.startswith("/v1/") else path  # as `_http` routes it
    route = ROUTES.get(path)
    return route.errors if route is not None else errors_outside_routes(path)


def errors_outside_routes(path: str) -> ErrorEncoder:
    return next((errors for prefix, errors in ERRORS_BY_PREFIX if path.startswith(prefix)), encode_error)


def _method_allowed(scope: Scope, allowed: str) -> bool:
    method = scope["method"]
    return allowed == "ANY" or method == allowed or (allowed == "GET" and method == "HEAD")


async def _refuse(error: GatewayError) -> Answer | ModelCall:
    raise error


def _route_path(scope: Scope) -> str:
    """The path below the mount point (Starlette's `Mount` keeps the full path in `path`)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :] or "/"
    return path


def create_app(
    config: Config | None = None, *, hooks: Iterable[Hook] = (), reload: Callable[[], Config] | None = None
) -> Gateway:
    """The gateway as an ASGI app; with no config, one built from the environment alone.

    `reload`, when given, is called on SIGHUP (while the app's lifespan runs) for a new config.
    """
    if config is None:
        config = load_config(None, os.environ, available_types=PROVIDER_TYPES)
    return Gateway(config, hooks=hooks, reload=reload)
