"""Single sign-on for the dashboard and the admin API (auth.oidc; the protocol is identity/oidc.py):

    GET /admin/oidc            whether sign-in with the identity provider is on, and where it starts
    GET /admin/oidc/login      sends the browser to the provider (authorization code flow with PKCE)
    GET /admin/oidc/callback   where the provider sends it back: the code exchanged, the ID token
                               checked, the person's role from their groups, a dashboard session made
    GET /admin/oidc/logout     the session ended, and the browser sent to the provider's logout

Between login and callback the browser holds a short-lived cookie (`babelgate_oidc`, HttpOnly, scoped to
`/admin/oidc`, SameSite=Lax since the provider's redirect back is a top-level cross-site navigation)
carrying the state, nonce and PKCE verifier, signed by the gateway: nothing is stored server-side, so any
instance may take the callback."""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qs, quote

from babelgate.answer import Answer, json_answer
from babelgate.errors import AuthenticationFailed, GatewayError, MethodNotAllowed, PermissionDenied
from babelgate.exchange import Exchange
from babelgate.frontends.admin.access import cookie, new_session, over_tls, session_secret, set_cookie, sign

if TYPE_CHECKING:
    from babelgate.identity.oidc import OidcClient
    from babelgate.runtime import Runtime

log = logging.getLogger("babelgate.identity")
FLOW_COOKIE: Final = "babelgate_oidc"
FLOW_SECONDS: Final = 600  # a sign-in must come back within ten minutes
NO_STORE: Final = (b"cache-control", b"no-store")
AFTER_LOGIN: Final = "/ui/"
MAX_TEAMS: Final = 40


async def info(runtime: Runtime, exchange: Exchange) -> Answer:
    _reads(exchange)
    enabled = runtime.oidc is not None
    return json_answer(
        {
            "enabled": enabled,
            "login_url": "/admin/oidc/login" if enabled else None,
            "master_key": bool(runtime.config.server.master_key),  # whether the dashboard offers its form
        },
    )


async def login(runtime: Runtime, exchange: Exchange) -> Answer:
    _reads(exchange)
    client = _client(runtime)
    exchange.call.route = "admin.oidc.login"
    started = await client.begin(redirect_url(client, exchange))
    expires = int(time.time()) + FLOW_SECONDS
    body = f"{expires}.{started.state}.{started.nonce}.{started.verifier}"
    flow = f"{body}.{sign(session_secret(runtime), 'oidc:' + body)}"
    return _redirect(started.url, _flow_cookie(exchange, flow, FLOW_SECONDS), NO_STORE)


async def callback(runtime: Runtime, exchange: Exchange) -> Answer:
    """A refusal goes back to the dashboard, which says why (`?signin_error=<code>`), when a browser asked;
    any other client gets the error itself."""
    _reads(exchange)
    exchange.call.route = "admin.oidc.callback"
    try:
        return await _callback(runtime, exchange)
    except GatewayError as error:
        if b"text/html" not in (exchange.header(b"accept") or b""):
            raise
        exchange.call.failed(error)
        log.info("a sign-in was refused: %s %s", error.code, error.params.get("reason", ""))
        target = f"{AFTER_LOGIN}?signin_error={quote(error.code or 'oidc_failed')}"
        return _redirect(target, _flow_cookie(exchange, "", 0), NO_STORE)


async def _callback(runtime: Runtime, exchange: Exchange) -> Answer:
    client = _client(runtime)
    query = {name: values[-1] for name, values in parse_qs(exchange.scope.get("query_string", b"").decode()).items()}
    if "iss" in query and query["iss"].rstrip("/") != client.config.issuer.rstrip("/"):  # RFC 9207: mix-up attacks
        raise _failed("the answer names another issuer")
    if "error" in query:
        raise _failed(f"the identity provider said {query['error']}: {query.get('error_description', '')}".strip())
    secret = session_secret(runtime)
    flow = _flow(secret, cookie(exchange, FLOW_COOKIE))
    if flow is None:
        raise _failed("this sign-in was not started here, or took longer than ten minutes")
    state, nonce, verifier = flow
    if not hmac.compare_digest(query.get("state", "").encode(), state.encode()):
        raise _failed("the state does not match this sign-in's")
    code = query.get("code")
    if not code:
        raise _failed("the provider sent no code")
    directory = runtime.directory

    def stored_role(user: str) -> str | None:  # a role an admin set through /admin/users
        found = directory.users.get(user)
        return found.role if found is not None else None

    principal = await client.finish(code, verifier, nonce, redirect_url(client, exchange), stored_role=stored_role)
    # The person is a user from now on (made on first sign-in), with the groups that name the gateway's teams.
    known = [team for team in principal.teams if team in directory.teams]
    await directory.ensure_user(principal.user, teams=known or None, source="oidc")
    if len(principal.teams) > MAX_TEAMS:  # the session is a cookie: browsers drop one past 4 KiB
        log.warning(
            "%s is in %d groups; the session keeps the first %d", principal.user, len(principal.teams), MAX_TEAMS
        )
        principal = replace(principal, teams=principal.teams[:MAX_TEAMS])
    seconds = client.config.session_seconds
    token, _, _ = new_session(secret, principal, seconds)
    return _redirect(AFTER_LOGIN, set_cookie(exchange, token, seconds), _flow_cookie(exchange, "", 0), NO_STORE)


async def logout(runtime: Runtime, exchange: Exchange) -> Answer:
    """Ends the dashboard session (a GET: a top-level navigation, which a cross-site page could cause, but
    ending a session is all it does) and sends the browser to the provider's end-session endpoint."""
    _reads(exchange)
    exchange.call.route = "admin.oidc.logout"
    client = _client(runtime)
    target = await client.logout_url() or AFTER_LOGIN
    return _redirect(target, set_cookie(exchange, "", 0), NO_STORE)


def _redirect(target: str, *headers: tuple[bytes, bytes]) -> Answer:
    """A 302 to `target` (no body), with `headers` after its `location`."""
    return Answer(b"", None, status=302, headers=[(b"location", target.encode()), *headers])


def redirect_url(client: OidcClient, exchange: Exchange) -> str:
    """`auth.oidc.redirect_url`, or, when it is a path, that path on the origin the browser reached us at (the
    provider only sends the code to a redirect URL registered with it, so a forged Host gains nothing)."""
    configured = client.config.redirect_url
    if not configured.startswith("/"):
        return configured
    host = (exchange.header(b"x-forwarded-host") or exchange.header(b"host") or b"").decode("latin-1")
    return f"{'https' if over_tls(exchange) else 'http'}://{host}{configured}"


def _client(runtime: Runtime) -> OidcClient:
    if runtime.oidc is None:
        raise PermissionDenied("oidc_disabled", code="oidc_disabled")
    return runtime.oidc


def _reads(exchange: Exchange) -> None:
    if exchange.scope["method"] not in ("GET", "HEAD"):
        raise MethodNotAllowed(method=exchange.scope["method"], path=exchange.scope["path"])


def _flow(secret: str, value: str | None) -> tuple[str, str, str] | None:
    if not value:
        return None
    body, _, signature = value.rpartition(".")
    parts = body.split(".")
    if len(parts) != 4 or not parts[0].isdigit() or int(parts[0]) <= time.time():
        return None
    if not hmac.compare_digest(signature.encode(), sign(secret, "oidc:" + body).encode()):
        return None
    return parts[1], parts[2], parts[3]


def _flow_cookie(exchange: Exchange, value: str, max_age: int) -> tuple[bytes, bytes]:
    attributes = f"{FLOW_COOKIE}={value}; Path=/admin/oidc; Max-Age={max_age}; HttpOnly; SameSite=Lax"
    if over_tls(exchange):
        attributes += "; Secure"
    return b"set-cookie", attributes.encode()


def _failed(reason: str) -> AuthenticationFailed:
    return AuthenticationFailed("oidc_failed", code="oidc_failed", reason=reason)
