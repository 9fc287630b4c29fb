"""The conductor, top to bottom (Starlette's request_response, for model calls). `serve` runs one request:
authenticate → the frontend's handler → conduct what it returned → account → `on_complete`, for every sink
(the HTTP exchange, a Responses WebSocket response). A handler reads and checks its request and returns either
an `Answer` (a route that names no model: the admin API, listings, health) or a `ModelCall` (model_call.py: the
public model name and an *attempt*, what to do with one deployment). The pipeline conducts a model call:
model allow-list → cache → admit (limits, budgets) → for each attempt the router picks: the frontend's attempt
(prepare, call the provider, encode) returns an `Answer` → `send` it through the sink (chunk hooks, cache
recording) → settle → store in the cache → the frontend's `after` (store a Responses response, evict a
WebSocket continuation).

The router repeats the attempt for another try or another deployment (routing/); nothing reaches the client
before an attempt has returned, and a streamed answer comes back with its first frame already pulled
(answer.py), so a failure before the first byte is still retried. Frontends never write to the client: the
pipeline alone sends answers (`send`, called from one place), and fires the hooks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

import orjson

from babelgate import response_cache
from babelgate.accounting import account, log_conversation
from babelgate.answer import Answer, Sink, StreamCut
from babelgate.answer_guard import guarded_answer
from babelgate.call import Call
from babelgate.errors import (
    AuthenticationFailed,
    GatewayError,
    GuardrailBlocked,
    InvalidRequest,
    PermissionDenied,
    UnsupportedCapability,
    UpstreamAuthFailed,
    UpstreamRateLimited,
)
from babelgate.exchange import COST_HEADER, ClientGone, Exchange
from babelgate.governance.gateway_keys import credentials, key_beside_signature
from babelgate.governance.refusals import presented_key
from babelgate.governance.sigv4 import signed_by_gateway_key
from babelgate.guardrails.check import Decisions, check, cleared, parallel
from babelgate.guardrails.guardrail import Guardrail
from babelgate.hooks import Completion, notify_chunk, notify_complete, notify_request, observed
from babelgate.identity.bearer import looks_like_jwt
from babelgate.model_call import After, Attempt, Check, ModelCall
from babelgate.observability.tracing import AttemptRecord
from babelgate.providers.base import CallNotes
from babelgate.routing.registry import Deployment
from babelgate.transcript import Transcript

if TYPE_CHECKING:
    from babelgate.governance.virtual_keys import VirtualKey
    from babelgate.runtime import Runtime

log = logging.getLogger("babelgate.pipeline")
# A request that failed on the gateway's side (5xx), or after its answer began: the gateway's own logger, as
# operators filter on it.
requests_log = logging.getLogger("babelgate")
T = TypeVar("T")
# Seconds a call runs before a client's disconnect is watched for (Exchange.watch): answers that
# come sooner pay nothing for the watch.
WATCH_AFTER: Final = 0.1


async def serve(
    runtime: Runtime,
    sink: Sink,
    handle: Callable[[], Awaitable[Answer | ModelCall]],
    *,
    authenticate: bool,
    model_route: bool,
) -> None:
    """One request, top to bottom: authenticate → the frontend's handler (it decodes the request and returns an
    answer, or a model call) → conduct it (a model call: allow-list → cache → admit → attempts → send → settle →
    its `after`; an answer: send) → account → `on_complete`. An error before anything was sent is the answer,
    in the door's format (`sink.send_error`).

    `model_route`: the route names a model in its body: a request refused before it named one still
    leaves a ledger row."""
    record = sink.call
    try:
        if authenticate:
            await identify(runtime, record, sink)
        outcome = await handle()
        if isinstance(outcome, Answer):
            await _conduct(runtime, sink, outcome, None)
        elif outcome.after is None:
            await _conduct(runtime, sink, None, outcome)
        else:
            await _followed(runtime, sink, outcome, outcome.after)
    except GatewayError as error:
        record.failed(error)
        if error.status >= 500 or sink.answered:
            requests_log.warning(
                "%s: %s %s (provider %s, model %s, request %s)",
                record.route or "-",
                error.status,
                record.error_code,
                record.provider or "-",
                record.model or "-",
                record.request_id.decode(),
            )
        elif isinstance(error, (AuthenticationFailed, PermissionDenied)):  # the access checks' refusals
            refused(runtime, sink, error)
        if not sink.answered:
            if record.signature is not None:
                runtime.keys.unsee(record.signature)  # not served: its retry, the same signed bytes, may come
            await sink.send_error(error, [*record.headers_out, *error.headers()])
    except (ClientGone, OSError):  # the client left (uvicorn raises an OSError on send); nothing reaches it
        sink.client_left()
    except asyncio.CancelledError:
        if not sink.disconnected:
            raise
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        sink.client_left()
    except Exception:
        requests_log.exception("unexpected error on %s (request %s)", record.route or "-", record.request_id.decode())
        record.failed(GatewayError())
        if not sink.answered:
            await sink.send_error(GatewayError(), [])
    finally:
        sink.unwatch()
        status, elapsed, ttft, streamed = sink.outcome()
        account(
            runtime,
            record,
            status=status,
            elapsed=elapsed,
            ttft=ttft,
            streamed=streamed,
            model_route=model_route and not record.requested_model,
        )
        logged = record.logged
        if logged is not None:
            log_conversation(runtime, record, logged, status, elapsed, ttft, streamed)
    context = record.context
    if context is not None:
        notes = record.notes
        completion = Completion(
            status,
            elapsed,
            notes.usage if notes else None,
            notes.finish_reason if notes else None,
            record.error_code or None,
        )
        await notify_complete(runtime.hooks, context, completion)


def refused(runtime: Runtime, sink: Sink, error: GatewayError) -> None:
    """Logs a refusal (runtime.refusals: at most a line per client and reason a minute), never the key sent."""
    record = sink.call
    key = presented_key(record.key_id, credentials(record.header, record.query))
    runtime.refusals.refused(sink.peer, error.status, error.label, record.route, key)


async def keys_ready(runtime: Runtime) -> None:
    """Raises 503 when virtual keys may be in use and the key ring could not be read yet."""
    ring = runtime.key_ring
    if not ring.loaded and (ring.unreadable or not await ring.try_refresh()) and runtime.config.server.master_key:
        # Virtual keys may be in use: refuse rather than guess.
        raise GatewayError("store_unavailable", code="store_unavailable", status=503)


async def identify(runtime: Runtime, record: Call, sink: object = None) -> None:
    """Who is calling: a static key's id, a virtual key (its models and limits), or a JWT caller (auth.jwt).
    The key ring is read once before the first request is let through, so a gateway that just started never
    lets in a request a virtual key would have been needed for; while the store is known to be down, requests
    do not wait on it each (its poller reads it). `sink`: the request's HTTP exchange, where a request an AWS
    SDK signed with a virtual key's AWS-style credentials is checked (its body is read for that)."""
    if not runtime.key_ring.loaded:
        await keys_ready(runtime)
    presented = credentials(record.header, record.query)
    try:
        if runtime.jwt is None:
            record.key_id, record.virtual_key = runtime.keys.identify(presented)
        else:
            record.key_id, record.virtual_key = await caller_of(runtime, presented)
    except AuthenticationFailed as refused:
        beside = key_beside_signature(record.header)
        if beside is None:
            authorization = record.header(b"authorization")
            if isinstance(sink, Exchange) and authorization is not None and signed_by_gateway_key(authorization):
                # Looked for only here, after the usual credentials failed: no cost to other requests.
                try:
                    record.key_id, record.virtual_key, record.signature = await runtime.keys.identify_signed(
                        authorization, sink, runtime.max_body_bytes
                    )
                except AuthenticationFailed as wrong:
                    record.key_id = wrong.params.get("key_id")
                    raise
                return
            record.key_id = refused.params.get("key_id")  # a known virtual key's id, never the secret
            if presented is not None and presented[7:].lstrip().startswith(CLIENT_SECRET_PREFIX):
                # A Realtime client secret (frontends/realtime/) opens a session there and nowhere else.
                raise AuthenticationFailed("client_secret_realtime_only", code="invalid_api_key") from None
            raise
        # An AWS SDK signs every request (Claude Code in Bedrock mode); a key the client also sent in
        # `x-api-key` is the one the gateway can check. Looked for only here: no cost to other requests.
        try:
            record.key_id, record.virtual_key = runtime.keys.identify(beside)
        except AuthenticationFailed as also:
            record.key_id = also.params.get("key_id")
            raise


async def caller_of(runtime: Runtime, presented: bytes | None) -> tuple[str | None, VirtualKey | None]:
    """The caller when JWT callers are configured (auth.jwt): a JWT is its user's synthetic virtual key
    (`user:<sub>`, governed like any other; identity/jwt_callers.py), anything else a gateway key."""
    jwt = runtime.jwt
    if jwt is not None and presented is not None and presented[:7].lower() == b"bearer ":
        token = presented[7:].strip()
        if looks_like_jwt(token):
            found = jwt.cached(token) or await jwt.caller(token)
            return found.key.id, found.key
    return runtime.keys.identify(presented)


async def _followed(runtime: Runtime, sink: Sink, job: ModelCall, after: After) -> None:
    """A model call whose frontend has work once it is over: `after` learns how it ended (model_call.After),
    whether its answer went out or the call raised first (that error is still the answer)."""
    try:
        answer = await _conduct(runtime, sink, None, job)
    except GatewayError as error:
        await after(None, error)
        raise
    await after(answer, sink.call.error)


async def _conduct(runtime: Runtime, sink: Sink, answer: Answer | None, job: ModelCall | None) -> Answer:
    """Sends the handler's `answer`, or `job`'s: from the cache, or made by the attempts once the caller's plan
    admits the call, then settled and stored in the cache; returns the answer that was sent. The one place
    answers are sent, whichever way they came. A simple route (one deployment, nothing to retry or fall back
    to) is one attempt; any other goes through the router, which may repeat the attempt (nothing has reached
    the client while it does)."""
    record = sink.call
    governance = runtime.governance
    rules = None
    ticket = None
    guards: tuple[Guardrail, ...] = ()
    transcript = None
    if job is not None:
        model = record.requested_model = job.model
        key = record.virtual_key
        # Before the cache: it serves only callers who may use the model (this raises for the others).
        governing = governance.applicable(key, model)
        if runtime.guardrails.active:
            # Before the cache and the admission too: a blocked request costs nothing and reaches no provider.
            guards = runtime.guardrails.applicable(key, model)
            if job.guardrails:
                guards = runtime.guardrails.adding(guards, job.guardrails)
            if guards:
                await _guard_request(record, job, guards)
        conversations = runtime.conversations
        # After the input guardrails: a blocked request's text reached no model and is not logged.
        if conversations is not None and job.codec is not None and conversations.covers(record.key_id, key):
            transcript = record.logged = Transcript(conversations, job.codec, job.document)
        if job.cache_body is not None:
            route = f"{record.route}/{job.cache_framing}" if job.cache_framing else record.route
            rules = response_cache.policy(
                record, runtime.registry.route(model).cache_ttl, route, model, job.stream, job.cache_body
            )
            if rules is not None and rules.read:
                answer = await _cached(runtime, sink, rules, model, job.stream)
            if answer is not None:
                rules = None  # a hit is not stored again
            elif rules is not None:
                runtime.metrics.cache_event("miss", model)
                record.headers_out.append((response_cache.HEADER, b"miss"))
        if answer is None:
            named = record.header(END_USER_HEADER)
            if named:
                record.end_user = named.decode("utf-8", "replace")[:END_USER_CHARS]
            if governing:
                ticket = await governance.admit(
                    governing, key, model, record.body_size, record.headers_out, record.end_user
                )
    # The parallel input checks (guardrails/check.py, `parallel`), from here on beside the upstream call.
    checking = _parallel_checks(record, job, guards) if guards and runtime.guardrails.parallel else None
    recorder = None
    try:
        if answer is None:
            assert job is not None
            answer = await _routed(
                runtime, sink, job.model, job.attempt, stream=job.stream, check=job.check, fields=job.fields
            )
            if checking is not None:
                await _cleared(checking, answer)
            if record.guarded is not None and job.texts is not None:
                answer = await guarded_answer(answer, job.texts, guards, record.guarded, job.model, record.key_id)
            if job.reframe is not None:
                answer = job.reframe(answer)
            recorder = response_cache.Recorder(answer) if rules is not None and rules.write else None
        elif checking is not None:  # a cached answer waits for them too
            await _cleared(checking, answer)
        if transcript is not None:
            transcript.record(answer)
        await send(runtime, sink, answer)
    finally:
        if checking is not None and not checking.done():
            checking.cancel()  # the upstream failed first: its error is the answer
        if ticket is not None:
            try:
                await governance.settle(ticket, record.notes)
            except Exception:  # never the client's problem
                log.exception("could not settle a request's limits and budgets")
    if recorder is not None and rules is not None and job is not None:
        notes = record.notes
        complete = not job.stream or (notes is not None and notes.completed)
        entry = recorder.entry(record.provider, record.model) if complete and record.error is None else None
        if entry is not None:
            await runtime.cache.put(rules.key, entry, rules.ttl)
            runtime.metrics.cache_event("store", job.model)
    return answer


async def _guard_request(record: Call, job: ModelCall, guards: tuple[Guardrail, ...]) -> None:
    """The request's texts through its guardrails (guardrails/check.py): raises GuardrailBlocked, or masks them
    in the document the attempts read. A masked Body is encoded again, so that every attempt sends the masked
    text, a retry's fresh parse included."""
    decisions = record.guarded = Decisions()
    texts, document = job.texts, job.document
    if texts is None or document is None:
        return
    if isinstance(document, Body) and cleared(guards, "input", document.raw, decisions):
        return
    parsed = document.peek() if isinstance(document, Body) else document
    if await check(guards, "input", parsed, texts.input, decisions, job.model, record.key_id) and isinstance(
        document, Body
    ):
        document.rewrite()


def _parallel_checks(record: Call, job: ModelCall | None, guards: tuple[Guardrail, ...]) -> asyncio.Task[bool] | None:
    """The `parallel` input checks started over the request's texts as they are sent (the other guardrails'
    masks made)."""
    decisions = record.guarded
    if not any(guard.parallel for guard in guards) or job is None or decisions is None:
        return None
    if job.texts is None or job.document is None:
        return None
    parsed = job.document.peek() if isinstance(job.document, Body) else job.document
    return parallel(guards, parsed, job.texts.input, decisions, job.model, record.key_id)


async def _cleared(checking: asyncio.Task[bool], answer: Answer) -> None:
    """Waits for the parallel input checks: a block discards the answer (a stream's upstream is closed unread)
    and is the answer instead."""
    try:
        await checking
    except GuardrailBlocked:
        close = getattr(answer.rest, "aclose", None)
        if close is not None:
            await close()
        raise


# The end customer an application names in a request, for its limits and the ledger (docs/identity.md):
# the OpenAI `user` field, Anthropic's `metadata.user_id`, or this header (which wins when both are sent).
END_USER_HEADER: Final = b"x-babelgate-end-user"
CLIENT_SECRET_PREFIX: Final = b"ek_"
END_USER_CHARS: Final = 256


def name_end_user(record: Call, named: Any) -> None:
    """The end customer a request's body names (a string; anything else names nobody)."""
    if named.__class__ is str and named:
        record.end_user = named[:END_USER_CHARS]


def end_user_named(named: Any) -> str | None:
    """The end customer as `name_end_user` keeps it, or None (a batch line's, checked before its call exists)."""
    return named[:END_USER_CHARS] if named.__class__ is str and named else None


async def send(runtime: Runtime, sink: Sink, answer: Answer) -> None:
    """How every answer goes out (`_conduct` is its one caller): with the call's headers (route, rate limits,
    cache, cost) added, each frame of a stream shown to the hooks that observe chunks (its error event too),
    through the sink."""
    record = sink.call
    headers = [*record.headers_out, *answer.headers]
    cost = answer.notes.cost if answer.notes is not None and answer.rest is None else None
    if cost is not None:  # known before the headers only when not streamed (a stream's usage comes last)
        headers.append((COST_HEADER, b"%.8f" % cost))
    answer.headers = headers
    context = record.context
    hooks = record.chunk_hooks if context is not None else ()
    if hooks and answer.rest is not None:
        assert context is not None
        await notify_chunk(hooks, context, answer.body)
        answer.rest = observed(answer.rest, hooks, context)
    on_error = answer.on_error

    async def last_event(error: GatewayError) -> Any:
        assert on_error is not None, "a stream without an error event"
        event = on_error(error, record.language)
        if hooks:
            assert context is not None
            # The error event is the stream's last piece: hooks that keep the answer see it too.
            await notify_chunk(hooks, context, event)
        return event

    try:
        error = await sink.send_answer(answer, last_event)
    except StreamCut as cut:  # the body is left unfinished: the server drops the connection
        raise cut.error from None
    if error is not None:
        record.failed(error)


async def _cached(
    runtime: Runtime, sink: Sink, rules: response_cache.CachePolicy, model: str, stream: bool
) -> Answer | None:
    """The answer from the cache (response_cache.py), to send. A hit still passes the hooks' `on_request` (an
    authentication hook decides for cached answers too), not the limits or budgets: it costs no
    upstream anything."""
    entry = await runtime.cache.get(rules.key)
    if entry is None:
        return None
    record = sink.call
    record.provider, record.model = entry.provider, entry.model
    if runtime.hooks:
        record.context = record.hook_context(model, entry.provider, entry.model, stream)
        await notify_request(runtime.hooks, record.context)
    runtime.metrics.cache_event("hit", model)
    record.headers_out += [(response_cache.HEADER, b"hit"), (COST_HEADER, b"0.00000000")]
    return response_cache.replay(entry)


async def _routed(
    runtime: Runtime,
    sink: Sink,
    model: str,
    attempt: Attempt,
    *,
    stream: bool,
    check: Check | None,
    fields: Mapping[str, Any] | None = None,
) -> Answer:
    route = runtime.registry.route(model)
    # A client that leaves cancels the attempt in flight and any retry still to come (the app
    # stops watching once the answer is out).
    sink.watch(WATCH_AFTER)
    record = sink.call
    session = None
    affinity = route.policy.affinity
    if affinity is not None:  # off by default: nothing is read for it
        found = affinity.session(fields, record.header, record.key_id, route.public_name)
        if found is not None:
            record.session, session = found.label, found.key
    if route.simple:
        deployment = route.deployments[0]
        while True:
            try:
                return await run_attempt(runtime, record, deployment, attempt, stream=stream, check=check)
            except (UpstreamAuthFailed, UpstreamRateLimited) as error:
                _count_key_verdict(runtime, deployment, error)
                # That key now rests or is out (key_pool.py); another key of the pool may answer.
                if not error.other_key_free:
                    raise

    async def one(deployment: Deployment) -> Answer:
        try:
            return await run_attempt(runtime, record, deployment, attempt, stream=stream, check=check)
        except (UpstreamAuthFailed, UpstreamRateLimited) as error:
            _count_key_verdict(runtime, deployment, error)
            raise

    return await runtime.router.run(route, record.headers_out, sink.watch, one, session)


def _count_key_verdict(
    runtime: Runtime, deployment: Deployment, error: UpstreamAuthFailed | UpstreamRateLimited
) -> None:
    """A key the upstream refused or told to wait (it now rests or is out: key_pool.py), counted by provider
    and model, never by key."""
    event = "key_cooldowns" if isinstance(error, UpstreamRateLimited) else "keys_rejected"
    runtime.metrics.routing_event(event, deployment.provider.name, deployment.public_name)


def run_attempt(
    runtime: Runtime,
    record: Call,
    deployment: Deployment,
    attempt: Attempt,
    *,
    stream: bool,
    check: Check | None = None,
) -> Awaitable[Answer]:
    """One attempt on one deployment (a plain call handing back the attempt's coroutine: no frame of its own
    per request; its callers count a key's refusal). The hooks' `on_request` runs on the first attempt only (a
    request is one request to a hook, however many attempts serve it); on a later attempt their context
    learns the new provider and model."""
    record.provider, record.model = deployment.provider.name, deployment.public_name
    if check is not None:
        check(deployment)
    if runtime.hooks:
        return _hooked_attempt(runtime, record, deployment, attempt, stream)
    return _attempt(record, deployment, attempt)


def _attempt(record: Call, deployment: Deployment, attempt: Attempt) -> Awaitable[Answer]:
    notes = record.notes = CallNotes(price=deployment.price)
    if record.attempt_log is not None:  # traces are on (observability/tracing.py)
        return _logged(record.attempt_log, deployment, attempt(deployment, notes))
    return attempt(deployment, notes)


async def _hooked_attempt(
    runtime: Runtime, record: Call, deployment: Deployment, attempt: Attempt, stream: bool
) -> Answer:
    context = record.context
    if context is None:
        context = record.context = record.hook_context(
            deployment.public_name, deployment.provider.name, deployment.model, stream
        )
        record.chunk_hooks = runtime.chunk_hooks
        await notify_request(runtime.hooks, context)
    else:
        context.model, context.provider = deployment.public_name, deployment.provider.name
        context.upstream_model = deployment.model
    return await _attempt(record, deployment, attempt)


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

    def rewrite(self) -> None:
        """The parsed body was changed before the first attempt (a guardrail's mask): its bytes follow it."""
        assert self._parsed is not None, "rewrite() after take()"
        self.raw = orjson.dumps(self._parsed)

    def take(self) -> dict[str, Any]:
        parsed, self._parsed = self._parsed, None
        return parsed if parsed is not None else parse_json_object(self.raw)
