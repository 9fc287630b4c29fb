"""The admin API (docs/decisions.md, "The admin API"): JSON in and out under `/admin/`, behind the master key
(`Authorization: Bearer <master key>`), a JWT of the identity provider (auth.jwt) or a dashboard session
(access.py). Without a master key, auth.oidc or auth.jwt configured it is off, and says so. The CLI and
the dashboard use these routes and nothing else.

    POST   /admin/session      log in with the master key: a session cookie and its CSRF token
    GET    /admin/session      the session's CSRF token again (401 without a valid session)
    DELETE /admin/session      log out
    POST   /admin/keys         create a virtual key; the answer shows its secret, this once
    GET    /admin/keys         list keys (never a secret)
    GET    /admin/keys/{id}    one key
    PATCH  /admin/keys/{id}    change its label, team, models, limits, budget, expiry or metadata
    DELETE /admin/keys/{id}    revoke it: refused by every instance within a second
    POST   /admin/users        create a user; GET lists them; /admin/users/{id}: GET, PATCH, DELETE
    POST   /admin/teams        create a team; GET lists them (config teams too); /admin/teams/{id}: GET, PATCH, DELETE
    GET    /admin/audit        every admin action: who, when, what changed, from where (never a secret)
    GET    /admin/alerts       the alerts sent to the webhooks, with their deliveries
    GET    /admin/usage        the ledger's totals or time series, grouped by key, team, model, provider…
    GET    /admin/errors       the period's failures by status, code and message, most frequent first
    GET    /admin/logs         the conversation log: logged requests, newest first, filtered and searched
    GET    /admin/logs/{id}    one logged request whole: its input and output messages
    GET    /admin/models       every routable model and alias: deployments, health, capabilities, prices
    GET    /admin/oidc[/login|/callback|/logout]   single sign-on with the identity provider (oidc.py)
    GET    /admin/mcp/servers  the upstream MCP servers: configuration (no secret), state, tools
    POST   /admin/mcp/servers  add one (kept in the store)
    GET    /admin/mcp/servers/{name}  one server and its tools
    DELETE /admin/mcp/servers/{name}  remove one added here

Each route checks the caller's role (identity/roles.py): admin everything, team_admin their teams' keys
and usage, member their own keys and usage, viewer usage and the model catalog.
"""

from __future__ import annotations

from typing import Final

from babelgate.frontends.admin import teams as teams_route
from babelgate.frontends.admin import users as users_route
from babelgate.frontends.admin.audit import AUDIT_QUERY, alerts, audit
from babelgate.frontends.admin.keys import CREATE_FIELDS, KEY_OPERATIONS, PREFIX, key, keys
from babelgate.frontends.admin.logs import LOGS_QUERY, log_entry, logs
from babelgate.frontends.admin.logs import PREFIX as LOGS_PREFIX
from babelgate.frontends.admin.mcp import PREFIX as MCP_PREFIX
from babelgate.frontends.admin.mcp import SERVER_FIELDS, SERVER_OPERATIONS, server, servers
from babelgate.frontends.admin.models import models
from babelgate.frontends.admin.oidc import callback, info, login, logout
from babelgate.frontends.admin.session import session
from babelgate.frontends.admin.usage import ERRORS_QUERY, USAGE_QUERY, errors, usage
from babelgate.frontends.body_schema import STRING
from babelgate.frontends.route import Frontend, Operation, PrefixRoute, Route

LOGIN: Final = {"type": "object", "required": ["master_key"], "properties": {"master_key": STRING}}

# Public to the gateway-key check: the master key (or a session made from it) is checked here instead.
ROUTES: dict[str, Route] = {
    "/admin/session": Route(
        "ANY",
        session,
        "admin.session",
        public=True,
        operations=(Operation("GET"), Operation("POST", body=LOGIN), Operation("DELETE")),
    ),
    "/admin/keys": Route(
        "ANY",
        keys,
        "admin.keys",
        public=True,
        operations=(Operation("GET"), Operation("POST", body=CREATE_FIELDS, status=201, body_optional=True)),
    ),
    "/admin/users": Route(
        "ANY",
        users_route.users,
        "admin.users",
        public=True,
        operations=(Operation("GET"), Operation("POST", body=users_route.USER_FIELDS, status=201)),
    ),
    "/admin/teams": Route(
        "ANY",
        teams_route.teams,
        "admin.teams",
        public=True,
        operations=(Operation("GET"), Operation("POST", body=teams_route.TEAM_FIELDS, status=201)),
    ),
    "/admin/audit": Route("GET", audit, "admin.audit", public=True, operations=(Operation("GET", query=AUDIT_QUERY),)),
    "/admin/alerts": Route(
        "GET", alerts, "admin.alerts", public=True, operations=(Operation("GET", query=("limit",)),)
    ),
    "/admin/usage": Route("GET", usage, "admin.usage", public=True, operations=(Operation("GET", query=USAGE_QUERY),)),
    "/admin/errors": Route(
        "GET", errors, "admin.errors", public=True, operations=(Operation("GET", query=ERRORS_QUERY),)
    ),
    "/admin/logs": Route("GET", logs, "admin.logs", public=True, operations=(Operation("GET", query=LOGS_QUERY),)),
    "/admin/mcp/servers": Route(
        "ANY",
        servers,
        "admin.mcp",
        public=True,
        operations=(Operation("GET"), Operation("POST", body=SERVER_FIELDS, status=201)),
    ),
    "/admin/oidc": Route("GET", info, "admin.oidc", public=True),
    "/admin/oidc/login": Route(
        "GET", login, "admin.oidc.login", public=True, operations=(Operation("GET", status=302),)
    ),
    "/admin/oidc/callback": Route(
        "GET",
        callback,
        "admin.oidc.callback",
        public=True,
        operations=(Operation("GET", status=302, query=("code", "state")),),
    ),
    "/admin/oidc/logout": Route(
        "GET", logout, "admin.oidc.logout", public=True, operations=(Operation("GET", status=302),)
    ),
    "/admin/models": Route(
        "GET", models, "admin.models", public=True, operations=(Operation("GET", query=("listed",)),)
    ),
}

# Public to the gateway-key check: the admin API checks the master key itself.
FRONTEND: Final[Frontend] = Frontend(
    routes=ROUTES,
    prefix_routes=(
        PrefixRoute(PREFIX, "admin.keys.read", key, True, "key_id", KEY_OPERATIONS),
        PrefixRoute(LOGS_PREFIX, "admin.logs.read", log_entry, True, "request_id", {"": (Operation("GET"),)}),
        PrefixRoute(MCP_PREFIX, "admin.mcp.read", server, True, "name", SERVER_OPERATIONS),
        PrefixRoute(
            users_route.PREFIX, "admin.users.read", users_route.user, True, "user_id", users_route.USER_OPERATIONS
        ),
        PrefixRoute(
            teams_route.PREFIX, "admin.teams.read", teams_route.team, True, "team_id", teams_route.TEAM_OPERATIONS
        ),
    ),
)

__all__ = ["FRONTEND", "KEY_OPERATIONS", "PREFIX", "ROUTES", "key"]
