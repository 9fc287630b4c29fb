"""`GET /admin/audit`: the admin actions, newest first; and `note`, which every admin write calls to
record what it did (governance/audit.py writes it to the store in the background)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from babelgate.answer import Answer, json_answer
from babelgate.errors import InvalidRequest
from babelgate.exchange import Exchange
from babelgate.frontends.admin.access import caller
from babelgate.frontends.admin.usage import read_query, time_of
from babelgate.governance.audit import changes

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

AUDIT_QUERY: Final = ("since", "until", "actor", "action", "target_type", "target_id", "limit")
MAX_LIMIT: Final = 1000


def address(exchange: Exchange) -> str | None:
    """Where the call came from: the first `X-Forwarded-For` hop when a proxy says, else the peer."""
    forwarded = exchange.header(b"x-forwarded-for")
    if forwarded:
        return forwarded.split(b",")[0].strip().decode("latin-1")
    client = exchange.scope.get("client")
    return str(client[0]) if client else None


def note(
    runtime: Runtime,
    exchange: Exchange,
    action: str,
    target_type: str,
    target_id: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    status: int = 200,
) -> None:
    """Record one admin action (no I/O here)."""
    runtime.audit.record(
        actor=caller(runtime, exchange),
        action=action,
        target_type=target_type,
        target_id=target_id,
        address=address(exchange),
        change=changes(before, after),
        status=status,
    )


async def audit(runtime: Runtime, exchange: Exchange) -> Answer:
    """`GET /admin/audit`: filters `since`, `until` (RFC 3339 or unix seconds), `actor`, `action` (a
    prefix by dots: `keys` matches `keys.create`), `target_type`, `target_id`, and `limit` (100)."""
    query = await read_query(runtime, exchange, "admin")
    unknown = [name for name in query if name not in AUDIT_QUERY]
    if unknown:
        raise InvalidRequest("invalid_value", param=unknown[0], detail=f"filters: {', '.join(AUDIT_QUERY)}")
    limit = _limit(query.get("limit", "100"))
    entries = await runtime.audit.entries(
        since=time_of(query["since"], "since") if "since" in query else 0.0,
        until=time_of(query["until"], "until") if "until" in query else float("inf"),
        actor=query.get("actor"),
        action=query.get("action"),
        target_type=query.get("target_type"),
        target_id=query.get("target_id"),
        limit=limit,
    )
    return json_answer({"object": "list", "data": entries})


async def alerts(runtime: Runtime, exchange: Exchange) -> Answer:
    """`GET /admin/alerts`: the alerts sent (budget thresholds, key expiry, open circuits), newest first,
    each with its deliveries (attempts, status); `limit` (100)."""
    query = await read_query(runtime, exchange, "admin")
    limit = _limit(query.get("limit", "100"))
    return json_answer({"object": "list", "data": await runtime.alerts.recorded(limit)})


def _limit(text: str) -> int:
    # ASCII digits only: str.isdigit takes '¹' too, which int() refuses.
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidRequest("invalid_value", param="limit", detail=f"a whole number from 1 to {MAX_LIMIT}")
    return int(text)
