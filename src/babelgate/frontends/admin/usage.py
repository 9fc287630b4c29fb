"""`/admin/usage` (the ledger's totals and time series) and `/admin/errors` (what failed most)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

from babelgate.answer import Answer, json_answer
from babelgate.errors import InvalidRequest, MethodNotAllowed
from babelgate.exchange import Exchange
from babelgate.frontends.admin.access import authorize, refuse
from babelgate.identity.bearer import USER_PREFIX
from babelgate.identity.roles import Principal, Role
from babelgate.store.ledger_table import GROUPS, UsageQuery, top_errors
from babelgate.store.timed import within

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


DAY: Final = 86400.0
_UNITS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MAX_BUCKETS: Final = 10_000
MAX_ERRORS: Final = 100
USAGE_QUERY: Final = ("group_by", "since", "until", "interval", *GROUPS)
ERRORS_QUERY: Final = ("since", "until", "limit")


async def usage(runtime: Runtime, exchange: Exchange) -> Answer:
    """`GET /admin/usage` (docs/decisions.md, "The admin API"): totals per group from the ledger, or a time series.

    `group_by` (key, team, model, provider, status, route, model_requested, session; server and tool
    for MCP tool calls; comma-separated),
    `since` and `until` (RFC 3339 or unix seconds; by default the last 24 hours), `interval` (a
    time series: `1h`, `5m`, `1d` or seconds), and any group name as a filter (`team=search`)."""
    query = await read_query(runtime, exchange, "viewer")
    groups = tuple(name.strip() for name in query.get("group_by", "").split(",") if name.strip())
    unknown = [name for name in groups if name not in GROUPS]
    if unknown:
        raise InvalidRequest(
            "invalid_value", param="group_by", detail=f"unknown group {unknown[0]!r}; use {', '.join(GROUPS)}"
        )
    since, until = _period(query)
    interval = _interval(query["interval"]) if "interval" in query else None
    if interval is not None and (until - since) / interval > MAX_BUCKETS:
        raise InvalidRequest(
            "invalid_value",
            param="interval",
            detail=f"more than {MAX_BUCKETS} buckets in the period; use a longer interval",
        )
    filters = tuple(
        (name, int(value) if name == "status" and value.isdigit() else value)
        for name, value in query.items()
        if name in GROUPS
    )
    await _flushed(runtime)  # what this instance served so far is in the answer
    data = await runtime.response_store.usage_summary(UsageQuery(since, until, groups, interval, filters))
    answer: dict[str, Any] = {"object": "list", "since": since, "until": until, "data": data}
    if interval is not None:
        answer["interval"] = interval
    return json_answer(answer)


async def errors(runtime: Runtime, exchange: Exchange) -> Answer:
    """`GET /admin/errors`: the failed requests of a period (`since`, `until` as for usage) by status,
    code and message, the most frequent first (`limit`, default 10), each with its count, when it
    last happened and the model asked for then. Read from the newest 100,000 failures."""
    query = await read_query(runtime, exchange, "admin")  # failures of every team's requests: admins only
    since, until = _period(query)
    text = query.get("limit", "10")
    if not text.isdigit() or not 1 <= int(text) <= MAX_ERRORS:
        raise InvalidRequest("wrong_type", param="limit", expected=f"an integer from 1 to {MAX_ERRORS}")
    await _flushed(runtime)
    rows = await runtime.response_store.usage_errors(since, until)
    return json_answer({"object": "list", "since": since, "until": until, "data": top_errors(rows, int(text))})


async def read_query(runtime: Runtime, exchange: Exchange, need: Role) -> dict[str, str]:
    """The caller checked, the method a read, and the query's parameters (the last of each name), narrowed
    to what the caller's role may see (`scoped`)."""
    principal = await authorize(runtime, exchange, need)
    if exchange.scope["method"] not in ("GET", "HEAD"):
        raise MethodNotAllowed(method=exchange.scope["method"], path=exchange.scope["path"])
    query = {name: values[-1] for name, values in parse_qs(exchange.scope.get("query_string", b"").decode()).items()}
    return scoped(runtime, exchange, principal, query)


def scoped(runtime: Runtime, exchange: Exchange, principal: Principal, query: dict[str, str]) -> dict[str, str]:
    """Admins and viewers read every team's usage; a team admin their teams' (`team=` one of them, the
    first by default); a member their own (`key=` their JWT identity `user:<user>`, the default, or one of
    their keys)."""
    if principal.role == "team_admin":
        team = query.get("team") or (principal.teams[0] if principal.teams else "")
        if team not in principal.teams:
            refuse(principal, exchange)
        query["team"] = team
    elif principal.role == "member":
        own = USER_PREFIX + principal.user
        key = query.get("key") or own
        found = runtime.key_ring.keys.get(key)
        if key != own and (found is None or found.user != principal.user):
            refuse(principal, exchange)
        query["key"] = key
    return query


def _period(query: dict[str, str]) -> tuple[float, float]:
    until = time_of(query["until"], "until") if "until" in query else time.time() + 1
    since = time_of(query["since"], "since") if "since" in query else until - DAY
    return since, until


def _interval(value: str) -> float:
    text = value.strip()
    try:
        seconds = float(text[:-1]) * _UNITS[text[-1]] if text and text[-1] in _UNITS else float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise InvalidRequest("wrong_type", param="interval", expected="a duration such as 5m, 1h, 1d or seconds")
    return seconds


def time_of(value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InvalidRequest("wrong_type", param=name, expected="an RFC 3339 time or unix seconds") from None


async def _flushed(runtime: Runtime) -> None:
    """The ledger's queued rows written, waited for no longer than any store call a request makes
    (a silent database answers 503, not after the writer's own, longer, deadline). Shielded: the
    write goes on for the ledger's sake when this request stops waiting."""
    await within(runtime.config.store.timeout, asyncio.shield(runtime.ledger.flush()))
