"""Google's credential sources on 127.0.0.1: the OAuth2 token endpoint a service-account key exchanges
its signed JWT assertion at, and a GCE metadata server (what application default credentials find on
Google Cloud, GKE workload identity included). Both issue tokens into a `TokenRegistry` with an expiry.

The token endpoint verifies what google-auth sends as Google does: the `urn:ietf:params:oauth:grant-type:
jwt-bearer` grant, and an RS256 JWT whose signature checks with the service account's public key (the
test generated the key pair: `service_account_key`), issued by the account's email for Google's token
audience, with the cloud-platform scope, not expired. A wrong signature or an unknown account is
Google's `invalid_grant` 400. The metadata server answers only requests with `Metadata-Flavor: Google`.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.cloud_tokens import TokenRegistry
from tests.fakes.scripted import ScriptedStreams

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # google-auth's `aud`, whatever token_uri says
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ACCOUNT = "babelgate-test@fake-project.iam.gserviceaccount.com"


def service_account_key(path: Path, token_uri: str, *, email: str = ACCOUNT) -> rsa.RSAPublicKey:
    """Writes a service-account JSON key (a fresh RSA key pair) to `path`; returns its public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "fake-project",
                "private_key_id": "fakekeyid0123456789",
                "private_key": pem,
                "client_email": email,
                "client_id": "100000000000000000001",
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": token_uri,
            }
        )
    )
    return key.public_key()


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


class FakeGoogleOAuth(ScriptedStreams):
    """`POST /token`: a JWT-bearer grant → `{"access_token", "expires_in", "token_type"}`."""

    def __init__(self, registry: TokenRegistry) -> None:
        self.registry = registry
        self.accounts: dict[str, rsa.RSAPublicKey] = {}  # client_email → public key
        self.grants: list[dict[str, Any]] = []  # the verified assertions' claims
        self.refusals: list[str] = []
        self.delay = 0.0
        self.port = 0

    @property
    def token_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def reset(self) -> None:
        self.accounts.clear()
        self.grants.clear()
        self.refusals.clear()
        self.delay = 0.0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/token", self._token)
        await self.serve(app)

    def _refuse(self, why: str, description: str) -> web.Response:
        self.refusals.append(why)
        return web.json_response({"error": "invalid_grant", "error_description": description}, status=400)

    async def _token(self, request: web.Request) -> web.Response:
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        form = await request.post()
        if form.get("grant_type") != JWT_GRANT:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        assertion = str(form.get("assertion", ""))
        try:
            header_b64, payload_b64, signature_b64 = assertion.split(".")
            header, claims = orjson.loads(_b64(header_b64)), orjson.loads(_b64(payload_b64))
        except ValueError:
            return self._refuse("malformed assertion", "Invalid JWT.")
        if header.get("alg") != "RS256":
            return self._refuse(f"alg {header.get('alg')!r}", "Invalid JWT Signature.")
        public = self.accounts.get(str(claims.get("iss")))
        if public is None:
            return self._refuse("unknown account", "Invalid grant: account not found")
        try:
            public.verify(
                _b64(signature_b64),
                f"{header_b64}.{payload_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return self._refuse("bad signature", "Invalid JWT Signature.")
        now = time.time()
        if claims.get("aud") != GOOGLE_TOKEN_AUDIENCE:
            return self._refuse(f"aud {claims.get('aud')!r}", "Invalid JWT: audience.")
        if not (claims.get("iat", 0) - 60 <= now <= claims.get("exp", 0)):
            return self._refuse("expired assertion", "Invalid JWT: Token must be a short-lived token.")
        scopes = str(claims.get("scope", "")).split()
        if CLOUD_PLATFORM not in scopes:
            return self._refuse(f"scopes {scopes}", "Invalid OAuth scope or ID token audience provided.")
        self.grants.append(claims)
        issued = self.registry.issue("oauth2", CLOUD_PLATFORM, "ya29.sa-")
        return web.json_response(
            {
                "access_token": issued.token,
                "expires_in": round(issued.expires_at - now),
                "token_type": "Bearer",
            }
        )


class FakeMetadataServer(ScriptedStreams):
    """The GCE metadata server's ping, project id, default service account and its token."""

    def __init__(self, registry: TokenRegistry) -> None:
        self.registry = registry
        self.token_requests = 0
        self.port = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def reset(self) -> None:
        self.token_requests = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._ping)
        app.router.add_get("/computeMetadata/v1/project/project-id", self._project)
        # google-auth asks for `default` first, then by the account's email.
        app.router.add_get("/computeMetadata/v1/instance/service-accounts/{account}/", self._account)
        app.router.add_get("/computeMetadata/v1/instance/service-accounts/{account}/token", self._token)
        app.router.add_get("/computeMetadata/v1/universe/universe-domain", self._universe)
        await self.serve(app)

    @staticmethod
    def _flavoured(request: web.Request) -> web.Response | None:
        if request.headers.get("Metadata-Flavor") != "Google":
            return web.Response(status=403, text="Missing Metadata-Flavor:Google header.")
        return None

    @staticmethod
    def _answer(payload: Any) -> web.Response:
        body = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
        return web.Response(
            text=body,
            content_type="text/plain" if isinstance(payload, str) else "application/json",
            headers={"Metadata-Flavor": "Google"},
        )

    async def _ping(self, request: web.Request) -> web.Response:
        return self._flavoured(request) or self._answer("computeMetadata/")

    async def _project(self, request: web.Request) -> web.Response:
        return self._flavoured(request) or self._answer("fake-project")

    async def _universe(self, request: web.Request) -> web.Response:
        return self._flavoured(request) or self._answer("googleapis.com")

    def _unknown(self, request: web.Request) -> web.Response | None:
        if request.match_info["account"] not in ("default", ACCOUNT):
            return web.Response(status=404, text="404: Not Found")
        return None

    async def _account(self, request: web.Request) -> web.Response:
        return (
            self._flavoured(request)
            or self._unknown(request)
            or self._answer({"aliases": ["default"], "email": ACCOUNT, "scopes": [CLOUD_PLATFORM]})
        )

    async def _token(self, request: web.Request) -> web.Response:
        refused = self._flavoured(request) or self._unknown(request)
        if refused is not None:
            return refused
        self.token_requests += 1
        issued = self.registry.issue("metadata", CLOUD_PLATFORM, "ya29.gce-")
        return self._answer(
            {"access_token": issued.token, "expires_in": round(issued.expires_at - time.time()), "token_type": "Bearer"}
        )
