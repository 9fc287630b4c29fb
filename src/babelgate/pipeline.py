"""The one call path every frontend uses, frontend-neutral, top to bottom:
model → deployment → hooks → the frontend's attempt (translate, call the provider, answer) →
accounting (app.py, from what the call path recorded on the call site).

A frontend reads and checks its body, then hands `call` the public model name and an *attempt*:
what to do with one deployment. The call path resolves the model, tells accounting which provider
and model serve it, runs the `on_request` hooks once, and runs the attempt. The router repeats
the attempt for another try or another deployment (routing/), and only while nothing has gone to
the client yet: an attempt answers the client itself, and a streamed one commits to 200 only
with its first frame in hand (`send_stream`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

import orjson

from babelgate import hosted_tools, response_cache, tool_ids
from babelgate.errors import (
    GatewayError,
    InvalidRequest,
    PermissionDenied,
    UnsupportedCapability,
    UpstreamAuthFailed,
    UpstreamRateLimited,
)
from babelgate.exchange import COST_HEADER, Exchange, Headers
from babelgate.frontends.openai_chat import decode_request
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.governance.virtual_keys import VirtualKey
from babelgate.hooks import Hook, RequestContext, observed
from babelgate.observability.tracing import AttemptRecord
from babelgate.providers import key_pool
from babelgate.providers.base import CallNotes
from babelgate.routing.registry import Deployment
from babelgate.schema.chat import ChatRequest
from babelgate.streaming import SSE_HEADERS

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

log = logging.getLogger("babelgate.pipeline")
ADJUSTED_HEADER = b"x-babelgate-adjusted-params"
_SSE_TYPE = SSE_HEADERS[0]
T = TypeVar("T")
# Seconds a call runs before a client's disconnect is watched for (Exchange.watch): answers that
# come sooner pay nothing for the watch.
WATCH_AFTER: Final = 0.1
# What a frontend does with one deployment: translate, call, answer (or return what it answers with).
Attempt = Callable[[Deployment, CallNotes], Awaitable[T]]
# Raises (UnsupportedCapability, InvalidRequest) when a deployment cannot serve the request at all.
Check = Callable[[Deployment], None]


class CallSite(Protocol):
    """Where one call's outcome is recorded for accounting and hooks: the HTTP exchange
    (exchange.py), or one response on a Responses WebSocket."""

    provider: str
    model: str
    notes: CallNotes | None
    context: RequestContext | None
    response_started: bool
    headers_out: Headers
    virtual_key: VirtualKey | None
    requested_model: str
    attempt_log: list[AttemptRecord] | None  # each attempt, for traces; None when they are off
    chunk_hooks: tuple[Hook, ...]  # hooks that see each piece of a stream (set with the context)
    body_size: int  # bytes of the request, for the token estimate of tokens-per-minute limits
    error: GatewayError | None  # what failed it, once it did (the ledger keeps its message)

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
    attempt: Attempt[T],
    *,
    stream: bool,
    check: Check | None = None,
    cache_body: bytes | None = None,
) -> T:
    """Serve `model` with `attempt`; what the attempt returns (or raises) is the answer. A simple
    route (one deployment, nothing to retry or fall back to) is one attempt; any other goes
    through the router, which may repeat the attempt while nothing has reached the client.

    `cache_body`: the request's bytes, from frontends whose answers may be cached (an HTTP
    exchange whose attempt answers the client itself and returns nothing)."""
    site.requested_model = model
    key = site.virtual_key
    if key is not None and not key.allows(model):
        raise PermissionDenied(
            "model_not_allowed", code="model_not_allowed", param="model", model=model, allowed=", ".join(key.models)
        )
    if cache_body is not None:
        assert isinstance(site, Exchange)
        rules = response_cache.policy(
            site, runtime.registry.route(model).cache_ttl, site.route, model, stream, cache_body
        )
        if rules is not None:
            await _cached(runtime, site, rules, model, attempt, stream=stream, check=check)
            return None  # type: ignore[return-value]  # attempts that answer the client return nothing
    return await _governed_or_routed(runtime, site, model, attempt, stream=stream, check=check)


async def _cached(
    runtime: Runtime,
    exchange: Exchange,
    rules: response_cache.CachePolicy,
    model: str,
    attempt: Attempt[T],
    *,
    stream: bool,
    check: Check | None,
) -> None:
    """Answer from the cache, or answer and keep a copy (response_cache.py). A hit still passes
    the hooks' `on_request` (an authentication hook decides for cached answers too), not the
    limits or budgets: it costs no upstream anything."""
    cache = runtime.cache
    if rules.read:
        entry = await cache.get(rules.key)
        if entry is not None:
            exchange.provider, exchange.model = entry.provider, entry.model
            if runtime.hooks:
                context = exchange.context = exchange.hook_context(model, entry.provider, entry.model, stream)
                for hook in runtime.hooks:
                    await hook.on_request(context)
            runtime.metrics.cache_event("hit", model)
            exchange.headers_out += [(response_cache.HEADER, b"hit"), (COST_HEADER, b"0.00000000")]
            await response_cache.replay(exchange, entry)
            return
    runtime.metrics.cache_event("miss", model)
    exchange.headers_out.append((response_cache.HEADER, b"miss"))
    recorder = response_cache.Recorder()
    exchange.send = recorder.wrap(exchange.send)
    await _governed_or_routed(runtime, exchange, model, attempt, stream=stream, check=check)
    notes = exchange.notes
    complete = not stream or (notes is not None and notes.completed)
    if rules.write and recorder.status == 200 and complete and not exchange.error_code and not recorder.too_big:
        await cache.put(
            rules.key,
            response_cache.Entry(200, recorder.headers, recorder.chunks, exchange.provider, exchange.model),
            rules.ttl,
        )
        runtime.metrics.cache_event("store", model)


async def _governed_or_routed(
    runtime: Runtime, site: CallSite, model: str, attempt: Attempt[T], *, stream: bool, check: Check | None
) -> T:
    key = site.virtual_key
    governance = runtime.governance
    if governance.applies(key, model):
        return await _governed(runtime, site, key, model, attempt, stream=stream, check=check)
    return await _routed(runtime, site, model, attempt, stream=stream, check=check)


async def _governed(
    runtime: Runtime,
    site: CallSite,
    key: VirtualKey | None,
    model: str,
    attempt: Attempt[T],
    *,
    stream: bool,
    check: Check | None,
) -> T:
    """Limits and budgets (governance/): refused with 429 before any upstream call, OpenAI's
    `x-ratelimit-*` headers on the answer either way, and settled from real usage at the end."""
    governance = runtime.governance
    ticket = await governance.admit(key, model, site.body_size, site.headers_out)
    try:
        return await _routed(runtime, site, model, attempt, stream=stream, check=check)
    finally:
        try:
            await governance.settle(ticket, site.notes)
        except Exception:  # never the client's problem
            log.exception("could not settle a request's limits and budgets")


async def _routed(
    runtime: Runtime, site: CallSite, model: str, attempt: Attempt[T], *, stream: bool, check: Check | None
) -> T:
    route = runtime.registry.route(model)
    # A client that leaves cancels the attempt in flight and any retry still to come (the app
    # stops watching once the answer is out).
    site.watch(WATCH_AFTER)
    if route.simple:
        while True:
            try:
                return await run_attempt(runtime, site, route.deployments[0], attempt, stream=stream, check=check)
            except (UpstreamAuthFailed, UpstreamRateLimited):
                # That key now rests or is out (key_pool.py); another key of the pool may answer.
                if site.response_started or not key_pool.last_pool_has_free():
                    raise

    def one(deployment: Deployment) -> Awaitable[T]:
        return run_attempt(runtime, site, deployment, attempt, stream=stream, check=check)

    return await runtime.router.run(route, site, one)


async def run_attempt(
    runtime: Runtime,
    site: CallSite,
    deployment: Deployment,
    attempt: Attempt[T],
    *,
    stream: bool,
    check: Check | None = None,
) -> T:
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


async def _counted(runtime: Runtime, deployment: Deployment, attempt: Attempt[T], notes: CallNotes) -> T:
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


async def typed_request(
    runtime: Runtime,
    deployment: Deployment,
    chat: dict[str, Any],
    *,
    stream: bool,
    context: RequestContext | None,
    notes: CallNotes,
    prechecked: bool = False,
) -> ChatRequest:
    """What every frontend that is not OpenAI Chat does with the chat body it translated its
    request into: the model's defaults and overrides, the chat validation, decoding, signed tool
    ids kept with their own provider, hosted tools kept only where the provider has them (what is
    dropped goes into `notes`), and the hooks' `transform_request` (`on_request` ran in `call`).
    A stream always asks for usage: the frontends report it at the end.

    `prechecked` is the caller's promise that its own validation already refused everything the
    chat validation would find in `chat` (the Responses frontend's, for a body built from its
    create body alone). The check is then skipped, unless the model's defaults or overrides
    changed the body: those the frontend's validation has not seen."""
    rewritten = bool(deployment.defaults or deployment.overrides)
    if rewritten:
        deployment.apply_to_body(chat)
    if rewritten or not prechecked:
        validate_chat_body(chat)
    request = decode_request(chat)
    request.stream = request.include_usage = stream
    if not deployment.provider.capabilities.signed_tool_ids:
        request = tool_ids.strip_request(request)
    request = supported_tools(request, deployment, notes)
    if context is not None:
        for hook in runtime.typed_hooks:
            request = await hook.transform_request(context, request)
    return request


def supported_tools(request: ChatRequest, deployment: Deployment, notes: CallNotes) -> ChatRequest:
    return hosted_tools.keep_supported(
        request, deployment.provider.capabilities.hosted_tools, notes, refuse=deployment.refuse_unsupported_tools
    )


async def send_stream(
    exchange: Exchange,
    frames: AsyncIterator[bytes],
    notes: CallNotes,
    *,
    on_error: Callable[[GatewayError, str], bytes],
    content_type: tuple[bytes, bytes] = _SSE_TYPE,
) -> None:
    """Wait for the first frame before committing to 200, so that errors before the first byte
    are ordinary HTTP errors (which the router may still retry) rather than stream events.
    SSE by default; any other streamed type (Ollama's NDJSON) gets the same no-buffering headers.
    `on_error` renders an error after the first frame as the frontend's own stream event."""
    if exchange.chunk_hooks and exchange.context is not None:
        frames = observed(frames, exchange.chunk_hooks, exchange.context)
    try:
        first = await anext(frames)
    except StopAsyncIteration:
        first = b""
    except BaseException:
        await frames.aclose()  # type: ignore[attr-defined]
        raise
    language = exchange.language
    headers = [*SSE_HEADERS[1:], *adjusted_headers(notes)]
    error = await exchange.stream(
        first,
        frames,
        content_type=content_type,
        headers=headers,
        on_error=lambda e: on_error(e, language),
        finished=lambda: notes.completed,
    )
    if error is not None:
        exchange.failed(error)


def adjusted_headers(notes: CallNotes) -> list[tuple[bytes, bytes]]:
    if not notes.adjusted:
        return []
    value = ";".join(notes.adjusted)
    log.debug("parameters adjusted for the upstream: %s", value)
    return [(ADJUSTED_HEADER, value.encode())]
