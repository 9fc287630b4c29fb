"""What is kept of every request once it has ended, whatever carried it (an HTTP exchange, one
response on a Responses WebSocket): its metrics, and a ledger row when it named a model. Both only
append to a buffer; the metrics' collectors and the ledger's rows are built in batches."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from babelgate.governance.ledger import attempts_of
from babelgate.i18n import render_message
from babelgate.observability.metrics import Observation
from babelgate.store.ledger_table import MESSAGE_CHARS

if TYPE_CHECKING:
    from babelgate.call import Call
    from babelgate.errors import GatewayError
    from babelgate.runtime import Runtime
    from babelgate.transcript import Transcript


def account(
    runtime: Runtime,
    record: Call,
    *,
    status: int,
    elapsed: float,
    ttft: float | None,
    streamed: bool,
    model_route: bool = False,
) -> str:
    """Records the request; answers the serving provider's type ("" when none served it).
    `model_route`: a request to a route that names a model, ended before it named one (a wrong
    key, a body that is not JSON): the ledger keeps it too, with no model."""
    notes = record.notes
    usage = notes.usage if notes is not None else None
    # The counts, not the usage: what waits in the ledger's queue holds no object of the answer's (its `extra`
    # holds the upstream's detail objects, ~1 KB a row for 512 rows or, in an outage, up to the queue's limit).
    if usage is not None:
        prompt, completion = usage.prompt_tokens, usage.completion_tokens
        cached, reasoning = usage.cached_tokens or 0, usage.reasoning_tokens or 0
        searches = usage.search_units
    else:
        prompt = completion = cached = reasoning = 0
        searches = None
    provider = runtime.providers.get(record.provider)
    provider_type = provider.type if provider is not None else ""
    route = record.route or "unknown"
    key_id = record.key_id
    error_code = record.error_code
    runtime.metrics.observe(
        Observation(
            route,
            record.provider,
            provider_type,
            record.requested_model,
            record.model,
            status,
            elapsed,
            ttft,
            error_code,
            prompt,
            completion,
            key_id or "",
        )
    )
    guarded = record.guarded
    if guarded is not None:
        runtime.metrics.guardrail_decisions_of(guarded.counted)
    if record.requested_model or model_route:  # a model route (listings, health, metrics are not in the ledger)
        key = record.virtual_key
        headers = record.headers_out
        # The ledger's raw values, in its order (governance/ledger.py builds the row off the request path).
        runtime.ledger.record(
            (
                time.time(),
                record.request_id,
                key_id,
                key.team if key is not None else None,
                route,
                record.requested_model,
                record.provider,
                record.model,
                attempts_of(headers) if headers else 1,
                status,
                error_code,
                prompt,
                completion,
                cached,
                reasoning,
                notes.cost if notes is not None else None,  # worked out once: an answer's cost header has it
                elapsed,
                ttft,
                streamed,
                _message(record.error),
                record.session,
                key.user if key is not None else None,
                record.end_user,
                guarded.actions if guarded is not None else None,  # as JSON in the row (`ledger_value`)
                record.details,
                searches,
                record.batch_id,
            )
        )
    return provider_type


def _message(error: GatewayError | None) -> str | None:
    """A failed request's message for the ledger, as text: the error itself must not wait in the
    ledger's queue, its traceback holds the frames it passed through and what they held (a refused
    128 MiB answer, say). Cut generously here; the writer scrubs secrets, then cuts to MESSAGE_CHARS."""
    return render_message(error)[: MESSAGE_CHARS * 4] if error is not None else None


def log_conversation(
    runtime: Runtime,
    record: Call,
    transcript: Transcript,
    status: int,
    elapsed: float,
    ttft: float | None,
    stream: bool,
) -> None:
    """A logged request's transcript, and what its record says of it, to the conversation log's queue
    (conversation/log.py `Capture`): a tuple, made into an Exchange off the request path."""
    notes = record.notes
    usage = notes.usage if notes is not None else None
    key = record.virtual_key
    vault = record.guarded.vault if record.guarded is not None else None  # reversible masks undone for the client
    transcript.log.capture(
        (
            transcript.codec,
            transcript.document,
            transcript.chunks,
            transcript.cut,
            vault.hide if vault is not None else None,
            record.request_id.decode(),
            time.time() - elapsed,
            record.route,
            record.requested_model,
            record.provider,
            _upstream_model(runtime, record),
            status,
            stream,
            elapsed,
            ttft,
            record.error_code or None,
            record.key_id,
            key.team if key is not None else None,
            key.user if key is not None else None,
            record.end_user,
            record.session,
            usage.prompt_tokens if usage is not None else 0,
            usage.completion_tokens if usage is not None else 0,
            notes.cost if notes is not None else None,
            dict(record.guarded.actions) if record.guarded is not None else {},
        )
    )


def _upstream_model(runtime: Runtime, record: Call) -> str:
    """The model the serving deployment named upstream: the hooks' context knows it; otherwise the deployment of
    the public model on the serving provider."""
    if record.context is not None:
        return record.context.upstream_model or ""
    if not record.provider or not record.model:
        return ""
    try:
        deployments = runtime.registry.route(record.model).deployments
    except Exception:  # the model went in a reload meanwhile
        return ""
    return next((d.model for d in deployments if d.provider.name == record.provider), "")
