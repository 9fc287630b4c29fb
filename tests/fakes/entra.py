"""A fake Microsoft Entra ID (login.microsoftonline.com) on 127.0.0.1 over HTTPS (MSAL refuses an authority
that is not https; the test's own CA, tests/fakes/pki.py, signs its certificate): the tenant's OpenID
configuration, and its v2.0 token endpoint for the client-credentials grant, with a client secret or a
federated client assertion (workload identity). It checks the form fields as Entra does and answers with
Entra's own errors (AADSTS7000215 for a wrong secret, AADSTS700016 for an unknown app, AADSTS90002 for an
unknown tenant); the tokens it issues go into a `TokenRegistry`, with an expiry."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.cloud_tokens import TokenRegistry
from tests.fakes.scripted import ScriptedStreams

TENANT = "00000000-0000-0000-0000-00000000cafe"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class App:
    secret: str | None = None  # a client secret it takes
    federated: str | None = None  # a federated token (workload identity) it takes as client_assertion


@dataclass
class Grant:
    client_id: str
    scope: str
    kind: str  # "secret" or "assertion"


@dataclass
class FakeEntraState:
    apps: dict[str, App] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)


@web.middleware
async def _close_connection(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    response.force_close()
    return response


class FakeEntra(ScriptedStreams):
    def __init__(self, registry: TokenRegistry) -> None:
        self.registry = registry
        self.state = FakeEntraState()
        self.port = 0

    @property
    def authority(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def reset(self) -> None:
        self.state = FakeEntraState()

    async def start(self) -> None:
        # MSAL keeps its connections (requests' pool, in the gateway's worker threads) past the test session's
        # end, when this server's loop is closed: it closes each one itself instead.
        app = web.Application(middlewares=[_close_connection])
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._configuration)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        await self.serve(app)

    def _error(self, status: int, error: str, code: int, description: str) -> web.Response:
        self.state.refusals.append(f"{error} AADSTS{code}")
        return web.json_response(
            {
                "error": error,
                "error_description": f"AADSTS{code}: {description} Trace ID: 0000 Correlation ID: 0000",
                "error_codes": [code],
                "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            },
            status=status,
        )

    async def _configuration(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        if tenant != TENANT:
            return self._error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        root = f"{self.authority}/{tenant}"
        return web.json_response(
            {
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                "issuer": f"{root}/v2.0",
                "jwks_uri": f"{root}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "tenant_region_scope": "EU",
            }
        )

    async def _token(self, request: web.Request) -> web.Response:
        if request.match_info["tenant"] != TENANT:
            return self._error(400, "invalid_tenant", 90002, f"Tenant '{request.match_info['tenant']}' not found.")
        form: Any = await request.post()
        if form.get("grant_type") != "client_credentials":
            return self._error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        client_id = str(form.get("client_id", ""))
        app = self.state.apps.get(client_id)
        if app is None:
            return self._error(
                400, "unauthorized_client", 700016, f"Application with identifier '{client_id}' was not found."
            )
        scope = str(form.get("scope", ""))
        if not scope.endswith("/.default") or len(scope.split()) != 1:
            return self._error(400, "invalid_scope", 1002012, f"The provided value for scope {scope} is not valid.")
        if "client_secret" in form:
            if app.secret is None or form["client_secret"] != app.secret:
                return self._error(401, "invalid_client", 7000215, "Invalid client secret provided.")
            kind = "secret"
        elif form.get("client_assertion_type") == ASSERTION_TYPE:
            if app.federated is None or form.get("client_assertion") != app.federated:
                return self._error(400, "invalid_client", 700211, "No matching federated identity record found.")
            kind = "assertion"
        else:
            return self._error(
                401, "invalid_client", 7000218, "The request body must contain client_assertion or client_secret."
            )
        self.state.grants.append(Grant(client_id, scope, kind))
        issued = self.registry.issue("entra", scope.removesuffix("/.default"), "eyJ0eXAiOiJKV1Qi.entra-")
        lifetime = round(issued.expires_at - time.time())
        return web.json_response(
            {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": issued.token}
        )


class FakeManagedIdentity(ScriptedStreams):
    """An Azure managed identity endpoint as App Service and Container Apps expose it to their apps
    (`IDENTITY_ENDPOINT`, with the `IDENTITY_HEADER` secret sent back as `X-IDENTITY-HEADER`): `GET
    ?api-version=2019-08-01&resource=…` → `{"access_token", "expires_on", "resource", "token_type"}`."""

    header = "managed-identity-test-header-0123"

    def __init__(self, registry: TokenRegistry) -> None:
        self.registry = registry
        self.requests: list[dict[str, str]] = []
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/msi/token"

    def reset(self) -> None:
        self.requests.clear()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/msi/token", self._token)
        await self.serve(app)

    async def _token(self, request: web.Request) -> web.Response:
        self.requests.append(dict(request.query))
        if request.headers.get("X-IDENTITY-HEADER") != self.header:
            return web.json_response({"statusCode": 401, "message": "Unauthorized request."}, status=401)
        if request.query.get("api-version") != "2019-08-01":
            return web.json_response({"statusCode": 400, "message": "Invalid api-version."}, status=400)
        resource = request.query.get("resource", "")
        issued = self.registry.issue("managed", resource.removesuffix("/.default"), "eyJ0eXAiOiJKV1Qi.msi-")
        return web.json_response(
            {
                "access_token": issued.token,
                "expires_on": str(int(issued.expires_at)),
                "resource": resource,
                "token_type": "Bearer",
            },
            headers={"Connection": "close"},
        )
