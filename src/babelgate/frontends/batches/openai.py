"""`/v1/batches`: OpenAI's Batch API (create, list, retrieve, cancel), the `openai` SDK's `client.batches`. A batch
names an uploaded `batch` file; its lines are cut into chunks when it is created, and the batch engine
(batch_engine/) runs them."""

from __future__ import annotations

import contextlib
import secrets
import time
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.answer import Answer, json_answer
from babelgate.errors import InvalidRequest, MethodNotAllowed, NotFound, PermissionDenied
from babelgate.exchange import Exchange
from babelgate.frontends.batches import jsonl
from babelgate.frontends.batches.files import file_not_found, limit_of, owned_file, query_of
from babelgate.frontends.batches.ownership import scope_of, team_of
from babelgate.frontends.batches.streams import stored_lines
from babelgate.pipeline import parse_json_object
from babelgate.store.batch_records import BatchRecord, Chunk

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

WINDOW: Final = 24 * 3600  # the one completion window OpenAI offers, "24h"
MAX_METADATA: Final = 16
MODELS_CHECKED: Final = 32  # distinct models whose budgets a new batch is checked against
# The engine's own statuses of a batch being finished, as the API shows them.
SHOWN: Final = {"cancel_finalizing": "cancelling"}
STAMPS: Final = (
    "in_progress_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
)


def batch_object(record: BatchRecord) -> dict[str, Any]:
    """OpenAI's `Batch`."""
    body = record.body
    return {
        "id": record.id,
        "object": "batch",
        "endpoint": body.get("endpoint"),
        "errors": body.get("errors"),
        "input_file_id": record.input_file_id,
        "completion_window": body.get("completion_window", "24h"),
        "status": SHOWN.get(record.status, record.status),
        "output_file_id": body.get("output_file_id"),
        "error_file_id": body.get("error_file_id"),
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        **{stamp: body.get(stamp) for stamp in STAMPS},
        "request_counts": {
            "total": record.total,
            "completed": record.succeeded,
            "failed": record.errored + record.expired,
        },
        "metadata": body.get("metadata"),
    }


def batch_not_found(batch_id: str) -> NotFound:
    return NotFound("batch_not_found", code="batch_not_found", param="batch_id", batch_id=batch_id)


async def owned_batch(runtime: Runtime, exchange: Exchange, batch_id: str, api: str) -> BatchRecord:
    record = await runtime.batch_store.get_batch(batch_id)
    if record is None or record.api != api or not scope_of(runtime, exchange.call).sees(record.owner, record.team):
        raise batch_not_found(batch_id)
    return record


async def create_batch(
    runtime: Runtime,
    exchange: Exchange,
    *,
    api: str,
    prefix: str,
    input_file_id: str,
    endpoint: str,
    body: dict[str, Any],
) -> BatchRecord:
    """A batch of the caller's over its file's lines: checked, cut into chunks, stored with them; the engine woken."""
    file = await owned_file(runtime, exchange, input_file_id)
    if file.purpose != "batch":
        raise InvalidRequest("invalid_value", param="input_file_id", detail="the file's purpose is not batch")
    batch_id = f"{prefix}{secrets.token_hex(12)}"
    chunker = jsonl.Chunker(batch_id, endpoint)
    try:
        async for number, begin, end, raw in stored_lines(runtime.file_contents, file.id, runtime.max_body_bytes):
            chunker.feed(number, begin, end, raw)
    except FileNotFoundError:
        raise file_not_found(file.id) from None
    chunks, models = chunker.finish()
    # The owner's budgets, before anything runs: a spent one refuses the batch (each line is admitted again as
    # it runs, and fails with the budget's error once it is spent).
    for model in sorted(models)[:MODELS_CHECKED]:
        # A model the key may not use: its lines are refused one by one, as their requests would be.
        with contextlib.suppress(PermissionDenied):
            await runtime.governance.check_budgets(exchange.call.virtual_key, model, None, 0.0)
    total = chunks[-1].end if chunks else 0
    chunks.append(Chunk(batch_id, len(chunks), total, total, 0, 0))  # the finishing's (store/batch_records.py)
    now = int(time.time())
    record = BatchRecord(
        id=batch_id,
        owner=exchange.call.key_id,
        team=team_of(exchange.call),
        api=api,  # type: ignore[arg-type]
        status="validating",
        created_at=now,
        expires_at=now + WINDOW,
        total=total,
        input_file_id=file.id,
        body=body,
    )
    key = exchange.call.virtual_key
    if key is not None and key.id not in runtime.key_ring.keys and not key.digest:
        # A JWT caller's key, made from its token (its user, team and models; no secret): kept for its lines.
        record.body["owner_key"] = orjson.loads(key.encode())
    await runtime.batch_store.create_batch(record, chunks)
    runtime.batch_wake()
    return record


async def batches(runtime: Runtime, exchange: Exchange) -> Answer:
    """`POST /batches` (create) and `GET /batches` (list, newest first)."""
    method = exchange.scope["method"]
    if method == "POST":
        exchange.call.route = "batches.create"
        fields = parse_json_object(await exchange.read_body(runtime.max_body_bytes))
        input_file_id = fields.get("input_file_id")
        if not isinstance(input_file_id, str) or not input_file_id:
            raise InvalidRequest("missing_field", param="input_file_id")
        endpoint = fields.get("endpoint")
        if endpoint not in jsonl.URLS:
            raise InvalidRequest("invalid_value", param="endpoint", detail=f"must be one of {', '.join(jsonl.URLS)}")
        if fields.get("completion_window") != "24h":
            raise InvalidRequest("invalid_value", param="completion_window", detail="must be 24h")
        metadata = fields.get("metadata")
        if metadata is not None and (
            not isinstance(metadata, dict)
            or len(metadata) > MAX_METADATA
            or not all(isinstance(value, str) for value in metadata.values())
        ):
            raise InvalidRequest("invalid_value", param="metadata", detail="at most 16 string values")
        body = {"endpoint": endpoint, "completion_window": "24h", "metadata": metadata, "errors": None}
        record = await create_batch(
            runtime, exchange, api="openai", prefix="batch_", input_file_id=input_file_id, endpoint=endpoint, body=body
        )
        return json_answer(batch_object(record))
    if method not in ("GET", "HEAD"):
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])
    query = query_of(exchange)
    limit = limit_of(query, 20, 100)
    found = await runtime.batch_store.list_batches(
        scope_of(runtime, exchange.call), "openai", after=query.get("after"), limit=limit + 1
    )
    page = found[:limit]
    return json_answer(
        {
            "object": "list",
            "data": [batch_object(record) for record in page],
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": len(found) > limit,
        }
    )


async def batch_resource(runtime: Runtime, exchange: Exchange, rest: str) -> Answer:
    """`GET /batches/{id}` and `POST /batches/{id}/cancel`."""
    method = exchange.scope["method"]
    cancel = rest.endswith("/cancel")
    batch_id = rest[: -len("/cancel")] if cancel else rest
    if not batch_id or "/" in batch_id:
        raise NotFound(method=method, path=exchange.scope["path"])
    exchange.call.route = "batches.cancel" if cancel else "batches.retrieve"
    if method not in (("POST",) if cancel else ("GET", "HEAD")):
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])
    record = await owned_batch(runtime, exchange, batch_id, "openai")
    if cancel:
        record = await cancel_batch(runtime, record)
    return json_answer(batch_object(record))


async def cancel_batch(runtime: Runtime, record: BatchRecord) -> BatchRecord:
    """Moves a live batch to `cancelling` (the engine starts no more of its lines, and finishes it); a batch being
    cancelled already is answered as it is; an ended one is a 400."""
    store = runtime.batch_store
    if record.status in ("cancelling", "cancel_finalizing", "cancelled"):
        return record
    now = int(time.time())
    if not await store.set_status(
        record.id,
        "cancelling",
        since=("validating", "in_progress"),
        body={"cancelling_at": now, "cancel_initiated_at": now},
    ):
        raise InvalidRequest(
            "batch_not_cancellable", code="batch_not_cancellable", batch_id=record.id, state=record.status
        )
    runtime.batch_wake()
    updated = await store.get_batch(record.id)
    return updated if updated is not None else record
