"""The conductor: the one call path every frontend uses, frontend-neutral, top to bottom:
model allow-list → cache → admit (limits, budgets) → for each attempt the router picks: the frontend's
attempt (prepare, call the provider, encode) returns an `Answer` → send it through the sink (chunk
hooks, cache recording) → settle. Accounting and `on_complete` follow from what it recorded on the call
site (app.py, the Responses WebSocket).

A frontend reads and checks its body, then hands `call` the public model name and an *attempt*: what
to do with one deployment, returning the answer. The router repeats the attempt for another try or
another deployment (routing/); nothing reaches the client before an attempt has returned, and a
streamed answer comes back with its first frame already pulled (answer.py), so a failure before the
first byte is still retried. The pipeline alone sends answers, and fires the hooks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

import orjson

from babelgate import response_cache
from babelgate.answer import Answer, Headers, Sink
from babelgate.errors import (
    GatewayError,
    InvalidRequest,
    PermissionDenied,
    UnsupportedCapability,
    UpstreamAuthFailed,
    UpstreamRateLimited,
)
from babelgate.exchange import COST_HEADER, Exchange
from babelgate.governance.virtual_keys import VirtualKey
from babelgate.hooks import Hook, RequestContext, notify_chunk, observed
from babelgate.observability.tracing import AttemptRecord
from babelgate.providers.base import CallNotes
from babelgate.routing.registry import Deployment

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

log = logging.getLogger("babelgate.pipeline")
T = TypeVar("T")
# Seconds a call runs before a client's disconnect is watched for (Exchange.watch): answers that
# come sooner pay nothing for the watch.
WATCH_AFTER: Final = 0.1
# What a frontend does with one deployment: prepare, call the provider, encode; returns the answer.
Attempt = Callable[[Deployment, CallNotes], Awaitable[Answer]]
# Raises (UnsupportedCapability, InvalidRequest) when a deployment cannot serve the request at all.
Check = Callable[[Deployment], None]


class CallSite(Sink, Protocol):
    """Where one call's outcome is recorded for accounting and hooks, and its answer sent: the HTTP
    exchange (exchange.py), or one response on a Responses WebSocket."""

    provider: str
    model: str
    notes: CallNotes | None
    context: RequestContext | None
    headers_out: Headers
    virtual_key: VirtualKey | None
    requested_model: str
    attempt_log: list[AttemptRecord] | None  # each attempt, for traces; None when they are off
    chunk_hooks: tuple[Hook, ...]  # hooks that see each piece of a stream (set with the context)
    body_size: int  # bytes of the request, for the token estimate of tokens-per-minute limits
    error: GatewayError | None  # what failed it, once it did (the ledger keeps its message)

    @property
    def language(self) -> str: ...

    def hook_context(self, model: str, provider: str, upstream_model: str, stream: bool) -> RequestContext:
        """What the hooks see of this request."""
        ...

    def watch(self, after: float = 0.0) -> None:
        """Until `unwatch`, the client's leaving cancels the call (from `after` seconds on; a no-op
        where something else does)."""
        ...

    def unwatch(self) -> None: ...

    def failed(self, error: GatewayError) -> None:
        """The call ended with `error`."""
        ...


async def call(
    runtime: Runtime,
    site: CallSite,
    model: str,
    attempt: Attempt,
    *,
    stream: bool,
    check: Check | None = None,
    cache_body: bytes | None = None,
) -> Answer:
    """Serve `model` with `attempt` and send its answer; returns the answer that was sent. A simple
    route (one deployment, nothing to retry or fall back to) is one attempt; any other goes through
    the router, which may repeat the attempt (nothing has reached the client while it does).

    `cache_body`: the request's bytes, from frontends whose answers may be cached (response_cache.py)."""
    site.requested_model = model
    key = site.virtual_key
    if key is not None and not key.allows(model):
        raise PermissionDenied(
            "model_not_allowed", code="model_not_allowed", param="model", model=model, allowed=", ".join(key.models)
        )
    rules = None
    if cache_body is not None:
        assert isinstance(site, Exchange)  # the cache keys on HTTP headers
        rules = response_cache.policy(
            site, runtime.registry.route(model).cache_ttl, site.route, model, stream, cache_body
        )
        if rules is not None and rules.read:
            hit = await _cached(runtime, site, rules, model, stream)
            if hit is not None:
                return hit
        if rules is not None:
            runtime.metrics.cache_event("miss", model)
            site.headers_out.append((response_cache.HEADER, b"miss"))
    governance = runtime.governance
    ticket = (
        await governance.admit(key, model, site.body_size, site.headers_out) if governance.applies(key, model) else None
    )
    try:
        answer = await _routed(runtime, site, model, attempt, stream=stream, check=check)
        recorder = response_cache.Recorder(answer) if rules is not None and rules.write else None
        await send(runtime, site, answer)
    finally:
        if ticket is not None:
            try:
                await governance.settle(ticket, site.notes)
            except Exception:  # never the client's problem
                log.exception("could not settle a request's limits and budgets")
    if recorder is not None and rules is not None:
        notes = site.notes
        complete = not stream or (notes is not None and notes.completed)
        entry = recorder.entry(site.provider, site.model) if complete and site.error is None else None
        if entry is not None:
            await runtime.cache.put(rules.key, entry, rules.ttl)
            runtime.metrics.cache_event("store", model)
    return answer


async def send(runtime: Runtime, site: CallSite, answer: Answer) -> None:
    """The one place answers go out: through the site's sink, each frame of a stream shown to the hooks
    that observe chunks (its error event too)."""
    context = site.context
    hooks = site.chunk_hooks if context is not None else ()
    if hooks and answer.rest is not None:
        assert context is not None
        await notify_chunk(hooks, context, answer.body)
        answer.rest = observed(answer.rest, hooks, context)
    on_error = answer.on_error
    language = site.language

    async def last_event(error: GatewayError) -> Any:
        assert on_error is not None, "a stream without an error event"
        event = on_error(error, language)
        if hooks:
            assert context is not None
            # The error event is the stream's last piece: hooks that keep the answer see it too.
            await notify_chunk(hooks, context, event)
        return event

    error = await site.send_answer(answer, last_event)
    if error is not None:
        site.failed(error)


async def _cached(
    runtime: Runtime, exchange: Exchange, rules: response_cache.CachePolicy, model: str, stream: bool
) -> Answer | None:
    """Answer from the cache (response_cache.py). A hit still passes the hooks' `on_request` (an
    authentication hook decides for cached answers too), not the limits or budgets: it costs no
    upstream anything."""
    entry = await runtime.cache.get(rules.key)
    if entry is None:
        return None
    exchange.provider, exchange.model = entry.provider, entry.model
    if runtime.hooks:
        context = exchange.context = exchange.hook_context(model, entry.provider, entry.model, stream)
        for hook in runtime.hooks:
            await hook.on_request(context)
    runtime.metrics.cache_event("hit", model)
    exchange.headers_out += [(response_cache.HEADER, b"hit"), (COST_HEADER, b"0.00000000")]
    answer = response_cache.replay(entry)
    await send(runtime, exchange, answer)
    return answer


async def _routed(
    runtime: Runtime, site: CallSite, model: str, attempt: Attempt, *, stream: bool, check: Check | None
) -> Answer:
    route = runtime.registry.route(model)
    # A client that leaves cancels the attempt in flight and any retry still to come (the app
    # stops watching once the answer is out).
    site.watch(WATCH_AFTER)
    if route.simple:
        while True:
            try:
                return await run_attempt(runtime, site, route.deployments[0], attempt, stream=stream, check=check)
            except (UpstreamAuthFailed, UpstreamRateLimited) as error:
                # That key now rests or is out (key_pool.py); another key of the pool may answer.
                if not error.other_key_free:
                    raise

    def one(deployment: Deployment) -> Awaitable[Answer]:
        return run_attempt(runtime, site, deployment, attempt, stream=stream, check=check)

    return await runtime.router.run(route, site.headers_out, site.watch, one)


async def run_attempt(
    runtime: Runtime,
    site: CallSite,
    deployment: Deployment,
    attempt: Attempt,
    *,
    stream: bool,
    check: Check | None = None,
) -> Answer:
    """One attempt on one deployment. The hooks' `on_request` runs on the first attempt only (a
    request is one request to a hook, however many attempts serve it); on a later attempt their
    context learns the new provider and model."""
    site.provider, site.model = deployment.provider.name, deployment.public_name
    if check is not None:
        check(deployment)
    if runtime.hooks:
        context = site.context
        if context is None:
            context = site.context = site.hook_context(
                deployment.public_name, deployment.provider.name, deployment.model, stream
            )
            site.chunk_hooks = runtime.chunk_hooks
            for hook in runtime.hooks:
                await hook.on_request(context)
        else:
            context.model, context.provider = deployment.public_name, deployment.provider.name
            context.upstream_model = deployment.model
    notes = site.notes = CallNotes(price=deployment.price)
    if site.attempt_log is not None:  # traces are on (observability/tracing.py)
        return await _logged(site.attempt_log, deployment, _counted(runtime, deployment, attempt, notes))
    return await _counted(runtime, deployment, attempt, notes)


async def _counted(runtime: Runtime, deployment: Deployment, attempt: Attempt, notes: CallNotes) -> Answer:
    try:
        return await attempt(deployment, notes)
    except UpstreamRateLimited:
        # The key it went with now rests (key_pool.py): counted by provider and model, never by key.
        runtime.metrics.routing_event("key_cooldowns", deployment.provider.name, deployment.public_name)
        raise
    except UpstreamAuthFailed:
        runtime.metrics.routing_event("keys_rejected", deployment.provider.name, deployment.public_name)
        raise


async def _logged(log_: list[AttemptRecord], deployment: Deployment, attempt: Awaitable[T]) -> T:
    """The attempt, timed and its outcome kept for the request's trace."""
    provider = deployment.provider
    started = time.perf_counter()
    outcome = "ok"
    try:
        return await attempt
    except GatewayError as error:
        outcome = error.label
        raise
    except BaseException as error:
        outcome = "cancelled" if isinstance(error, asyncio.CancelledError) else "internal_error"
        raise
    finally:
        log_.append(
            AttemptRecord(
                provider.name,
                getattr(provider, "type", ""),
                deployment.model,
                deployment.label,
                started,
                time.perf_counter(),
                outcome,
            )
        )


def require(capable: bool, deployment: Deployment, capability: str) -> None:
    """A provider without the capability is refused before any upstream call."""
    if not capable:
        raise UnsupportedCapability(provider=deployment.provider.name, capability=capability, param="model")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest("invalid_json", detail=str(exc).split(":")[0]) from None
    if not isinstance(body, dict):
        raise InvalidRequest("body_not_object")
    return body


class Body:
    """A JSON request body that attempts may change (a deployment's defaults and overrides, plain
    tool ids, the upstream's model name): the first attempt gets the body as parsed, every later
    one a fresh parse of the same bytes, so nothing one deployment needed reaches the next."""

    __slots__ = ("_parsed", "raw")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._parsed: dict[str, Any] | None = parse_json_object(raw)

    def peek(self) -> dict[str, Any]:
        """The body as the client sent it, to read before the first attempt (never to change)."""
        assert self._parsed is not None, "peek() after take()"
        return self._parsed

    def take(self) -> dict[str, Any]:
        parsed, self._parsed = self._parsed, None
        return parsed if parsed is not None else parse_json_object(self.raw)
