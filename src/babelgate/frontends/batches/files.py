"""`/v1/files`: OpenAI's Files API (upload, list, retrieve, content, delete), the `openai` SDK's `client.files`.
Records are in the batch store, contents in the configured directory or bucket (store/file_contents.py). A
`batch` file is checked as it is uploaded (jsonl.py)."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

from babelgate.answer import Answer, json_answer
from babelgate.errors import InvalidRequest, MethodNotAllowed, NotFound, RequestTooLarge
from babelgate.exchange import Exchange
from babelgate.frontends.batches import jsonl
from babelgate.frontends.batches.ownership import scope_of, team_of
from babelgate.frontends.batches.streams import file_answer, stored_lines
from babelgate.frontends.batches.upload import body_pieces, boundary_of, read_form
from babelgate.store.batch_records import FileRecord

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

PURPOSES: Final = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
# The purposes of files the gateway writes (a batch's output and errors): never uploaded.
OUTPUT_PURPOSE: Final = "batch_output"
DAY: Final = 86_400
OUTPUT_DAYS: Final = 30  # a batch's output and error files expire as OpenAI's do
# `expires_after.seconds` as OpenAI bounds it: an hour to 30 days.
MIN_EXPIRY: Final = 3600
MAX_EXPIRY: Final = 30 * DAY
DEFAULT_LIMIT: Final = 10_000
FORM_OVERHEAD: Final = 64 * 1024  # an upload's bytes besides its file: boundaries, part headers, other fields


def new_file_id() -> str:
    return f"file-{secrets.token_hex(12)}"


def file_object(record: FileRecord) -> dict[str, Any]:
    """OpenAI's `FileObject`."""
    return {
        "id": record.id,
        "object": "file",
        "bytes": record.bytes,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "filename": record.filename,
        "purpose": record.purpose,
        "status": "processed",
        "status_details": None,
    }


def query_of(exchange: Exchange) -> dict[str, str]:
    raw = exchange.scope.get("query_string", b"").decode("latin-1")
    return {key: values[-1] for key, values in parse_qs(raw).items()}


def limit_of(query: dict[str, str], default: int, most: int) -> int:
    text = query.get("limit")
    if text is None:
        return default
    try:
        limit = int(text)
    except ValueError:
        raise InvalidRequest("invalid_value", param="limit", detail="not an integer") from None
    if not 1 <= limit <= most:
        raise InvalidRequest("invalid_value", param="limit", detail=f"must be from 1 to {most}")
    return limit


def file_not_found(file_id: str) -> NotFound:
    return NotFound("file_not_found", code="file_not_found", param="file_id", file_id=file_id)


async def owned_file(runtime: Runtime, exchange: Exchange, file_id: str) -> FileRecord:
    """The caller's file (its team's for a team admin, any for an admin), live; else a 404 (never a 403: whether
    another key's file exists is not the caller's to learn)."""
    record = await runtime.batch_store.get_file(file_id)
    now = int(time.time())
    if record is None or (record.expires_at is not None and record.expires_at <= now):
        raise file_not_found(file_id)
    if not scope_of(runtime, exchange.call).sees(record.owner, record.team):
        raise file_not_found(file_id)
    return record


async def files(runtime: Runtime, exchange: Exchange) -> Answer:
    """`POST /files` (upload) and `GET /files` (list)."""
    method = exchange.scope["method"]
    if method == "POST":
        exchange.call.route = "files.create"
        return await _upload(runtime, exchange)
    if method not in ("GET", "HEAD"):
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])
    query = query_of(exchange)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest("invalid_value", param="order", detail="must be asc or desc")
    limit = limit_of(query, DEFAULT_LIMIT, DEFAULT_LIMIT)
    found = await runtime.batch_store.list_files(
        scope_of(runtime, exchange.call),
        purpose=query.get("purpose"),
        after=query.get("after"),
        limit=limit + 1,
        ascending=order == "asc",
        now=int(time.time()),
    )
    page = found[:limit]
    return json_answer(
        {
            "object": "list",
            "data": [file_object(record) for record in page],
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": len(found) > limit,
        }
    )


async def _upload(runtime: Runtime, exchange: Exchange) -> Answer:
    settings = runtime.config.files
    boundary = boundary_of((exchange.header(b"content-type") or b"").decode("latin-1"))
    file_id = new_file_id()
    pieces = body_pieces(exchange, settings.max_bytes + FORM_OVERHEAD)  # the form's own lines besides the file
    form, writer = await read_form(pieces, boundary, lambda: runtime.file_contents.writer(file_id))
    try:
        if writer is None:
            raise InvalidRequest("missing_field", param="file")
        if form.size > settings.max_bytes:
            raise RequestTooLarge(limit=settings.max_bytes)
        purpose = form.fields.get("purpose")
        if purpose is None:
            raise InvalidRequest("missing_field", param="purpose")
        if purpose not in PURPOSES:
            raise InvalidRequest("invalid_value", param="purpose", detail=f"must be one of {', '.join(PURPOSES)}")
        now = int(time.time())
        expires_at = _expiry(form.fields, now)
    except BaseException:
        if writer is not None:
            await writer.discard()
        raise
    await writer.commit()
    lines = 0
    if purpose == "batch":
        if expires_at is None:
            expires_at = now + OUTPUT_DAYS * DAY  # as OpenAI keeps a batch file by default
        try:
            lines = await checked_lines(runtime, file_id)
        except BaseException:
            await runtime.file_contents.delete(file_id)
            raise
    record = FileRecord(
        id=file_id,
        owner=exchange.call.key_id,
        team=team_of(exchange.call),
        purpose=purpose,
        filename=(form.filename or "file")[:255],
        bytes=form.size,
        created_at=now,
        expires_at=expires_at,
        lines=lines,
    )
    await runtime.batch_store.put_file(record)
    return json_answer(file_object(record))


async def checked_lines(runtime: Runtime, file_id: str) -> int:
    """A stored batch file checked line by line as it is read back (jsonl.py); its lines."""
    checker = jsonl.FileCheck(runtime.config.batches.max_lines)
    async for number, _, _, raw in stored_lines(runtime.file_contents, file_id, runtime.max_body_bytes):
        checker.feed(number, raw)
    return checker.finish()


def _expiry(fields: dict[str, str], now: int) -> int | None:
    """`expires_after[anchor]=created_at` and `expires_after[seconds]=N` (how the SDK sends the object in a
    form), N from an hour to 30 days."""
    anchor, seconds = fields.get("expires_after[anchor]"), fields.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        raise InvalidRequest("invalid_value", param="expires_after.anchor", detail="must be created_at")
    count = int(seconds) if seconds is not None and seconds.strip().isdigit() else -1
    if not MIN_EXPIRY <= count <= MAX_EXPIRY:
        raise InvalidRequest(
            "invalid_value", param="expires_after.seconds", detail=f"must be from {MIN_EXPIRY} to {MAX_EXPIRY}"
        )
    return now + count


async def file_resource(runtime: Runtime, exchange: Exchange, rest: str) -> Answer:
    """`/files/{id}` (GET, DELETE) and `/files/{id}/content` (GET)."""
    method = exchange.scope["method"]
    content = rest.endswith("/content")
    file_id = rest[: -len("/content")] if content else rest
    if not file_id or "/" in file_id:
        raise NotFound(method=method, path=exchange.scope["path"])
    exchange.call.route = "files.content" if content else "files.retrieve"
    if method not in (("GET", "HEAD") if content else ("GET", "HEAD", "DELETE")):
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])
    record = await owned_file(runtime, exchange, file_id)
    if method == "DELETE":
        exchange.call.route = "files.delete"
        await runtime.batch_store.delete_file(file_id)
        await runtime.file_contents.delete(file_id)
        return json_answer({"id": file_id, "object": "file", "deleted": True})
    if content:
        try:
            return await file_answer(runtime.file_contents, file_id)
        except FileNotFoundError:
            raise file_not_found(file_id) from None
    return json_answer(file_object(record))
