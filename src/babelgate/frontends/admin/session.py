"""`/admin/session`: the dashboard's login (POST, with the master key; single sign-on is oidc.py's), whether
a session is valid (GET, answering its CSRF token again after a page load, and who is signed in with which
role, so the dashboard shows only what the role may do) and logout (DELETE). See access.py."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

import orjson

from babelgate.answer import Answer
from babelgate.errors import AuthenticationFailed, InvalidRequest, MethodNotAllowed
from babelgate.exchange import Exchange
from babelgate.frontends.admin.access import (
    SESSION_SECONDS,
    authorize,
    csrf_token,
    master_key,
    new_session,
    session_of,
    session_secret,
    set_cookie,
)
from babelgate.frontends.admin.audit import note
from babelgate.identity.roles import MASTER
from babelgate.pipeline import parse_json_object

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

NO_STORE = (b"cache-control", b"no-store")


async def session(runtime: Runtime, exchange: Exchange) -> Answer:
    method = exchange.scope["method"]
    if method == "POST":
        exchange.call.route = "admin.session.create"
        master = master_key(runtime)
        body = parse_json_object(await exchange.read_body(4096))
        presented = body.get("master_key")
        if not isinstance(presented, str):
            raise InvalidRequest("wrong_type", param="master_key", expected="a string")
        if not hmac.compare_digest(presented.encode(), master.encode()):
            raise AuthenticationFailed("wrong_master_key", code="wrong_master_key")
        token, csrf, expires = new_session(master)
        # The session is the actor from here on; a failed login writes nothing (no store writes for anyone).
        note(runtime, exchange, "session.login", "session", None, None, {"expires_at": expires})
        return Answer(
            orjson.dumps({"csrf_token": csrf, "expires_at": expires, **MASTER.public()}),
            None,
            headers=[set_cookie(exchange, token, SESSION_SECONDS), NO_STORE],
        )
    elif method in ("GET", "HEAD"):
        secret = session_secret(runtime)
        found = session_of(secret, exchange)
        if found is None:
            raise AuthenticationFailed("session_required", code="session_required")
        nonce, expires, principal = found
        return Answer(
            orjson.dumps({"csrf_token": csrf_token(secret, nonce), "expires_at": expires, **principal.public()}),
            None,
            headers=[NO_STORE],
        )
    elif method == "DELETE":
        exchange.call.route = "admin.session.delete"
        await authorize(runtime, exchange, "viewer")  # a cross-site page must not log anyone out either
        note(runtime, exchange, "session.logout", "session", None, None, None)
        oidc = runtime.config.auth.oidc
        answer: dict[str, str] = {}
        if oidc is not None:  # where the browser may go to end its session at the identity provider too
            answer["logout_url"] = "/admin/oidc/logout"
        return Answer(orjson.dumps(answer), None, headers=[set_cookie(exchange, "", 0), NO_STORE])
    else:
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])
