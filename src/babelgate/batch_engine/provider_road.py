"""Lines a provider's own batch API runs (providers/batch.py's `ProviderBatches`, the `batch` capability): a
chunk's chat and Messages lines whose model routes first to such a provider go there as one provider batch per
provider and upstream model. The provider batch's id is stored in the gateway batch before it is polled, so a
restart polls it again and never submits twice. Outcomes come back as the door's own answers (OpenAI's chat
completion or Anthropic's message, or the door's error: frontends/batches/line_codecs.py), each with a ledger row
that names the batch, priced at the model's `batch_discount`.

Only lines nothing would stop or change take this road: a caller whose rate limits apply, a line a guardrail
covers, a gateway with hooks, all run in the gateway (line.py), where those apply to each line as they do to an
interactive request (docs/decisions.md, "Batch lines"). Budgets are kept on this road too, the key's, its team's and
each line's end customer's (its `user`, or a Messages line's `metadata.user_id`): checked before the provider batch
is sent (a spent one fails its lines as it would fail them in the gateway) and charged with each line's discounted
cost as its answer comes back."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from babelgate.accounting import account
from babelgate.batch_engine.line import owner_of
from babelgate.call import Call
from babelgate.errors import GatewayError, UpstreamError
from babelgate.frontends.batches.line_codecs import CODECS, LineCodec
from babelgate.model_facts import Price
from babelgate.pipeline import end_user_named, name_end_user
from babelgate.providers.base import CallNotes, batches_of
from babelgate.providers.batch import BatchLine, BatchOutcome, ProviderBatches
from babelgate.routing.registry import Deployment
from babelgate.store.batch_records import BatchRecord, Kind, Outcome

if TYPE_CHECKING:
    from babelgate.observability.request_id import RequestIds
    from babelgate.runtime import Runtime

RATES: Final = ("input", "output", "cached_input", "cache_write", "reasoning", "audio_input", "audio_output")


def road_of(runtime: Runtime, batch: BatchRecord, parsed: dict[str, Any]) -> Deployment | None:
    """The deployment whose provider batch API runs this line, or None: the gateway runs it."""
    body = parsed.get("body")
    codec = CODECS.get(str(parsed.get("url")))
    if codec is None or not isinstance(body, dict) or not codec.takes(body) or runtime.hooks:
        return None
    model = body.get("model")
    if not isinstance(model, str):
        return None
    try:
        route = runtime.registry.route(model)
    except GatewayError:
        return None
    deployment = route.deployments[0]
    part = batches_of(deployment.provider)
    if part is None or not part.batches_model(deployment.model):
        return None
    key, refused = owner_of(runtime, batch.owner, batch.body.get("owner_key"))
    if refused is not None:
        return None  # the gateway answers the line with the refusal
    try:
        plan = runtime.governance.applicable(key, model)
        if plan and not runtime.governance.budgets_alone(plan):
            return None  # rate limits apply: each line is admitted in the gateway
    except GatewayError:
        return None  # refused (the model is not the key's): the gateway answers it so
    if runtime.guardrails.active and runtime.guardrails.applicable(key, model):
        return None
    return deployment


def minimum_lines(deployment: Deployment) -> int:
    """The fewest lines the deployment's provider takes in one batch for its model."""
    part = batches_of(deployment.provider)
    return part.minimum_lines(deployment.model) if part is not None else 1


def _batch_name(chunk_number: int, deployment: Deployment) -> str:
    """Where the gateway batch keeps the id of a chunk's provider batch for the deployment's provider and model."""
    return f"provider:{chunk_number}:{deployment.provider.name}:{deployment.model}"


def sent_before(batch: BatchRecord, chunk_number: int, deployment: Deployment) -> bool:
    """Whether an earlier run of the chunk sent its lines for the deployment to the provider (a restart polls that
    batch again: its lines stay on this road, however few are left)."""
    return isinstance(batch.body.get(_batch_name(chunk_number, deployment)), dict)


def discounted(price: Price | None) -> Price | None:
    """The price of a token through the provider's batch API: each rate less its `batch_discount` (0.5: half)."""
    if price is None:
        return None
    share = 1.0 - price.batch_discount
    changes = {name: getattr(price, name) * share for name in RATES if getattr(price, name) is not None}
    return dataclasses.replace(price, **changes)


async def run_provider_batch(
    runtime: Runtime,
    ids: RequestIds,
    batch: BatchRecord,
    chunk_number: int,
    deployment: Deployment,
    url: str,
    lines: list[tuple[int, str, dict[str, Any]]],
    *,
    remember: Callable[[dict[str, Any]], Any],
    stopped: Callable[[], Any],
    record: Callable[[Outcome], Any],
) -> None:
    """Submits (or finds) the provider batch of these lines, polls it until it ends, and records every line."""
    part = batches_of(deployment.provider)
    assert part is not None
    codec = CODECS[url]
    name = _batch_name(chunk_number, deployment)
    by_line = {line: (custom_id, body) for line, custom_id, body in lines}
    known = batch.body.get(name)
    if isinstance(known, dict) and isinstance(known.get("id"), str):
        provider_id: str = known["id"]
    else:
        owner = owner_of(runtime, batch.owner, batch.body.get("owner_key"))[0]
        model = str(lines[0][2].get("model", ""))
        # Each end customer's budgets (and the key's and team's, the same for all), checked once per customer
        # before the batch is sent: a line whose budget is spent fails as the gateway would refuse it.
        spent: dict[str | None, GatewayError | None] = {}
        sent = []
        for line, custom_id, body in lines:
            user = end_user_named(codec.end_user(body))
            if user not in spent:
                try:
                    await runtime.governance.check_budgets(owner, model, user, 0.0)
                    spent[user] = None
                except GatewayError as refused:
                    spent[user] = refused
            refusal = spent[user]
            if refusal is None:
                try:
                    sent.append(BatchLine(str(line), await codec.request(runtime, body, deployment)))
                except GatewayError as refused:  # as the line's interactive request would have been refused
                    refusal = refused
            if refusal is not None:
                await record(_failed(runtime, ids, batch, deployment, codec, line, custom_id, body, refusal))
                del by_line[line]
        if not sent:
            return
        provider_id = await part.submit_batch(deployment.model, sent)
        await remember({name: {"id": provider_id}})
    started = time.perf_counter()
    state = await _polled(part, provider_id, runtime.config.batches.poll_interval, stopped)
    async for outcome in part.batch_results(provider_id):
        try:
            line = int(outcome.custom_id)
        except ValueError:
            continue
        found = by_line.pop(line, None)
        if found is not None:
            custom_id, body = found
            answered, call = _answered(runtime, ids, batch, deployment, codec, line, custom_id, body, outcome, started)
            cost = call.notes.cost if call is not None and call.notes is not None else None
            if call is not None and cost:  # an answered line: its budgets (its end customer's too) pay its cost
                model = call.requested_model or ""
                await runtime.governance.charge_budgets(call.virtual_key, model, call.end_user, cost)
            await record(answered)
    gone: Kind = "canceled" if state == "cancelled" else "expired"
    for line, (custom_id, body) in by_line.items():  # lines the provider never ran
        if state in ("cancelled", "expired"):
            await record(Outcome(line, custom_id, gone))
        else:
            error = UpstreamError(raw_message="the provider's batch ended without this line's result")
            await record(_failed(runtime, ids, batch, deployment, codec, line, custom_id, body, error))


async def _polled(part: ProviderBatches, provider_id: str, interval: float, stopped: Callable[[], Any]) -> str:
    """Polls until the provider batch is no longer running; cancels it once the gateway batch is cancelled."""
    cancelled = False
    while True:
        status = await part.batch_status(provider_id)
        if status.state != "running":
            return status.state
        if not cancelled and await stopped() == "canceled":
            await part.cancel_batch(provider_id)
            cancelled = True
        await asyncio.sleep(interval)


def _call(
    runtime: Runtime,
    ids: RequestIds,
    batch: BatchRecord,
    deployment: Deployment,
    codec: LineCodec,
    body: dict[str, Any],
) -> Call:
    call = Call(codec.route, ids(None), [])
    call.batch_id = batch.id
    call.key_id = batch.owner
    call.virtual_key = owner_of(runtime, batch.owner, batch.body.get("owner_key"))[0]
    call.requested_model = str(body.get("model", ""))
    name_end_user(call, codec.end_user(body))
    call.provider, call.model = deployment.provider.name, deployment.public_name
    call.notes = CallNotes(price=discounted(deployment.price))
    return call


def _answered(
    runtime: Runtime,
    ids: RequestIds,
    batch: BatchRecord,
    deployment: Deployment,
    codec: LineCodec,
    line: int,
    custom_id: str,
    body: dict[str, Any],
    outcome: BatchOutcome,
    started: float,
) -> tuple[Outcome, Call | None]:
    """The line's outcome, and the call of an answered one (its notes hold the cost a budget is charged with)."""
    if outcome.response is None:
        error = outcome.error or UpstreamError(raw_message="the provider gave this line no answer")
        return _failed(runtime, ids, batch, deployment, codec, line, custom_id, body, error), None
    call = _call(runtime, ids, batch, deployment, codec, body)
    assert call.notes is not None
    call.notes.usage = outcome.response.usage
    answer = codec.answer(outcome.response, deployment)
    account(runtime, call, status=200, elapsed=time.perf_counter() - started, ttft=None, streamed=False)
    return Outcome(line, custom_id, "ok", 200, call.request_id.decode(), answer), call


def _failed(
    runtime: Runtime,
    ids: RequestIds,
    batch: BatchRecord,
    deployment: Deployment,
    codec: LineCodec,
    line: int,
    custom_id: str,
    body: dict[str, Any],
    error: GatewayError,
) -> Outcome:
    call = _call(runtime, ids, batch, deployment, codec, body)
    call.failed(error)
    account(runtime, call, status=error.status, elapsed=0.0, ttft=None, streamed=False)
    return Outcome(line, custom_id, "ok", error.status, call.request_id.decode(), codec.error(error))
