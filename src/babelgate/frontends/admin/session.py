"""`/admin/session`: the dashboard's login (POST, with the master key), whether a session is valid
(GET, answering its CSRF token again after a page load) and logout (DELETE). See access.py."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

import orjson

from babelgate.errors import AuthenticationFailed, InvalidRequest, MethodNotAllowed
from babelgate.exchange import Exchange
from babelgate.frontends.admin.access import (
    SESSION_SECONDS,
    authorize,
    csrf_token,
    master_key,
    new_session,
    session_of,
    set_cookie,
)
from babelgate.pipeline import parse_json_object

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

NO_STORE = (b"cache-control", b"no-store")


async def session(runtime: Runtime, exchange: Exchange) -> None:
    method = exchange.scope["method"]
    master = master_key(runtime)
    if method == "POST":
        exchange.call.route = "admin.session.create"
        body = parse_json_object(await exchange.read_body(4096))
        presented = body.get("master_key")
        if not isinstance(presented, str):
            raise InvalidRequest("wrong_type", param="master_key", expected="a string")
        if not hmac.compare_digest(presented.encode(), master.encode()):
            raise AuthenticationFailed("wrong_master_key", code="wrong_master_key")
        token, csrf, expires = new_session(master)
        await exchange.respond(
            200,
            orjson.dumps({"csrf_token": csrf, "expires_at": expires}),
            headers=[set_cookie(exchange, token, SESSION_SECONDS), NO_STORE],
        )
    elif method in ("GET", "HEAD"):
        found = session_of(master, exchange)
        if found is None:
            raise AuthenticationFailed("session_required", code="session_required")
        nonce, expires = found
        await exchange.respond(
            200, orjson.dumps({"csrf_token": csrf_token(master, nonce), "expires_at": expires}), headers=[NO_STORE]
        )
    elif method == "DELETE":
        exchange.call.route = "admin.session.delete"
        authorize(runtime, exchange)  # a cross-site page must not log an operator out either
        await exchange.respond(200, b"{}", headers=[set_cookie(exchange, "", 0), NO_STORE])
    else:
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])
