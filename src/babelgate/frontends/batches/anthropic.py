"""`/v1/messages/batches`: Anthropic's Message Batches API (create, list, retrieve, results, cancel, delete), the
`anthropic` SDK's `client.messages.batches`, in Anthropic's shapes and error format. The requests become a batch
file of `/v1/messages` lines of the caller's, and the same engine runs them (batch_engine/)."""

from __future__ import annotations

import functools
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.answer import Answer, json_answer
from babelgate.errors import InvalidRequest, MethodNotAllowed, NotFound
from babelgate.exchange import Exchange
from babelgate.frontends.batches import jsonl
from babelgate.frontends.batches.files import limit_of, new_file_id, query_of
from babelgate.frontends.batches.openai import cancel_batch, create_batch, owned_batch
from babelgate.frontends.batches.ownership import scope_of, team_of
from babelgate.frontends.batches.streams import paged, streamed
from babelgate.pipeline import parse_json_object
from babelgate.store.batch_records import ENDED, BatchRecord, FileRecord, Outcome

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

CUSTOM_ID: Final = re.compile(r"[a-zA-Z0-9_-]{1,64}")
MAX_REQUESTS: Final = 100_000  # Anthropic's bound on a batch
PAGE: Final = 1000
JSONL_TYPE: Final = (b"content-type", b"application/binary")


def _time(seconds: Any) -> str | None:
    if not isinstance(seconds, int | float):
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def processing_status(status: str) -> str:
    if status in ENDED:
        return "ended"
    return "canceling" if status in ("cancelling", "cancel_finalizing") else "in_progress"


def message_batch(record: BatchRecord, base_url: str) -> dict[str, Any]:
    """Anthropic's `MessageBatch`."""
    shown = processing_status(record.status)
    ended = shown == "ended"
    body = record.body
    return {
        "id": record.id,
        "type": "message_batch",
        "processing_status": shown,
        "request_counts": {
            "processing": 0 if ended else record.total - record.recorded,
            "succeeded": record.succeeded,
            "errored": record.errored,
            "canceled": record.canceled + (record.total - record.recorded if ended else 0),
            "expired": record.expired,
        },
        "ended_at": _time(body.get("ended_at") or body.get("cancelled_at")) if ended else None,
        "created_at": _time(record.created_at),
        "expires_at": _time(record.expires_at),
        "archived_at": None,
        "cancel_initiated_at": _time(body.get("cancel_initiated_at")),
        "results_url": f"{base_url}/v1/messages/batches/{record.id}/results" if ended else None,
    }


def _base_url(exchange: Exchange) -> str:
    """Where the client reached the gateway (its `Host`, the scheme the server saw, the path the gateway is mounted
    under), for the `results_url` the SDK fetches as it is."""
    host = (exchange.header(b"host") or b"localhost").decode("latin-1")
    scope = exchange.scope
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


async def message_batches(runtime: Runtime, exchange: Exchange) -> Answer:
    """`POST /messages/batches` (create) and `GET /messages/batches` (list, newest first: `after_id` pages to older
    batches, `before_id` to newer ones; `has_more` says whether the list goes on in the direction paged)."""
    method = exchange.scope["method"]
    if method == "POST":
        exchange.call.route = "messages.batches.create"
        return await _create(runtime, exchange)
    if method not in ("GET", "HEAD"):
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])
    query = query_of(exchange)
    limit = limit_of(query, 20, 1000)
    after, before = query.get("after_id"), query.get("before_id")
    if after is not None and before is not None:
        raise InvalidRequest("invalid_value", param="before_id", detail="give after_id or before_id, not both")
    scope = scope_of(runtime, exchange.call)
    if before is not None:
        # The page just before `before_id` in the list's order: the batches newer than it, the nearest first
        # (one more tells whether newer ones remain), shown newest first as every page is.
        found = await runtime.batch_store.list_batches(
            scope, "anthropic", after=before, limit=limit + 1, newest_first=False
        )
        page = found[:limit][::-1]
    else:
        found = await runtime.batch_store.list_batches(scope, "anthropic", after=after, limit=limit + 1)
        page = found[:limit]
    base = _base_url(exchange)
    return json_answer(
        {
            "data": [message_batch(record, base) for record in page],
            "has_more": len(found) > limit,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
        }
    )


async def _create(runtime: Runtime, exchange: Exchange) -> Answer:
    fields = parse_json_object(await exchange.read_body(max(runtime.max_body_bytes, runtime.config.files.max_bytes)))
    requests = fields.get("requests")
    if not isinstance(requests, list) or not requests:
        raise InvalidRequest("missing_field", param="requests")
    if len(requests) > min(MAX_REQUESTS, runtime.config.batches.max_lines):
        raise InvalidRequest("invalid_value", param="requests", detail="too many requests for one batch")
    seen: set[str] = set()
    lines = []
    for index, request in enumerate(requests):
        where = f"requests.{index}"
        if not isinstance(request, dict):
            raise InvalidRequest("invalid_value", param=where, detail="not an object")
        custom_id = request.get("custom_id")
        if not isinstance(custom_id, str) or not CUSTOM_ID.fullmatch(custom_id):
            raise InvalidRequest(
                "invalid_value", param=f"{where}.custom_id", detail="1 to 64 of a-z, A-Z, 0-9, _ and -"
            )
        if custom_id in seen:
            raise InvalidRequest("invalid_value", param=f"{where}.custom_id", detail=f"{custom_id!r} is used twice")
        seen.add(custom_id)
        params = request.get("params")
        if not isinstance(params, dict) or not isinstance(params.get("model"), str):
            raise InvalidRequest("invalid_value", param=f"{where}.params", detail="a Messages request naming a model")
        lines.append(
            orjson.dumps({"custom_id": custom_id, "method": "POST", "url": jsonl.MESSAGES_URL, "body": params})
        )
    data = b"\n".join(lines) + b"\n"
    now = int(time.time())
    file = FileRecord(
        new_file_id(),
        exchange.call.key_id,
        team_of(exchange.call),
        "batch",
        "message_batch.jsonl",
        len(data),
        now,
        now + 30 * 86_400,
        len(lines),
    )
    await runtime.file_contents.write(file.id, data)
    await runtime.batch_store.put_file(file)
    record = await create_batch(
        runtime,
        exchange,
        api="anthropic",
        prefix="msgbatch_",
        input_file_id=file.id,
        endpoint=jsonl.MESSAGES_URL,
        body={},
    )
    return json_answer(message_batch(record, _base_url(exchange)))


async def message_batch_resource(runtime: Runtime, exchange: Exchange, rest: str) -> Answer:
    """`GET|DELETE /messages/batches/{id}`, `GET /messages/batches/{id}/results`, `POST …/{id}/cancel`."""
    method = exchange.scope["method"]
    batch_id, _, action = rest.partition("/")
    if not batch_id or action not in ("", "results", "cancel"):
        raise NotFound(method=method, path=exchange.scope["path"])
    allowed = {"": ("GET", "HEAD", "DELETE"), "results": ("GET", "HEAD"), "cancel": ("POST",)}[action]
    if method not in allowed:
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])
    exchange.call.route = f"messages.batches.{action or ('delete' if method == 'DELETE' else 'retrieve')}"
    record = await owned_batch(runtime, exchange, batch_id, "anthropic")
    ended = record.status in ENDED
    if action == "cancel":
        record = await cancel_batch(runtime, record)
    elif action == "results":
        if not ended:
            raise InvalidRequest("batch_not_ended", code="batch_not_ended", batch_id=batch_id, state=record.status)
        results = paged(functools.partial(_results, runtime, record.id))
        return await streamed(await anext(results, b""), results, JSONL_TYPE)
    elif method == "DELETE":
        if not ended:
            raise InvalidRequest("batch_not_ended", code="batch_not_ended", batch_id=batch_id, state=record.status)
        await runtime.batch_store.delete_batch(record.id)
        await runtime.batch_store.delete_file(record.input_file_id)
        await runtime.file_contents.delete(record.input_file_id)
        return json_answer({"id": record.id, "type": "message_batch_deleted"})
    return json_answer(message_batch(record, _base_url(exchange)))


async def _results(runtime: Runtime, batch_id: str, after: int) -> tuple[bytes, int | None]:
    """A page of results after line `after`, and the line the next page follows (None: none is left)."""
    page = await runtime.batch_store.outcomes(batch_id, after, PAGE)
    following = page[-1].line if len(page) == PAGE else None
    return b"".join(result_line(outcome) for outcome in page), following


def result_line(outcome: Outcome) -> bytes:
    """`{custom_id, result: {type: succeeded, message} | {type: errored, error} | {type: canceled|expired}}`."""
    result: dict[str, Any]
    if outcome.kind != "ok":
        result = {"type": outcome.kind}
    elif outcome.succeeded:
        result = {"type": "succeeded", "message": orjson.Fragment(outcome.body)}
    else:
        result = {"type": "errored", "error": orjson.Fragment(outcome.body or b"{}")}
    return orjson.dumps({"custom_id": outcome.custom_id, "result": result}) + b"\n"
