"""The admin API (DECISIONS 14): JSON in and out under `/admin/`, behind the master key
(`Authorization: Bearer <master key>`). Without a master key configured it is off, and says so.

    POST   /admin/keys         create a virtual key; the answer shows its secret, this once
    GET    /admin/keys         list keys (never a secret)
    GET    /admin/keys/{id}    one key
    PATCH  /admin/keys/{id}    change its label, team, models, limits, budget, expiry or metadata
    DELETE /admin/keys/{id}    revoke it: refused by every instance within a second
    GET    /admin/usage        the ledger's totals or time series, grouped by key, team, model, provider…
"""

from __future__ import annotations

import hmac
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

from babelgate.errors import AuthenticationFailed, InvalidRequest, MethodNotAllowed, NotFound, PermissionDenied
from babelgate.exchange import Exchange
from babelgate.frontends.body_schema import OBJECT, STRING, any_of, array, enum, nullable
from babelgate.frontends.route import Operation, Route
from babelgate.governance.virtual_keys import PERIODS
from babelgate.pipeline import parse_json_object
from babelgate.store.ledger_table import GROUPS, UsageQuery

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


DAY: Final = 86400.0
_UNITS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MAX_BUCKETS: Final = 10_000


async def usage(runtime: Runtime, exchange: Exchange) -> None:
    """`GET /admin/usage` (DECISIONS 14): totals per group from the ledger, or a time series.

    `group_by` (key, team, model, provider, status, route, model_requested; comma-separated),
    `since` and `until` (RFC 3339 or unix seconds; by default the last 24 hours), `interval` (a
    time series: `1h`, `5m`, `1d` or seconds), and any group name as a filter (`team=search`)."""
    _authorize(runtime, exchange)
    if exchange.scope["method"] not in ("GET", "HEAD"):
        raise MethodNotAllowed(method=exchange.scope["method"], path=exchange.scope["path"])
    query = {name: values[-1] for name, values in parse_qs(exchange.scope.get("query_string", b"").decode()).items()}
    groups = tuple(name.strip() for name in query.get("group_by", "").split(",") if name.strip())
    unknown = [name for name in groups if name not in GROUPS]
    if unknown:
        raise InvalidRequest("invalid_value", param="group_by",
                             detail=f"unknown group {unknown[0]!r}; use {', '.join(GROUPS)}")
    now = time.time()
    until = _time(query["until"], "until") if "until" in query else now + 1
    since = _time(query["since"], "since") if "since" in query else until - DAY
    interval = _interval(query["interval"]) if "interval" in query else None
    if interval is not None and (until - since) / interval > MAX_BUCKETS:
        raise InvalidRequest("invalid_value", param="interval",
                             detail=f"more than {MAX_BUCKETS} buckets in the period; use a longer interval")
    filters = tuple((name, int(value) if name == "status" and value.isdigit() else value)
                    for name, value in query.items() if name in GROUPS)
    await runtime.ledger.flush()  # what this instance served so far is in the answer
    data = await runtime.response_store.usage_summary(UsageQuery(since, until, groups, interval, filters))
    answer: dict[str, Any] = {"object": "list", "since": since, "until": until, "data": data}
    if interval is not None:
        answer["interval"] = interval
    await exchange.respond_json(200, answer)


def _interval(value: str) -> float:
    text = value.strip()
    try:
        seconds = float(text[:-1]) * _UNITS[text[-1]] if text and text[-1] in _UNITS else float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise InvalidRequest("wrong_type", param="interval", expected="a duration such as 5m, 1h, 1d or seconds")
    return seconds


def _time(value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InvalidRequest("wrong_type", param=name, expected="an RFC 3339 time or unix seconds") from None


def _authorize(runtime: Runtime, exchange: Exchange) -> None:
    master = runtime.config.server.master_key
    if not master:
        raise PermissionDenied("admin_disabled", code="admin_disabled")
    authorization = exchange.header(b"authorization") or b""
    presented = authorization[7:].strip() if authorization[:7].lower() == b"bearer " else b""
    if not hmac.compare_digest(presented, master.encode()):
        raise AuthenticationFailed()


async def keys(runtime: Runtime, exchange: Exchange) -> None:
    """`/admin/keys`: create (POST) or list (GET)."""
    _authorize(runtime, exchange)
    method = exchange.scope["method"]
    ring = runtime.key_ring
    if method == "POST":
        exchange.route = "admin.keys.create"
        key, secret = await ring.create(await _body(runtime, exchange))
        await exchange.respond_json(201, {**key.public(), "key": secret})
    elif method in ("GET", "HEAD"):
        exchange.route = "admin.keys.list"
        await ring.refresh()
        listed = sorted(ring.keys.values(), key=lambda key: key.created_at)
        await exchange.respond_json(200, {"object": "list", "data": [key.public() for key in listed]})
    else:
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])


async def key(runtime: Runtime, exchange: Exchange, key_id: str) -> None:
    """`/admin/keys/{id}`: read (GET), change (PATCH) or revoke (DELETE)."""
    _authorize(runtime, exchange)
    method = exchange.scope["method"]
    ring = runtime.key_ring
    if "/" in key_id:
        raise NotFound(method=method, path=exchange.scope["path"])
    if method == "PATCH":
        exchange.route = "admin.keys.update"
        await exchange.respond_json(200, (await ring.update(key_id, await _body(runtime, exchange))).public())
    elif method == "DELETE":
        exchange.route = "admin.keys.revoke"
        await exchange.respond_json(200, (await ring.revoke(key_id)).public())
    elif method in ("GET", "HEAD"):
        await ring.refresh()
        found = ring.keys.get(key_id)
        if found is None:
            raise NotFound("key_not_found", code="key_not_found", key_id=key_id)
        await exchange.respond_json(200, found.public())
    else:
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])


async def _body(runtime: Runtime, exchange: Exchange) -> dict[str, Any]:
    raw = await exchange.read_body(runtime.max_body_bytes)
    if not raw.strip():
        return {}
    body = parse_json_object(raw)
    if not body and exchange.scope["method"] == "PATCH":
        raise InvalidRequest("invalid_value", param="body", detail="nothing to change")
    return body


# A key's editable fields (virtual_keys.checked_fields), as /openapi.json publishes them; null
# sets a field back to its default.
POSITIVE: Final = {"type": "integer", "minimum": 1}
KEY_FIELDS: Final = {"type": "object", "additionalProperties": False, "properties": {
    name: nullable(schema) for name, schema in {
        "label": STRING, "team": STRING, "models": array({"type": "string", "minLength": 1}),
        "rpm": POSITIVE, "tpm": POSITIVE, "max_concurrent": POSITIVE, "budget_usd": {"type": "number", "minimum": 0},
        "budget_period": enum(PERIODS), "expires_at": any_of(STRING, {"type": "number"}), "metadata": OBJECT,
    }.items()}}
USAGE_QUERY: Final = ("group_by", "since", "until", "interval", *GROUPS)

ROUTES: dict[str, Route] = {
    # Public to the gateway-key check: the master key is checked here instead.
    "/admin/keys": Route("ANY", keys, "admin.keys", public=True, operations=(
        Operation("GET"), Operation("POST", body=KEY_FIELDS, status=201, body_optional=True))),
    "/admin/usage": Route("GET", usage, "admin.usage", public=True,
                          operations=(Operation("GET", query=USAGE_QUERY),)),
}
PREFIX = "/admin/keys/"
KEY_OPERATIONS: Final = {"": (Operation("GET"), Operation("PATCH", body=KEY_FIELDS), Operation("DELETE"))}
