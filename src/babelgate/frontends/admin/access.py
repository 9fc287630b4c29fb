"""Who may use the admin API, and with which role (identity/roles.py): the master key as a bearer token
(the CLI, scripts: an admin), a JWT of the identity provider as a bearer token (auth.jwt: its role claim or
groups decide), or a dashboard session (a cookie made by `POST /admin/session` from the master key, or by
signing in with OpenID Connect: frontends/admin/oidc.py).

A session is a signed token, not a stored row: `<expires>.<nonce>.<signature>`, signed with a key
derived from the master key, so every instance sharing the master key accepts it and nothing is
written anywhere. Changing the master key ends every session. The cookie is `HttpOnly` (no script
reads it), `SameSite=Strict` (no other site's page sends it), `Secure` when the gateway is reached
over TLS, and scoped to `/admin` (the model routes never see it). A write made with the cookie also
needs the `X-Babelgate-CSRF` header that only a page of this origin can have read (the double guard
against cross-site requests; a bearer-token call needs none)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import TYPE_CHECKING, Final, NoReturn

import orjson

from babelgate.errors import AuthenticationFailed, PermissionDenied
from babelgate.exchange import Exchange
from babelgate.identity.bearer import looks_like_jwt
from babelgate.identity.roles import MASTER, Principal, Role, as_role

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

COOKIE: Final = "babelgate_session"
CSRF_HEADER: Final = b"x-babelgate-csrf"
SESSION_SECONDS: Final = 12 * 3600
_READS: Final = frozenset({"GET", "HEAD"})


def master_key(runtime: Runtime) -> str:
    """The configured master key; logging in with it is off (403, saying so) without one."""
    master = runtime.config.server.master_key
    if not master:
        raise PermissionDenied("admin_disabled", code="admin_disabled")
    return master


def session_secret(runtime: Runtime) -> str:
    """What signs dashboard sessions: the master key, else (single sign-on without a master key) the
    OIDC client's secret; the admin API is off without either and without JWT callers."""
    master = runtime.config.server.master_key
    if master:
        return master
    oidc = runtime.config.auth.oidc
    if oidc is not None and oidc.client_secret:
        return oidc.client_secret
    raise PermissionDenied("admin_disabled", code="admin_disabled")


def admin_enabled(runtime: Runtime) -> bool:
    auth = runtime.config.auth
    return bool(runtime.config.server.master_key) or auth.oidc is not None or auth.jwt is not None


async def authorize(runtime: Runtime, exchange: Exchange, need: Role = "admin") -> Principal:
    """Who calls, checked to hold at least the role `need` (roles.py): the master key or a JWT as a bearer
    token, or a valid session cookie (and, for a write, its CSRF token)."""
    principal = await _principal(runtime, exchange)
    exchange.scope[PRINCIPAL] = principal  # for the audit log's `actor` (caller)
    if not principal.at_least(need):
        refuse(principal, exchange)
    return principal


PRINCIPAL: Final = "babelgate.principal"


def caller(runtime: Runtime, exchange: Exchange) -> str:
    """Who made an (authorized) admin call, as the audit log names them: a person by their user id, the
    master key as `master-key` (a bearer token: the CLI, scripts) or `master-key-session` (the dashboard
    logged in with it)."""
    principal = exchange.scope.get(PRINCIPAL)
    if principal is not None and principal != MASTER:
        return str(principal.user)
    authorization = exchange.header(b"authorization") or b""
    return "master-key" if authorization[:7].lower() == b"bearer " else "master-key-session"


def refuse(principal: Principal, exchange: Exchange) -> NoReturn:
    action = f"{exchange.scope['method']} {exchange.scope['path']}"
    raise PermissionDenied("role_forbidden", code="role_forbidden", role=principal.role, action=action)


async def _principal(runtime: Runtime, exchange: Exchange) -> Principal:
    if not admin_enabled(runtime):
        raise PermissionDenied("admin_disabled", code="admin_disabled")
    master = runtime.config.server.master_key
    authorization = exchange.header(b"authorization") or b""
    if authorization[:7].lower() == b"bearer ":
        presented = authorization[7:].strip()
        jwt = runtime.jwt
        if jwt is not None and looks_like_jwt(presented):
            caller = await jwt.caller(presented)
            if caller.principal is None:
                raise PermissionDenied("no_role", code="no_role")
            return caller.principal
        if not master or not hmac.compare_digest(presented, master.encode()):
            raise AuthenticationFailed()
        return MASTER
    secret = session_secret(runtime)
    found = session_of(secret, exchange)
    if found is None:
        raise AuthenticationFailed("session_required", code="session_required")
    nonce, _, principal = found
    if exchange.scope["method"] not in _READS:
        presented = exchange.header(CSRF_HEADER) or b""
        if not hmac.compare_digest(presented, csrf_token(secret, nonce).encode()) or not same_origin(exchange):
            raise PermissionDenied("csrf_failed", code="csrf_failed")
    return principal


def new_session(secret: str, principal: Principal = MASTER, seconds: int = SESSION_SECONDS) -> tuple[str, str, int]:
    """A session token for `principal`, its CSRF token and when it expires (unix seconds). A master-key
    session is `<expires>.<nonce>.<signature>`; a signed-in person's carries who they are as well:
    `<expires>.<nonce>.<principal>.<signature>` (base64url JSON), so no instance needs a session table."""
    expires = int(time.time()) + seconds
    nonce = secrets.token_urlsafe(18)
    body = f"{expires}.{nonce}"
    if principal != MASTER:
        body += "." + base64.urlsafe_b64encode(orjson.dumps(principal.public())).rstrip(b"=").decode()
    return f"{body}.{sign(secret, body)}", csrf_token(secret, nonce), expires


def session_of(secret: str, exchange: Exchange) -> tuple[str, int, Principal] | None:
    """The request's session cookie, when it is valid and unexpired: its nonce, expiry and principal."""
    token = cookie(exchange, COOKIE)
    if token is None:
        return None
    body, _, signature = token.rpartition(".")
    parts = body.split(".")
    if len(parts) not in (2, 3) or not parts[0].isdigit() or int(parts[0]) <= time.time() or not parts[1]:
        return None
    if not hmac.compare_digest(signature.encode(), sign(secret, body).encode()):
        return None
    principal = MASTER if len(parts) == 2 else _decoded(parts[2])
    if principal is None:
        return None
    return parts[1], int(parts[0]), principal


def _decoded(text: str) -> Principal | None:
    try:
        fields = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        role = as_role(fields["role"])
        if role is None:
            return None
        return Principal(str(fields["user"]), role, tuple(str(team) for team in fields.get("teams") or ()))
    except (ValueError, KeyError, TypeError):
        return None


def csrf_token(secret: str, nonce: str) -> str:
    return sign(secret, "csrf:" + nonce)


def sign(secret: str, text: str) -> str:
    # A key of its own, so a session signature is never a value the master key itself signs elsewhere.
    key = hashlib.sha256(b"babelgate-session\0" + secret.encode()).digest()
    return base64.urlsafe_b64encode(hmac.new(key, text.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()


def cookie(exchange: Exchange, name: str) -> str | None:
    for key, value in exchange.scope["headers"]:
        if key != b"cookie":
            continue
        text: str = value.decode("latin-1")
        for part in text.split(";"):
            found, _, content = part.strip().partition("=")
            if found == name:
                return content
    return None


def over_tls(exchange: Exchange) -> bool:
    """Whether the browser reached us over TLS: directly, or through a proxy that says so."""
    forwarded = exchange.header(b"x-forwarded-proto")
    return exchange.scope.get("scheme") == "https" or (forwarded is not None and forwarded.strip() == b"https")


def same_origin(exchange: Exchange) -> bool:
    """A browser's `Origin`, when it sends one, names this host (a cross-site page cannot forge it)."""
    origin = exchange.header(b"origin")
    if origin is None:
        return True
    host = exchange.header(b"x-forwarded-host") or exchange.header(b"host") or b""
    return origin.partition(b"://")[2] == host


def set_cookie(exchange: Exchange, token: str, max_age: int) -> tuple[bytes, bytes]:
    attributes = f"{COOKIE}={token}; Path=/admin; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    if over_tls(exchange):
        attributes += "; Secure"
    return b"set-cookie", attributes.encode()
