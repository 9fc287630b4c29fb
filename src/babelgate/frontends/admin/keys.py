"""`/admin/keys` and `/admin/keys/{id}`: virtual keys, created, listed, changed and revoked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from babelgate.errors import InvalidRequest, MethodNotAllowed, NotFound
from babelgate.exchange import Exchange
from babelgate.frontends.admin.access import authorize
from babelgate.frontends.body_schema import OBJECT, STRING, any_of, array, enum, nullable
from babelgate.frontends.route import Operation
from babelgate.governance.virtual_keys import PERIODS
from babelgate.pipeline import parse_json_object

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


async def keys(runtime: Runtime, exchange: Exchange) -> None:
    """`/admin/keys`: create (POST) or list (GET)."""
    authorize(runtime, exchange)
    method = exchange.scope["method"]
    ring = runtime.key_ring
    if method == "POST":
        exchange.call.route = "admin.keys.create"
        key, secret = await ring.create(await _body(runtime, exchange))
        await exchange.respond_json(201, {**key.public(), "key": secret})
    elif method in ("GET", "HEAD"):
        exchange.call.route = "admin.keys.list"
        await ring.refresh()
        listed = sorted(ring.keys.values(), key=lambda key: key.created_at)
        await exchange.respond_json(200, {"object": "list", "data": [key.public() for key in listed]})
    else:
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])


async def key(runtime: Runtime, exchange: Exchange, key_id: str) -> None:
    """`/admin/keys/{id}`: read (GET), change (PATCH) or revoke (DELETE)."""
    authorize(runtime, exchange)
    method = exchange.scope["method"]
    ring = runtime.key_ring
    if "/" in key_id:
        raise NotFound(method=method, path=exchange.scope["path"])
    if method == "PATCH":
        exchange.call.route = "admin.keys.update"
        await exchange.respond_json(200, (await ring.update(key_id, await _body(runtime, exchange))).public())
    elif method == "DELETE":
        exchange.call.route = "admin.keys.revoke"
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
KEY_FIELDS: Final = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        name: nullable(schema)
        for name, schema in {
            "label": STRING,
            "team": STRING,
            "models": array({"type": "string", "minLength": 1}),
            "rpm": POSITIVE,
            "tpm": POSITIVE,
            "max_concurrent": POSITIVE,
            "budget_usd": {"type": "number", "minimum": 0},
            "budget_period": enum(PERIODS),
            "expires_at": any_of(STRING, {"type": "number"}),
            "metadata": OBJECT,
        }.items()
    },
}

PREFIX: Final = "/admin/keys/"
KEY_OPERATIONS: Final = {"": (Operation("GET"), Operation("PATCH", body=KEY_FIELDS), Operation("DELETE"))}
