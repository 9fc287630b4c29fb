"""Who may use the admin API: the master key as a bearer token (the CLI, scripts), or a dashboard
session (a cookie made by `POST /admin/session` from the master key).

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
from typing import TYPE_CHECKING, Final

from babelgate.errors import AuthenticationFailed, PermissionDenied
from babelgate.exchange import Exchange

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

COOKIE: Final = "babelgate_session"
CSRF_HEADER: Final = b"x-babelgate-csrf"
SESSION_SECONDS: Final = 12 * 3600
_READS: Final = frozenset({"GET", "HEAD"})


def master_key(runtime: Runtime) -> str:
    """The configured master key; the admin API is off (403, saying so) without one."""
    master = runtime.config.server.master_key
    if not master:
        raise PermissionDenied("admin_disabled", code="admin_disabled")
    return master


def authorize(runtime: Runtime, exchange: Exchange) -> None:
    """The master key as a bearer token, or a valid session cookie (and, for a write, its CSRF token)."""
    master = master_key(runtime)
    authorization = exchange.header(b"authorization") or b""
    if authorization[:7].lower() == b"bearer ":
        if not hmac.compare_digest(authorization[7:].strip(), master.encode()):
            raise AuthenticationFailed()
        return
    found = session_of(master, exchange)
    if found is None:
        raise AuthenticationFailed("session_required", code="session_required")
    nonce, _ = found
    if exchange.scope["method"] not in _READS:
        presented = exchange.header(CSRF_HEADER) or b""
        if not hmac.compare_digest(presented, csrf_token(master, nonce).encode()) or not same_origin(exchange):
            raise PermissionDenied("csrf_failed", code="csrf_failed")


def new_session(master: str) -> tuple[str, str, int]:
    """A session token, its CSRF token and when it expires (unix seconds)."""
    expires = int(time.time()) + SESSION_SECONDS
    nonce = secrets.token_urlsafe(18)
    return f"{expires}.{nonce}.{_sign(master, f'{expires}.{nonce}')}", csrf_token(master, nonce), expires


def session_of(master: str, exchange: Exchange) -> tuple[str, int] | None:
    """The request's session cookie, when it is valid and unexpired: its nonce and expiry."""
    token = cookie(exchange, COOKIE)
    if token is None:
        return None
    expires, _, rest = token.partition(".")
    nonce, _, signature = rest.partition(".")
    if not expires.isdigit() or int(expires) <= time.time() or not nonce:
        return None
    if not hmac.compare_digest(signature.encode(), _sign(master, f"{expires}.{nonce}").encode()):
        return None
    return nonce, int(expires)


def csrf_token(master: str, nonce: str) -> str:
    return _sign(master, "csrf:" + nonce)


def _sign(master: str, text: str) -> str:
    # A key of its own, so a session signature is never a value the master key itself signs elsewhere.
    key = hashlib.sha256(b"babelgate-session\0" + master.encode()).digest()
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
