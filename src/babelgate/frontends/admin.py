"""The admin API (DECISIONS 14): JSON in and out under `/admin/`, behind the master key
(`Authorization: Bearer <master key>`). Without a master key configured it is off, and says so.

    POST   /admin/keys         create a virtual key; the answer shows its secret, this once
    GET    /admin/keys         list keys (never a secret)
    GET    /admin/keys/{id}    one key
    PATCH  /admin/keys/{id}    change its label, team, models, limits, budget, expiry or metadata
    DELETE /admin/keys/{id}    revoke it: refused by every instance within a second
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from babelgate.errors import AuthenticationFailed, InvalidRequest, MethodNotAllowed, NotFound, PermissionDenied
from babelgate.exchange import Exchange
from babelgate.frontends.route import Route
from babelgate.pipeline import parse_json_object

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


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
}
PREFIX = "/admin/keys/"
