"""The ID token checks of sign-in (identity/oidc.py, OpenID Connect Core 3.1.3.7), against a provider's
discovery document and JWKS served on 127.0.0.1: the token of this sign-in is accepted; one with another
nonce, for another client, expired, of another issuer, signed by an unpublished key, or issued to several
audiences without naming us as `azp`, is refused. The browser flow itself is test_sign_in.py's."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from babelgate.config.identity import OidcConfig
from babelgate.errors import AuthenticationFailed
from babelgate.identity.oidc import OidcClient
from tests.identity.issuer import Issuer, new_key


def _client(issuer: Issuer) -> OidcClient:
    return OidcClient(OidcConfig(issuer=issuer.issuer, client_id="dashboard", redirect_url="/admin/oidc/callback"))


def _reason(client: OidcClient, token: str, nonce: str = "n-1") -> str:
    with pytest.raises(AuthenticationFailed) as refused:
        asyncio.run(client.validate(token, nonce))
    assert refused.value.code == "oidc_failed"
    return str(refused.value.params["reason"])


def test_an_id_token_is_checked_as_openid_connect_says(issuer: Issuer) -> None:
    client = _client(issuer)

    def token(**changes: Any) -> str:
        claims: dict[str, Any] = {"audience": "dashboard", "nonce": "n-1", **changes}
        return issuer.token("ann", **claims)

    claims = asyncio.run(client.validate(token(), "n-1"))
    assert (claims["sub"], claims["aud"]) == ("ann", "dashboard")
    assert "nonce" in _reason(client, token(nonce="n-2"))
    assert "nonce" in _reason(client, token(nonce=None))
    assert "InvalidAudience" in _reason(client, token(audience="another-client"))
    assert "ExpiredSignature" in _reason(client, token(lifetime=-600))
    assert "InvalidIssuer" in _reason(client, token(iss="https://elsewhere.example"))
    assert "not signed with a key" in _reason(client, issuer.token("ann", kid="gone", key=new_key("RS256")))
    forged = issuer.token("ann", audience="dashboard", nonce="n-1", key=new_key("RS256"))
    assert "InvalidSignature" in _reason(client, forged)
    several = issuer.token("ann", audience=["dashboard", "other"], nonce="n-1")
    assert "azp" in _reason(client, several)
    assert asyncio.run(
        client.validate(issuer.token("ann", audience=["dashboard", "other"], nonce="n-1", azp="dashboard"), "n-1")
    )
    # A key rotated in since the JWKS was read is found by one more read (once `min_refresh` has passed
    # since the read the made-up kid above caused: ten seconds by default, none here).
    assert client.jwks is not None
    client.jwks.min_refresh = 0
    issuer.rotate()
    assert asyncio.run(client.validate(token(), "n-1"))["sub"] == "ann"


def test_a_sign_in_goes_to_the_provider_with_pkce_state_and_nonce(issuer: Issuer) -> None:
    started = asyncio.run(_client(issuer).begin("https://gw.example/admin/oidc/callback"))
    assert started.url.startswith(issuer.issuer + "/authorize?")
    for part in (
        "response_type=code",
        "client_id=dashboard",
        "code_challenge_method=S256",
        f"state={started.state}",
        f"nonce={started.nonce}",
        "redirect_uri=https%3A%2F%2Fgw.example%2Fadmin%2Foidc%2Fcallback",
    ):
        assert part in started.url
    assert started.verifier not in started.url  # only its S256 hash goes out
