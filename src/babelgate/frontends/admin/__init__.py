"""The admin API (DECISIONS 14, 17): JSON in and out under `/admin/`, behind the master key
(`Authorization: Bearer <master key>`) or a dashboard session (access.py). Without a master key
configured it is off, and says so. The CLI and the dashboard use these routes and nothing else.

    POST   /admin/session      log in with the master key: a session cookie and its CSRF token
    GET    /admin/session      the session's CSRF token again (401 without a valid session)
    DELETE /admin/session      log out
    POST   /admin/keys         create a virtual key; the answer shows its secret, this once
    GET    /admin/keys         list keys (never a secret)
    GET    /admin/keys/{id}    one key
    PATCH  /admin/keys/{id}    change its label, team, models, limits, budget, expiry or metadata
    DELETE /admin/keys/{id}    revoke it: refused by every instance within a second
    GET    /admin/usage        the ledger's totals or time series, grouped by key, team, model, provider…
    GET    /admin/errors       the period's failures by status, code and message, most frequent first
    GET    /admin/models       every routable model and alias: deployments, health, capabilities, prices
"""

from __future__ import annotations

from typing import Final

from babelgate.frontends.admin.keys import KEY_FIELDS, KEY_OPERATIONS, PREFIX, key, keys
from babelgate.frontends.admin.models import models
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
        operations=(Operation("GET"), Operation("POST", body=KEY_FIELDS, status=201, body_optional=True)),
    ),
    "/admin/usage": Route("GET", usage, "admin.usage", public=True, operations=(Operation("GET", query=USAGE_QUERY),)),
    "/admin/errors": Route(
        "GET", errors, "admin.errors", public=True, operations=(Operation("GET", query=ERRORS_QUERY),)
    ),
    "/admin/models": Route(
        "GET", models, "admin.models", public=True, operations=(Operation("GET", query=("listed",)),)
    ),
}

# Public to the gateway-key check: the admin API checks the master key itself.
FRONTEND: Final = Frontend(
    routes=ROUTES, prefix_routes=(PrefixRoute(PREFIX, "admin.keys.read", key, True, "key_id", KEY_OPERATIONS),)
)

__all__ = ["FRONTEND", "KEY_OPERATIONS", "PREFIX", "ROUTES", "key"]
