"""JWT callers with tokens of a real OpenID provider (the certified `oidc-provider`, provider.mjs): a client
gets an access token for the gateway (client credentials, RFC 8707 resource indicator, JWT format, signed
with the provider's own keys), and the official SDKs call the gateway with it as their API key. The
gateway finds the provider's JWKS through its discovery document (no `jwks_url` configured)."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.identity import provider

RESOURCE = "urn:babelgate"


@pytest.fixture(scope="module")
def real_issuer() -> Iterator[str]:
    with provider.running("http://127.0.0.1:9/unused", "http://127.0.0.1:9/unused") as url:
        yield url


def _token(issuer: str) -> str:
    answer = httpx.post(
        issuer + "/token",
        data={"grant_type": "client_credentials", "resource": RESOURCE, "scope": "models"},
        auth=(provider.CLIENT_ID, provider.CLIENT_SECRET),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    assert token.count(".") == 2  # a JWT, not an opaque token
    return token


def test_an_access_token_of_the_provider_is_a_jwt_caller(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, real_issuer: str
) -> None:
    issuer = real_issuer
    config = f"""
providers:
  openai: {{base_url: {upstream.base_url}, api_key: env:OPENAI_API_KEY}}
models:
  chat: {{provider: openai, model: gpt-4o}}
auth:
  jwt: {{issuer: {issuer}, audience: {RESOURCE}, claims: {{user: client_id}}}}
"""
    gateway = make_gateway(config)
    token = _token(issuer)
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=token, max_retries=0, timeout=10) as client:
        answer = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content
    with anthropic.Anthropic(base_url=gateway.url, api_key=token, max_retries=0, timeout=10) as claude:
        message = claude.messages.create(model="chat", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert message.content
    # A token of the same provider for another resource is refused: not meant for the gateway.
    other = httpx.post(
        issuer + "/token",
        data={"grant_type": "client_credentials", "resource": "urn:another-api", "scope": "models"},
        auth=(provider.CLIENT_ID, provider.CLIENT_SECRET),
        timeout=10,
    ).json()["access_token"]
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key=other, max_retries=0, timeout=10) as client,
        pytest.raises(openai.AuthenticationError, match="audience"),
    ):
        client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
