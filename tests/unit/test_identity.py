"""The identity pieces on their own: roles from groups and claims, the auth config (secrets as
env: references, no HMAC or `none` algorithms), dashboard sessions that carry who signed in (and refuse a
changed role), and the JWT callers' cache: a repeated token is not verified again until it expires."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt import PyJWK
from pydantic import ValidationError

from babelgate.config.identity import JwtConfig, RoleMapping
from babelgate.config.load import ConfigError
from babelgate.errors import AuthenticationFailed
from babelgate.frontends.admin import access
from babelgate.identity.bearer import looks_like_jwt
from babelgate.identity.jwks import Jwks
from babelgate.identity.jwt_callers import JwtCallers
from babelgate.identity.roles import MASTER, Principal, as_role, listed, role_from_groups
from tests.identity.issuer import public_jwk
from tests.unit.test_config_load import load

MAPPING = RoleMapping(admin=("ops",), team_admin=("leads",), member=("devs",), viewer=("finance",))


def test_the_most_powerful_mapped_role_wins() -> None:
    assert role_from_groups(["devs", "leads"], MAPPING) == "team_admin"
    assert role_from_groups(["finance", "ops"], MAPPING) == "admin"
    assert role_from_groups(["strangers"], MAPPING) is None
    assert as_role("Team-Admin") == as_role("team admin") == "team_admin"
    assert as_role("root") is None and as_role(7) is None
    assert listed("a b,c") == ("a", "b", "c") and listed(["a", 3, ""]) == ("a",) and listed(None) == ()
    assert Principal("x", "team_admin").at_least("member") and not Principal("x", "viewer").at_least("member")


def test_the_auth_config(tmp_path: Path) -> None:
    yaml_text = """
auth:
  jwt: {issuer: "https://idp.example", audience: babelgate}
  oidc:
    issuer: "https://idp.example"
    client_id: gateway
    client_secret: env:SSO_SECRET
    redirect_url: /admin/oidc/callback
    roles: {admin: [ops]}
"""
    config = load({"SSO_SECRET": "s3cret-of-the-client"}, yaml_text, tmp_path=tmp_path)
    assert config.auth.jwt is not None and config.auth.jwt.audience == ("babelgate",)
    assert config.auth.oidc is not None and config.auth.oidc.client_secret == "s3cret-of-the-client"
    assert "s3cret" not in repr(config)
    with pytest.raises(ConfigError, match=r"auth\.oidc\.client_secret"):
        load({}, yaml_text.replace("env:SSO_SECRET", "literal-secret"), tmp_path=tmp_path)
    with pytest.raises(ValidationError, match="never HS256"):
        JwtConfig(issuer="https://idp.example", audience=("a",), algorithms=("HS256",))


def _session_request(token: str) -> Any:
    class Request:
        scope = {"headers": [(b"cookie", f"other=1; {access.COOKIE}={token}".encode())]}

    return Request()


def test_a_session_carries_who_signed_in_and_cannot_be_changed() -> None:
    secret = "secret-of-the-sessions-0123456789"
    person = Principal("bob@example.com", "team_admin", ("search",))
    token, csrf, _ = access.new_session(secret, person)
    found = access.session_of(secret, _session_request(token))
    assert found is not None and found[2] == person
    assert csrf == access.csrf_token(secret, found[0])
    # A master-key session stays in the old three-part form, and is an admin.
    master, _, _ = access.new_session(secret)
    assert master.count(".") == 2
    assert access.session_of(secret, _session_request(master))[2] == MASTER  # type: ignore[index]
    # Another role pasted into the token breaks its signature.
    parts = token.split(".")
    forged = access.new_session(secret, Principal("bob@example.com", "admin", ("search",)))[0].split(".")[2]
    assert access.session_of(secret, _session_request(".".join([*parts[:2], forged, parts[3]]))) is None
    assert access.session_of("another-secret-0123456789", _session_request(token)) is None


class _Keys(Jwks):
    """The key set of one RSA key, given rather than read (the HTTP side is tests/identity's)."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        super().__init__("https://idp.example", "https://idp.example/jwks", min_refresh=60)
        entry = PyJWK(public_jwk(key, "k1", "RS256"))
        self.keys = {"k1": entry}

    async def load(self) -> None:
        self.reads += 1


def test_a_repeated_token_is_verified_once_until_it_expires() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    config = JwtConfig(issuer="https://idp.example", audience=("gw",), leeway=0)
    callers = JwtCallers(config, _Keys(key), teams=("search",))

    def token(lifetime: float, **claims: Any) -> bytes:
        now = time.time()
        payload = {"iss": "https://idp.example", "aud": "gw", "sub": "ann", "exp": now + lifetime, **claims}
        return jwt.encode(payload, key, "RS256", headers={"kid": "k1"}).encode()

    valid = token(60, groups=["x", "search"])
    assert looks_like_jwt(valid) and not looks_like_jwt(b"bg-0123") and not looks_like_jwt(b"eyJabc")
    assert callers.cached(valid) is None
    first = asyncio.run(callers.caller(valid))
    assert (first.key.id, first.key.team, first.key.user) == ("user:ann", "search", "ann")
    assert first.principal == Principal("ann", "member", ("x", "search"))  # default_role
    assert callers.cached(valid) is first
    # The same user, another token: the same synthetic key (one object per user, team and models).
    assert asyncio.run(callers.caller(token(120, groups=["search"]))).key is first.key
    short = token(1)
    asyncio.run(callers.caller(short))
    time.sleep(1.1)
    assert callers.cached(short) is None  # expired: verified again, and refused
    with pytest.raises(AuthenticationFailed) as refused:
        asyncio.run(callers.caller(short))
    assert refused.value.params["reason"] == "expired"
