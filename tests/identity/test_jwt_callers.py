"""JWT callers (auth.jwt) on every frontend, through the official SDKs with the JWT as their API
key: a valid token is served (RS256, ES256 and EdDSA keys), an expired one, one signed by a key the
provider never published, one meant for another audience and one of another issuer are refused in the
frontend's own error format; a token signed with a key the provider rotated in since the gateway last read
its JWKS is served after one read of the set, and reads of the set are rate-limited. The caller's user
and team reach the ledger, and its team's limits and its models apply as to a virtual key."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import ollama
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gt

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import RunningApp
from tests.identity.conftest import MASTER, jwt_config
from tests.identity.issuer import Issuer, new_key

ADMIN = {"Authorization": f"Bearer {MASTER}"}


def _openai_chat(gateway: RunningApp, token: str) -> str:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=token, max_retries=0, timeout=10) as client:
        answer = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    return answer.choices[0].message.content or ""


def _responses(gateway: RunningApp, token: str) -> str:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=token, max_retries=0, timeout=10) as client:
        return client.responses.create(model="chat", input="hi", store=False).output_text


def _anthropic(gateway: RunningApp, token: str) -> str:  # the SDK sends the key as x-api-key
    with anthropic.Anthropic(base_url=gateway.url, api_key=token, max_retries=0, timeout=10) as client:
        answer = client.messages.create(model="chat", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    return "".join(block.text for block in answer.content if block.type == "text")


def _gemini(gateway: RunningApp, token: str) -> str:  # the SDK sends the key as x-goog-api-key
    options = gt.HttpOptions(base_url=gateway.url, api_version="v1beta", timeout=10_000)
    client = genai.Client(api_key=token, http_options=options)
    try:
        return client.models.generate_content(model="chat", contents="hi").text or ""
    finally:
        client.close()


def _ollama(gateway: RunningApp, token: str) -> str:
    with ollama.Client(host=gateway.url, timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
        answer = client.chat(model="chat", messages=[{"role": "user", "content": "hi"}])
    return answer.message.content or ""


# Each frontend, its SDK call, and the SDK's exception for a 401 (with the status it carries).
FRONTENDS: dict[str, tuple[Callable[[RunningApp, str], str], Callable[[Exception], int | None]]] = {
    "openai-chat": (_openai_chat, lambda error: getattr(error, "status_code", None)),
    "responses": (_responses, lambda error: getattr(error, "status_code", None)),
    "anthropic-messages": (_anthropic, lambda error: getattr(error, "status_code", None)),
    "gemini": (_gemini, lambda error: getattr(error, "code", None)),
    "ollama": (_ollama, lambda error: getattr(error, "status_code", None)),
}
REFUSALS = (openai.APIStatusError, anthropic.APIStatusError, genai_errors.APIError, ollama.ResponseError)


def _refused(
    call: Callable[[RunningApp, str], str],
    status_of: Callable[[Exception], int | None],
    gateway: RunningApp,
    token: str,
) -> str:
    with pytest.raises(REFUSALS) as caught:
        call(gateway, token)
    assert status_of(caught.value) == 401, caught.value
    return str(caught.value)


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_every_frontend_serves_a_valid_token_and_refuses_bad_ones(
    frontend: str, gateway: RunningApp, issuer: Issuer
) -> None:
    call, status_of = FRONTENDS[frontend]
    for algorithm in ("RS256", "ES256", "EdDSA"):
        assert call(gateway, issuer.token("alice", algorithm=algorithm, groups=["search"]))
    expired = issuer.token("alice", lifetime=-120)  # past the 30 s leeway
    assert "expired" in _refused(call, status_of, gateway, expired)
    forged = issuer.token("alice", key=new_key("RS256"))  # a published kid, another key's signature
    assert "signature" in _refused(call, status_of, gateway, forged)
    unknown = issuer.token("alice", kid="never-published", key=new_key("RS256"))
    assert "does not publish" in _refused(call, status_of, gateway, unknown)
    elsewhere = issuer.token("alice", audience="another-service")
    assert "audience" in _refused(call, status_of, gateway, elsewhere)
    assert "static" not in _refused(call, status_of, gateway, "not-a-token-nor-a-key")


def test_a_token_of_a_rotated_key_is_served_after_one_read_of_the_jwks(gateway: RunningApp, issuer: Issuer) -> None:
    assert _openai_chat(gateway, issuer.token("alice"))
    reads = issuer.jwks_reads
    issuer.rotate()  # the provider publishes a new key; the gateway has not read it yet
    time.sleep(0.3)  # past min_refresh (0.2 s here)
    rotated = issuer.token("bob")
    assert _openai_chat(gateway, rotated)
    assert issuer.jwks_reads == reads + 1  # one read, on the unknown kid
    # Made-up kids cannot make the gateway read the set per request: at most one read per min_refresh.
    stranger = new_key("RS256")
    made_up = [issuer.token("eve", kid=f"made-up-{number}", key=stranger) for number in range(20)]
    began = time.monotonic()
    for token in made_up:
        _refused(*FRONTENDS["openai-chat"], gateway, token)
    allowed = 1 + int((time.monotonic() - began) / 0.2)
    assert issuer.jwks_reads - (reads + 1) <= allowed < len(made_up)
    # A repeated token is not verified again (a dictionary lookup): served even with the JWKS server's keys gone.
    issuer.keys.clear()
    assert _openai_chat(gateway, rotated)


def test_a_wrong_issuer_and_a_missing_exp_are_refused(gateway: RunningApp, issuer: Issuer) -> None:
    call, status_of = FRONTENDS["openai-chat"]
    assert "issuer" in _refused(call, status_of, gateway, issuer.token("alice", iss="https://elsewhere.example"))
    kid = issuer.kid()
    import jwt as pyjwt

    no_exp = pyjwt.encode(
        {"iss": issuer.issuer, "sub": "alice", "aud": "babelgate"}, issuer.keys[kid][0], "RS256", headers={"kid": kid}
    )
    assert "exp" in _refused(call, status_of, gateway, no_exp)
    # `alg: none` and HMAC signatures are never accepted, whatever the token says.
    unsigned = pyjwt.encode({"iss": issuer.issuer, "sub": "a", "aud": "babelgate", "exp": 2**31}, None, "none")
    assert "algorithm" in _refused(call, status_of, gateway, unsigned)


def test_the_ledger_keeps_the_user_and_the_team(gateway: RunningApp, issuer: Issuer) -> None:
    token = issuer.token("alice@example.com", groups=["unconfigured", "search"])
    assert _openai_chat(gateway, token)
    assert _anthropic(gateway, token)
    usage = httpx.get(gateway.url + "/admin/usage?group_by=key,team", headers=ADMIN, timeout=10).json()["data"]
    rows = {(row["key"], row["team"]): row["requests"] for row in usage}
    # The team that `teams:` configures is the caller's team, even when listed second.
    assert rows == {("user:alice@example.com", "search"): 2}, usage
    assert token not in str(usage)


def test_the_models_claim_and_the_team_limits_apply(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, issuer: Issuer
) -> None:
    config = jwt_config(upstream, issuer).replace("search: {rpm: 1000}", "search: {rpm: 2}")
    gateway = make_gateway(config, env={"BABELGATE_MASTER_KEY": MASTER})
    limited = issuer.token("carol", groups=["search"], models=["mini"])
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=limited, max_retries=0, timeout=10) as client:
        with pytest.raises(openai.PermissionDeniedError, match="chat"):
            client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
        for _ in range(2):
            client.chat.completions.create(model="mini", messages=[{"role": "user", "content": "hi"}])
    # Another member of the team shares its limit: the team's third request this minute is refused.
    other = issuer.token("dave", groups=["search"])
    with pytest.raises(openai.RateLimitError):
        _openai_chat(gateway, other)


def test_without_a_key_or_a_token_nothing_is_served(gateway: RunningApp) -> None:
    response = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "chat", "messages": []}, timeout=10)
    assert response.status_code == 401
    body: dict[str, Any] = response.json()
    assert body["error"]["type"] == "authentication_error"


# The SDK's `responses.connect()` opens its socket the way websockets 17 deprecates (as the Responses tests note).
@pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")
def test_a_responses_websocket_takes_a_token_at_connect(gateway: RunningApp, issuer: Issuer) -> None:
    token = issuer.token("wendy", groups=["search"])
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key=token, max_retries=0, timeout=10) as client,
        client.responses.connect() as connection,
    ):
        connection.response.create(model="chat", input="hi", store=False)
        for event in connection:
            if event.type in ("response.completed", "response.failed", "error"):
                break
    assert event.type == "response.completed", event
    expired = issuer.token("wendy", lifetime=-300)
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key=expired, max_retries=0, timeout=10) as client,
        client.responses.connect() as connection,
    ):
        refused = next(iter(connection))  # said at connect, before anything is asked
    assert refused.type == "error" and "expired" in str(refused), refused


def test_an_unreachable_identity_provider_is_a_503_not_a_refusal(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, issuer: Issuer
) -> None:
    token = issuer.token("alice")
    config = jwt_config(upstream, issuer).replace(f"issuer: {issuer.issuer}", "issuer: http://127.0.0.1:9")
    gateway = make_gateway(config, env={"BABELGATE_MASTER_KEY": MASTER})
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key=token, max_retries=0, timeout=10) as client,
        pytest.raises(openai.InternalServerError) as caught,
    ):
        client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    assert (caught.value.status_code, caught.value.code) == (503, "identity_provider_unavailable")
