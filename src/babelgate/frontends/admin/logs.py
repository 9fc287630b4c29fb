"""`/admin/logs` (the conversation log's logged requests, newest first: docs/logging.md) and `/admin/logs/{id}`
(one whole). Who may read what follows `/admin/usage`: admins and viewers every team's, a team admin their teams',
a member their own keys'."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

from babelgate.answer import Answer, json_answer
from babelgate.errors import InvalidRequest, MethodNotAllowed, NotFound
from babelgate.exchange import Exchange
from babelgate.frontends.admin.access import authorize
from babelgate.frontends.admin.usage import read_query, time_of
from babelgate.identity.bearer import USER_PREFIX
from babelgate.identity.roles import Principal
from babelgate.store.conversation_table import (
    FILTERS,
    LogQuery,
    decode_cursor,
    encode_cursor,
    exchange_of,
    summary_of,
)
from babelgate.store.timed import within

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

MAX_LIMIT: Final = 200
DEFAULT_LIMIT: Final = 50
LOGS_QUERY: Final = (*FILTERS, "since", "until", "q", "limit", "cursor")
PREFIX: Final = "/admin/logs/"


async def logs(runtime: Runtime, exchange: Exchange) -> Answer:
    """`GET /admin/logs`: summaries of logged requests (each without its messages, with a `preview`: the first
    user text), newest first, filtered by `key`, `team`, `user`, `model`, `since`/`until` (RFC 3339 or unix
    seconds; by default no bound) and `q` (text the request or its answer contains, any case); `limit` per page
    (default 50, at most 200) and `cursor` (the `next` of the page before)."""
    query = await read_query(runtime, exchange, "viewer")
    until = time_of(query["until"], "until") if "until" in query else float("inf")
    since = time_of(query["since"], "since") if "since" in query else 0.0
    text = query.get("limit", str(DEFAULT_LIMIT))
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidRequest("wrong_type", param="limit", expected=f"an integer from 1 to {MAX_LIMIT}")
    after = None
    if query.get("cursor"):
        after = decode_cursor(query["cursor"])
        if after is None:
            raise InvalidRequest("wrong_type", param="cursor", expected="the `next` of a page of /admin/logs")
    filters = tuple((column, query[name]) for name, column in FILTERS.items() if query.get(name))
    limit = int(text)
    await _flushed(runtime)
    rows = await runtime.response_store.conversations(
        LogQuery(since, until, filters, query.get("q") or None, limit, after)
    )
    page = rows[:limit]
    following = encode_cursor(page[-1][0], page[-1][1]) if len(rows) > limit else None
    return json_answer({"data": [summary_of(row) for row in page], "next": following})


async def log_entry(runtime: Runtime, exchange: Exchange, request_id: str) -> Answer:
    """`GET /admin/logs/{request_id}`: the logged request whole (its Exchange). One the caller may not read is
    "not found" to them, as an unknown one is."""
    principal = await authorize(runtime, exchange, "viewer")
    if exchange.scope["method"] not in ("GET", "HEAD"):
        raise MethodNotAllowed(method=exchange.scope["method"], path=exchange.scope["path"])
    await _flushed(runtime)
    row = await runtime.response_store.conversation(request_id) if request_id and "/" not in request_id else None
    found = exchange_of(row) if row is not None else None
    if found is None or not _readable(runtime, principal, found):
        raise NotFound(raw_message=f"no logged request {request_id!r}", code="log_not_found")
    return json_answer(found)


def _readable(runtime: Runtime, principal: Principal, found: dict[str, Any]) -> bool:
    """Whether the principal may read this logged request: as `/admin/usage` scopes its queries."""
    if principal.role == "team_admin":
        return found.get("team") in principal.teams
    if principal.role == "member":
        key_id = found.get("key_id")
        if key_id == USER_PREFIX + principal.user:
            return True
        key = runtime.key_ring.keys.get(key_id) if isinstance(key_id, str) else None
        return key is not None and key.user == principal.user
    return True


async def _flushed(runtime: Runtime) -> None:
    """What this instance logged so far is in the answer: the queued captures built and written, waited for no
    longer than a store call (shielded: the write goes on when this request stops waiting)."""
    conversations = runtime.conversations
    if conversations is not None:
        await within(runtime.config.store.timeout, asyncio.shield(conversations.flush()))
