"""create_app(config): the ASGI app. Builds the runtime from a config, routes requests, renders errors.

The runtime (runtime.py) is one immutable object; a reload builds a new one and swaps a
reference, so requests in flight finish on the runtime they started with. The app
needs no lifespan to work (it may be mounted inside another app, whose lifespan we never see):
the upstream client is created on first use and the model catalog fills on demand.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, Literal

from babelgate import pipeline, response_cache
from babelgate.answer import Answer
from babelgate.collector import PacedCollector
from babelgate.config.load import load_config
from babelgate.config.models import Config, ProviderConfig, RedisConfig
from babelgate.config.reload import install_reload_signal
from babelgate.cors import Cors
from babelgate.errors import GatewayError, MethodNotAllowed, NotFound
from babelgate.exchange import Exchange, Receive, Scope, Send
from babelgate.frontends import registry as frontends
from babelgate.frontends.openai_errors import encode_error
from babelgate.frontends.openapi import OpenAPIDocument
from babelgate.frontends.responses.wire import response_created_at
from babelgate.frontends.route import ErrorEncoder, PrefixRoute, Route
from babelgate.governance.access_mode import KEYS_CHANGED, RELOADED, ModeLog
from babelgate.governance.admission import Governance
from babelgate.governance.alerts import Alerts
from babelgate.governance.audit import AuditLog
from babelgate.governance.budgets import Budgets
from babelgate.governance.directory import Directory
from babelgate.governance.gateway_keys import GatewayKeys
from babelgate.governance.ledger import Ledger
from babelgate.governance.ledger_spool import spool_for
from babelgate.governance.rate_limits import RateLimiter
from babelgate.governance.refusals import RefusalLog
from babelgate.governance.virtual_keys import KeyRing
from babelgate.hooks import Hook
from babelgate.http import UpstreamClient
from babelgate.http.proxy import Proxy, parse_proxy
from babelgate.http.tls import tls_context
from babelgate.model_call import ModelCall
from babelgate.observability import worker_metrics
from babelgate.observability.logging import REQUEST_ID, Scrubber, secrets_of
from babelgate.observability.metrics import Metrics
from babelgate.observability.request_id import RequestIds
from babelgate.observability.tracing import RequestRecord, Tracing, endpoint_from
from babelgate.providers import PROVIDER_TYPES, TELEMETRY_NAMES, build_provider, key_pool
from babelgate.providers.base import Provider
from babelgate.redis_link import RedisLink
from babelgate.response_cache import ResponseCache
from babelgate.routing.catalog import ModelCatalog
from babelgate.routing.health import Health
from babelgate.routing.pins import Pins
from babelgate.routing.registry import ModelRegistry, RegistryError
from babelgate.routing.router import Router
from babelgate.routing.shared import RedisShared
from babelgate.runtime import Runtime
from babelgate.sealing import SealerSource
from babelgate.store import open_cached_store
from babelgate.store.open import store_address

if TYPE_CHECKING:  # the MCP SDK, PyJWT and `cryptography` load only when configured
    from babelgate.frontends.mcp_endpoint import McpEndpoint
    from babelgate.identity.jwks import Jwks
    from babelgate.identity.jwt_callers import JwtCallers
    from babelgate.identity.oidc import OidcClient
    from babelgate.mcp.servers import McpServers
    from babelgate.mcp.stored import StoredServers

log = logging.getLogger("babelgate")

try:
    VERSION = version("babelgate")
except PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "0.0.0"

REASONING_PURPOSE = b"babelgate reasoning v1"  # bound into every sealed reasoning token
REASONING_SECRET = "reasoning_key"  # the store's name for the generated key


# The tables the app routes by, built from the frontends' declarations (frontends/registry.py). Paths are
# without the optional `/v1` prefix; both spellings reach the same route. Each route's operations are what
# /openapi.json publishes (frontends/openapi.py).
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
    """The ASGI application returned by `create_app`."""

    def __init__(
        self, config: Config, *, hooks: Iterable[Hook] = (), reload: Callable[[], Config] | None = None
    ) -> None:
        self.reload_config = reload
        # `babelgate serve` paces the garbage collector by the clock (collector.py); a host app that
        # mounts the gateway keeps its own collector settings.
        self.collector: PacedCollector | None = None
        # Set at start (a reload keeps the pool it has).
        self.client = UpstreamClient(max_connections=config.server.max_upstream_connections)
        self.metrics = Metrics(TELEMETRY_NAMES, OPERATIONS)
        if os.environ.get(worker_metrics.ENV):  # `serve --workers N`: /metrics sums every worker
            self.metrics.share_with_workers(os.environ[worker_metrics.ENV])
        # Deployments' health outlives a reload: a dead upstream stays skipped under the new config.
        self.health = Health()
        self.health.on_circuit = self._circuit_changed
        # Sessions pinned to deployments (routing.affinity) outlive a reload too, as their caches do.
        self.pins = Pins()
        # One Redis pool and breaker for every use of shared state (redis_link.py), and the circuits
        # and resting keys shared with other instances (started with the event loop).
        self.redis: RedisLink | None = None
        self.shared: RedisShared | None = None
        if config.redis is not None:
            self.redis = self._redis_link(config.redis)
            self.shared = RedisShared(self.redis, self.health, prefix=config.redis.prefix, pins=self.pins)
        self.request_ids = RequestIds()
        # Traces when an OTLP endpoint is configured (observability/tracing.py); None costs nothing.
        endpoint = endpoint_from(config.telemetry.otlp_endpoint, os.environ)
        telemetry = config.telemetry
        self.tracing = (
            Tracing(
                endpoint,
                service_name=telemetry.service_name,
                sample_ratio=telemetry.sample_ratio,
                export_interval=telemetry.export_interval,
                telemetry_names=TELEMETRY_NAMES,
                operations=OPERATIONS,
            )
            if endpoint
            else None
        )
        self.hooks = tuple(hooks)
        self.created = int(time.time())
        self.started_monotonic = time.monotonic()
        self._background: set[asyncio.Task[None]] = set()
        self._background_started = False
        self.store = config.store  # reopened on reload when it changes
        self.response_store = open_cached_store(
            config.store.url, made_at=response_created_at, timeout=config.store.timeout
        )
        self.key_ring = self._key_ring()  # virtual keys, kept in the store
        # Whether the gateway is open or requires a key, logged at start and when it changes (access_mode.py);
        # `listening`: the address it serves on, when it knows (`babelgate serve` says; a host app may not).
        self.mode_log = ModeLog()
        self.listening: str | None = None
        self.refusals = RefusalLog()  # 401s and 403s, a line per client and reason a minute
        self.directory = Directory(self.response_store)  # users and teams, kept in the store
        self.audit = AuditLog(self.response_store)
        self.alerts = Alerts(self.response_store, self.redis)
        self.ledger = self._ledger(config)  # one row per request, in batches
        # Limits and budgets: exact across instances through Redis when configured.
        self.limiter = RateLimiter(self.redis, prefix=config.redis.prefix if config.redis else "babelgate:")
        self.budgets = self._budgets(config)
        self.cache = ResponseCache(
            max_entries=config.cache.max_entries,
            redis=self.redis,
            prefix=config.redis.prefix if config.redis else "babelgate:",
        )
        self.sealer_source: SealerSource | None = None
        self.jwks: Jwks | None = None  # auth.jwt's key set, kept across reloads while its source stays
        # Upstream MCP servers (mcp/), kept across reloads (their connections stay open); the SDK loads
        # only when some are configured.
        self.mcp_servers: McpServers | None = None
        # The servers the admin API keeps in the store, kept in step on every instance (mcp/stored.py).
        self.stored_mcp: StoredServers | None = None
        self.mcp_endpoint: McpEndpoint | None = None
        self._mcp_servers_for(config)
        self.runtime = self.build_runtime(config)

    def build_runtime(self, config: Config) -> Runtime:
        """Raises ValueError (with the key path) when providers or aliases do not fit together."""
        providers: dict[str, Provider] = {}
        for name, provider_config in config.providers.items():
            try:
                self._network(name, provider_config)
                providers[name] = build_provider(name, provider_config, config.server, self.client)
            except ValueError as exc:
                raise ValueError(
                    f"providers.{name}.{exc}" if str(exc).startswith(("tls.", "proxy")) else f"providers.{name}: {exc}"
                ) from None

        def variant(name: str, changes: dict[str, Any]) -> Provider:
            return build_provider(name, config.providers[name].model_copy(update=changes), config.server, self.client)

        try:
            registry = ModelRegistry(config, providers, variant)
        except RegistryError as exc:
            raise ValueError(f"{exc.path}: {exc}") from None
        cooldown = config.routing.key_cooldown or key_pool.DEFAULT_COOLDOWN
        for name in providers:
            for pool in key_pool.pools_of(name):
                pool.cooldown = cooldown
        ttls = {name: p.models_cache_ttl for name, p in config.providers.items()}
        key = config.responses.reasoning_key
        if self.sealer_source is None or not self.sealer_source.same_source(self.response_store, key):
            self.sealer_source = SealerSource(
                self.response_store, key, purpose=REASONING_PURPOSE, secret_name=REASONING_SECRET
            )
        self.directory.configure(config)
        self.alerts.configure(config)
        return Runtime(
            config=config,
            providers=providers,
            registry=registry,
            router=Router(registry, self.health, self.metrics, self.pins),
            catalog=ModelCatalog(providers, ttls),
            keys=GatewayKeys(config.server.api_keys, self.key_ring, required=config.auth.jwt is not None),
            key_ring=self.key_ring,
            governance=Governance(config, self.limiter, self.budgets, self.directory, self.alerts),
            directory=self.directory,
            audit=self.audit,
            alerts=self.alerts,
            ledger=self.ledger,
            cache=self.cache,
            hooks=self.hooks,
            typed_hooks=tuple(h for h in self.hooks if h.needs_typed_request),
            chunk_hooks=tuple(h for h in self.hooks if h.observes_chunks),
            metrics=self.metrics,
            response_store=self.response_store,
            reasoning_sealer=self.sealer_source,
            max_body_bytes=config.server.max_body_bytes,
            version=VERSION,
            created=self.created,
            cors=Cors(config.server.cors) if config.server.cors is not None else None,
            started_monotonic=self.started_monotonic,
            refusals=self.refusals,
            jwt=self._jwt_callers(config),
            oidc=self._oidc_client(config),
            mcp_servers=self.mcp_servers,
            credential_problems=credential_problems(providers),
        )

    @staticmethod
    def _oidc_client(config: Config) -> OidcClient | None:
        if config.auth.oidc is None:
            return None
        from babelgate.identity.oidc import OidcClient

        return OidcClient(config.auth.oidc)

    def _jwt_callers(self, config: Config) -> JwtCallers | None:
        settings = config.auth.jwt
        old = self.jwks
        if settings is None:
            self.jwks = None
        elif old is None or (old.issuer, old.configured_url) != (settings.issuer, settings.jwks_url):
            from babelgate.identity.jwks import Jwks

            self.jwks = Jwks(
                settings.issuer, settings.jwks_url, refresh=settings.refresh, min_refresh=settings.min_refresh
            )
        if old is not None and old is not self.jwks and self._background_started:
            self._in_background(old.close())
        if self.jwks is not None and old is not self.jwks and self._background_started:
            self.jwks.start()
        if settings is None or self.jwks is None:
            return None
        from babelgate.identity.jwt_callers import JwtCallers

        oidc = config.auth.oidc
        return JwtCallers(
            settings,
            self.jwks,
            roles=oidc.roles if oidc is not None else None,
            teams=config.teams,
            directory=self.directory,
        )

    def _mcp_servers_for(self, config: Config) -> None:
        """The MCP registry follows the config: servers added, changed or gone (a reload)."""
        if config.mcp_servers is None and self.mcp_servers is None:
            return
        servers = self._mcp_registry()
        wanted = {server.name: server for server in config.mcp_servers or ()}
        current = {server.name: server for server in servers.configs()}
        for name, server in wanted.items():
            if current.get(name) != server:
                servers.add(server)
        old = (self.runtime.config.mcp_servers or ()) if hasattr(self, "runtime") else ()
        for server in old:  # a server the old file had and the new one has not (not one added by the API)
            if server.name not in wanted and server.name in current:
                self._in_background(servers.remove(server.name))

    def _mcp_registry(self) -> McpServers:
        if self.mcp_servers is None:
            from babelgate.frontends.mcp_endpoint import McpEndpoint
            from babelgate.mcp.servers import McpServers

            self.mcp_servers = McpServers()
            self.mcp_endpoint = McpEndpoint(self.mcp_servers, lambda: self.runtime, version=VERSION)
            if hasattr(self, "runtime"):
                self.runtime = dataclasses.replace(self.runtime, mcp_servers=self.mcp_servers)
        return self.mcp_servers

    def _stored_mcp_for(self, config: Config) -> None:
        """With MCP on, the servers the admin API keeps in the store are this instance's too: read now, then
        polled (a server added or removed through another instance reaches this one within the poll)."""
        if config.mcp_servers is None or not self._background_started:
            return
        if self.stored_mcp is None:
            from babelgate.mcp.stored import StoredServers

            self.stored_mcp = StoredServers(
                self.response_store,
                self._mcp_registry,
                lambda: {server.name for server in self.runtime.config.mcp_servers or ()},
                os.environ,
            )
            self.stored_mcp.start()
        elif self.stored_mcp.store is not self.response_store:  # a reload moved the store
            self.stored_mcp.store, self.stored_mcp.version = self.response_store, -1
        self._in_background(self._refresh_stored_mcp())

    async def _refresh_stored_mcp(self) -> None:
        if self.stored_mcp is not None:
            await self.stored_mcp.try_refresh()

    def _key_ring(self) -> KeyRing:
        ring = KeyRing(self.response_store)
        ring.on_change = functools.partial(self._access_changed, KEYS_CHANGED)
        return ring

    def _access_changed(self, why: str) -> None:
        """Logs the access mode when it moved (access_mode.ModeLog decides): at the first read of the keys,
        when a key is created or the last live one revoked (here or by another gateway sharing the store),
        and on a reload."""
        runtime = self.runtime
        self.mode_log.note(runtime.keys.mode(), why, store_address(runtime.config.store.url), self.listening)

    async def _read_keys(self) -> None:
        """The first read of the virtual keys, at start rather than a poll later: the access mode is then
        known (and logged) before the first request."""
        await self.key_ring.try_refresh()

    def _budgets(self, config: Config) -> Budgets:
        return Budgets(self.response_store, self.redis, prefix=config.redis.prefix if config.redis else "babelgate:")

    def _redis_link(self, config: RedisConfig) -> RedisLink:
        link = RedisLink(config.url, max_connections=config.max_connections, timeout=config.timeout)
        self.metrics.redis_up.set(1)
        link.on_change = self.metrics.redis_up.set
        return link

    def _ledger(self, config: Config) -> Ledger:
        settings = config.ledger
        return Ledger(
            self.response_store,
            limit=settings.queue_limit,
            retention=settings.retention,
            scrub=Scrubber(secrets_of(config)),
            spool=spool_for(config.store.url, settings.spool_dir),
        )

    def _network(self, name: str, provider: ProviderConfig) -> None:
        """The provider's own TLS and proxy settings, given to the upstream client (http/)."""
        tls = None
        if provider.tls is not None:
            settings = provider.tls
            tls = tls_context(
                provider=name,
                verify=settings.verify,
                ca_bundle=settings.ca_bundle,
                client_cert=settings.client_cert,
                client_key=settings.client_key,
            )
        proxy: Proxy | Literal["env"] | None = "env"
        if provider.proxy is not None:
            try:
                proxy = None if provider.proxy.lower() in ("none", "off", "") else parse_proxy(provider.proxy)
            except ValueError as exc:
                raise ValueError(f"proxy: {exc}") from None
        self.client.configure(name, tls=tls, proxy=proxy)

    def _circuit_changed(self, deployment: str, state: str) -> None:
        self.alerts.circuit_changed(deployment, state)
        self.metrics.circuit(deployment, state == "open")
        if state == "open":
            log.warning("deployment %s failed repeatedly: skipped until its cool-down ends", deployment)
        else:
            log.info("deployment %s answers again", deployment)

    def swap(self, config: Config) -> None:
        """Serve `config` from now on; requests in flight keep the runtime they started with."""
        self._mcp_servers_for(config)
        old = self.runtime
        old_store = self.response_store
        if config.store != self.store:
            self.store = config.store
            self.response_store = open_cached_store(
                config.store.url, made_at=response_created_at, timeout=config.store.timeout
            )
            old_ring, self.key_ring = self.key_ring, self._key_ring()
            old_directory, self.directory = self.directory, Directory(self.response_store)
            old_audit, self.audit = self.audit, AuditLog(self.response_store)
            self.alerts.store = self.response_store
            self.directory.start()
            self._in_background(old_directory.close())
            self._in_background(old_audit.close())
            old_ledger, self.ledger = self.ledger, self._ledger(config)
            self.budgets = self._budgets(config)
            self.key_ring.start()
            self._in_background(old_ring.close())
            self._in_background(old_ledger.close())
        self.runtime = self.build_runtime(config)
        self._access_changed(RELOADED)
        self.runtime.catalog.start()
        self._stored_mcp_for(config)
        self._in_background(old.catalog.close())
        if old_store is not self.response_store:
            self._in_background(old_store.close())

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)  # a task nobody references may be collected before it ends
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        """Release the upstream connection pool and background tasks. The gateway's own lifespan
        does this; an app that mounts the gateway calls it from its own shutdown."""
        if self.shared is not None:
            await self.shared.close()
        await self.key_ring.close()
        await self.directory.close()
        await self.audit.close()
        await self.alerts.close()
        if self.stored_mcp is not None:
            await self.stored_mcp.close()
        if self.mcp_endpoint is not None:
            await self.mcp_endpoint.aclose()
        if self.mcp_servers is not None:
            await self.mcp_servers.aclose()
        if self.jwks is not None:
            await self.jwks.close()
        if self.redis is not None:
            await self.redis.close()
        await self.ledger.close()  # before the store closes: the last rows go in
        if self.metrics.workers is not None:
            await self.metrics.workers.close()
        await self.runtime.catalog.close()
        await self.response_store.close()
        await self.client.close()
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.close)  # exports the spans left
        if self.collector is not None:
            self.collector.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            if not self._background_started:
                self._start_background()
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

    def _start_background(self) -> None:
        """What runs beside the requests: at startup, or on the first request (of any kind) when the
        gateway is mounted without our lifespan."""
        self._background_started = True
        self.key_ring.start()
        self._in_background(self._read_keys())
        self.directory.start()
        self.alerts.start(lambda: self.key_ring.keys.values())
        self._stored_mcp_for(self.runtime.config)
        if self.jwks is not None:
            self.jwks.start()  # the identity provider's keys, read now and then every `refresh` seconds
        self.ledger.start()  # rows spooled at the last shutdown go to the store now, not at the first request
        if self.shared is not None:
            self.shared.start()

    def _http(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The request's service, handed back to `__call__` to await (a plain call: no frame of its own per request)."""
        if not self._background_started:
            self._start_background()
        runtime = self.runtime
        path = _route_path(scope)
        if self.mcp_endpoint is not None and self.mcp_endpoint.claims(path):
            return self.mcp_endpoint.serve(path, scope, receive, send)
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
        )
        try:
            self.tracing.record(trace, record.attempt_log or [])
        except Exception:
            log.warning("could not record a trace", exc_info=True)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.runtime.catalog.start()
                if self.metrics.workers is not None:
                    self.metrics.workers.start()
                self._start_background()
                if self.reload_config is not None:
                    install_reload_signal(self.reload_config, self.swap)
                if self.collector is not None:
                    self.collector.start()
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


def credential_problems(providers: dict[str, Provider]) -> dict[str, str]:
    """Each provider's word on the credentials it can check at load (a missing file, a key that does not
    parse): the gateway still serves the others, `/health` is degraded and `check-config` fails."""
    problems = {name: provider.credentials_problem() for name, provider in providers.items()}
    found = {name: problem for name, problem in problems.items() if problem is not None}
    for name, problem in found.items():
        log.warning("provider %s: %s", name, problem)
    return found


def create_app(
    config: Config | None = None, *, hooks: Iterable[Hook] = (), reload: Callable[[], Config] | None = None
) -> Gateway:
    """The gateway as an ASGI app; with no config, one built from the environment alone.

    `reload`, when given, is called on SIGHUP (while the app's lifespan runs) for a new config.
    """
    if config is None:
        config = load_config(None, os.environ, available_types=PROVIDER_TYPES)
    return Gateway(config, hooks=hooks, reload=reload)
