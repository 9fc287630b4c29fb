"""The admin API (DECISIONS 14): JSON in and out under `/admin/`, behind the master key
(`Authorization: Bearer <master key>`). Without a master key configured it is off, and says so.

    POST   /admin/keys         create a virtual key; the answer shows its secret, this once
    GET    /admin/keys         list keys (never a secret)
    GET    /admin/keys/{id}    one key
    PATCH  /admin/keys/{id}    change its label, team, models, limits, budget, expiry or metadata
    DELETE /admin/keys/{id}    revoke it: refused by every instance within a second
    GET    /admin/usage        the ledger's totals, grouped by key, team, model, provider, status
"""

from __future__ import annotations

import hmac
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

from babelgate.errors import AuthenticationFailed, InvalidRequest, MethodNotAllowed, NotFound, PermissionDenied
from babelgate.exchange import Exchange
from babelgate.frontends.route import Route
from babelgate.pipeline import parse_json_object

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


GROUPS: Final = {"key": "key_id", "team": "team", "model": "model", "provider": "provider", "status": "status"}
DAY: Final = 86400.0


async def usage(runtime: Runtime, exchange: Exchange) -> None:
    """`GET /admin/usage?group_by=key,model&since=…&until=…` (DECISIONS 14): totals per group from
    the ledger. `since` and `until` are RFC 3339 or unix seconds; by default the last 24 hours."""
    _authorize(runtime, exchange)
    if exchange.scope["method"] not in ("GET", "HEAD"):
        raise MethodNotAllowed(method=exchange.scope["method"], path=exchange.scope["path"])
    query = {name: values[-1] for name, values in parse_qs(exchange.scope.get("query_string", b"").decode()).items()}
    groups = [name.strip() for name in query.get("group_by", "").split(",") if name.strip()]
    unknown = [name for name in groups if name not in GROUPS]
    if unknown:
        raise InvalidRequest("invalid_value", param="group_by",
                             detail=f"unknown group {unknown[0]!r}; use {', '.join(GROUPS)}")
    now = time.time()
    until = _time(query["until"], "until") if "until" in query else now + 1
    since = _time(query["since"], "since") if "since" in query else until - DAY
    await runtime.ledger.flush()  # what this instance served so far is in the answer
    totals: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in await runtime.response_store.usage(since, until):
        totals.setdefault(tuple(row.get(GROUPS[name]) for name in groups), []).append(row)
    data = [{**dict(zip(groups, group, strict=True)), **_summary(rows)} for group, rows in sorted(
        totals.items(), key=lambda item: -len(item[1]))]
    await exchange.respond_json(200, {"object": "list", "since": since, "until": until, "data": data})


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = sorted(row["latency_ms"] for row in rows)
    return {
        "requests": len(rows),
        "prompt_tokens": sum(row["prompt_tokens"] for row in rows),
        "completion_tokens": sum(row["completion_tokens"] for row in rows),
        "cost_usd": round(sum(row.get("cost_usd") or 0.0 for row in rows), 6),
        "errors": sum(1 for row in rows if row["status"] >= 400),
        "latency_ms": {name: latencies[min(len(latencies) - 1, int(len(latencies) * share))]
                       for name, share in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))},
    }


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


ROUTES: dict[str, Route] = {
    # Public to the gateway-key check: the master key is checked here instead.
    "/admin/keys": Route("ANY", keys, "admin.keys", public=True),
    "/admin/usage": Route("GET", usage, "admin.usage", public=True),
}
PREFIX = "/admin/keys/"
