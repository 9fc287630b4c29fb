"""Signing people in with OpenID Connect (`auth.oidc`; docs/decisions.md, "Identity: JWT callers and sign-in"):
the authorization code flow with PKCE (S256), `state` against cross-site request forgery and `nonce` against replayed ID
tokens, the endpoints from the provider's discovery document, and the ID token validated as OpenID Connect Core 3.1.3.7
says: signature against the provider's JWKS (jwks.py, so key rotation is followed), issuer, audience (our
client id, `azp` when there are several), expiry, issued-at, and the nonce we sent.

The person becomes a `Principal`: who (`user_claim`, else `sub`), their groups (`groups_claim`, from the ID
token or else the userinfo endpoint), and the most powerful role a group of theirs maps to in
`auth.oidc.roles` (else `default_role`, else refused). The dashboard's session is then the gateway's own
signed cookie (frontends/admin/access.py); nothing of the provider's tokens is kept."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import jwt

from babelgate.config.identity import OidcConfig
from babelgate.errors import AuthenticationFailed, PermissionDenied
from babelgate.identity.discovery import ProviderUnreachable, discover, get_json
from babelgate.identity.jwks import Jwks
from babelgate.identity.roles import Principal, as_role, listed, role_from_groups

LEEWAY: Final = 60.0  # seconds of clock skew allowed on the ID token's exp and iat
SIGNING: Final = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"]


@dataclass(frozen=True, slots=True)
class Login:
    """One sign-in under way: where to send the browser, and what the callback must match."""

    url: str
    state: str
    nonce: str
    verifier: str  # PKCE's code verifier: only its S256 hash went to the provider


class OidcClient:
    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._document: dict[str, Any] | None = None
        self.jwks: Jwks | None = None

    async def document(self) -> dict[str, Any]:
        """The discovery document, read once (a failure is read again on the next sign-in)."""
        if self._document is None:
            try:
                document = await discover(self.config.issuer)
            except ProviderUnreachable as exc:
                raise _failed(f"the identity provider did not answer ({exc})") from None
            self._document = document
            self.jwks = Jwks(self.config.issuer, str(document.get("jwks_uri") or "") or None)
        return self._document

    async def begin(self, redirect_uri: str) -> Login:
        document = await self.document()
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        endpoint = str(document["authorization_endpoint"])
        return Login(f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}", state, nonce, verifier)

    async def finish(
        self,
        code: str,
        verifier: str,
        nonce: str,
        redirect_uri: str,
        *,
        stored_role: Callable[[str], str | None] | None = None,
    ) -> Principal:
        """Exchange the code (with the PKCE verifier) for tokens, validate the ID token, map the person.
        `stored_role`: the role an admin set for a user through the admin API, which wins over the
        groups' mapping (and lets in a person none of whose groups is mapped)."""
        document = await self.document()
        config = self.config
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        basic = None
        methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if config.client_secret and "client_secret_basic" in methods:
            basic = (config.client_id, config.client_secret)
        else:
            form["client_id"] = config.client_id
            if config.client_secret:
                form["client_secret"] = config.client_secret
        try:
            tokens = await get_json(str(document["token_endpoint"]), form=form, basic=basic)
        except ProviderUnreachable as exc:
            raise _failed(f"the code was not accepted ({exc})") from None
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise _failed("the provider answered no ID token")
        claims = await self.validate(id_token, nonce)
        groups_claim = config.groups_claim
        if groups_claim not in claims and isinstance(tokens.get("access_token"), str):
            endpoint = document.get("userinfo_endpoint")
            if endpoint:
                try:
                    info = await get_json(str(endpoint), bearer=tokens["access_token"])
                except ProviderUnreachable:
                    info = {}
                if info.get("sub") == claims["sub"]:  # Core 5.3.2: the userinfo must be the same person's
                    claims = {**info, **claims}
        groups = listed(claims.get(groups_claim))
        user = str(claims.get(config.user_claim) or claims["sub"])
        stored = as_role(stored_role(user)) if stored_role is not None else None
        role = stored or role_from_groups(groups, config.roles) or config.default_role
        if role is None:
            raise PermissionDenied("no_role", code="no_role")
        return Principal(user, role, groups)

    async def validate(self, id_token: str, nonce: str) -> dict[str, Any]:
        await self.document()
        assert self.jwks is not None
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.InvalidTokenError:
            raise _failed("the ID token is not a JWT") from None
        kid = header.get("kid")
        key = await self.jwks.find(kid if isinstance(kid, str) else None)
        if key is None or header.get("alg") not in SIGNING or header.get("alg") != key.algorithm_name:
            raise _failed("the ID token is not signed with a key of the provider")
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=key,
                algorithms=[key.algorithm_name],
                audience=self.config.client_id,
                issuer=self.config.issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.InvalidTokenError as exc:
            raise _failed(f"the ID token is not valid ({type(exc).__name__})") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
            raise _failed("the ID token was issued to another client (azp)")
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
            raise _failed("the ID token's nonce is not this sign-in's")
        return claims

    async def logout_url(self) -> str | None:
        """The provider's end-session endpoint (RP-Initiated Logout), if it has one."""
        document = await self.document()
        endpoint = document.get("end_session_endpoint")
        if not endpoint:
            return None
        return f"{endpoint}{'&' if '?' in str(endpoint) else '?'}{urlencode({'client_id': self.config.client_id})}"


def _failed(reason: str) -> AuthenticationFailed:
    return AuthenticationFailed("oidc_failed", code="oidc_failed", reason=reason)
