"""What crosses the gateway in headers, both ways, is an allow-list: a client's credentials, cookies
and unknown headers never reach a provider (the provider gets the gateway's own key), and a
provider's cookies, server banners and unknown headers never reach the client. CORS is off by
default and answers only the origins `server.cors` names."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import UPSTREAM_KEY, GatewayFactory
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import FakeOpenAI, Reply, completion

CLIENT_SECRET = "client-secret-header-value-0042"
GATEWAY_KEY = "gw-test-KEY-abcdef0123456789"
# What a client may see: the transport's own, ours, and the few provider headers we translate.
TO_CLIENT = {
    "content-type",
    "content-length",
    "date",
    "connection",
    "transfer-encoding",
    "keep-alive",
    "x-request-id",
    "x-babelgate-route",
    "x-babelgate-attempts",
    "x-babelgate-adjusted-params",
    "x-babelgate-cost-usd",
    "x-babelgate-cache",
    "retry-after",
    "cache-control",
    "x-accel-buffering",
    "vary",
}
TO_CLIENT_PREFIXES = ("x-ratelimit-", "access-control-")
# What a provider may see: the transport's own, the gateway's credentials and the provider's API headers.
TO_PROVIDER = {
    "host",
    "content-type",
    "content-length",
    "accept",
    "accept-encoding",
    "user-agent",
    "authorization",
    "connection",
    "x-api-key",
    "anthropic-version",
    "anthropic-beta",
    "x-goog-api-key",
}
HOSTILE = {
    "Authorization": f"Bearer {GATEWAY_KEY}",
    "Cookie": f"session={CLIENT_SECRET}",
    "X-Custom-Secret": CLIENT_SECRET,
    "X-Forwarded-For": "10.0.0.1",
    "OpenAI-Organization": "org-client",
    "Proxy-Authorization": f"Basic {CLIENT_SECRET}",
}
UPSTREAM_HEADERS = {
    "Set-Cookie": "upstream_session=abc; HttpOnly",
    "Server": "upstream/1.2.3",
    "X-Upstream-Internal": "node-17",
    "OpenAI-Organization": "org-upstream",
    "x-ratelimit-remaining-requests": "99",
}

CONFIG = """
server:
  api_keys: [env:GW_KEY]
aliases:
  gpt: openai/gpt-4o
"""


def _unexpected_to_client(headers: httpx.Headers) -> set[str]:
    return {name for name in headers if name not in TO_CLIENT and not name.startswith(TO_CLIENT_PREFIXES)}


@pytest.mark.parametrize("stream", [False, True])
def test_only_allowed_headers_cross_in_either_direction(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, stream: bool
) -> None:
    gateway = make_gateway(CONFIG, env={"GW_KEY": GATEWAY_KEY})
    if stream:
        upstream.replies.append(
            Reply(
                stream=[
                    {
                        "id": "c",
                        "object": "chat.completion.chunk",
                        "created": 1,
                        "model": "gpt-4o",
                        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}],
                    }
                ],
                headers=UPSTREAM_HEADERS,
            )
        )
    else:
        upstream.replies.append(Reply(json=completion("hi"), headers=UPSTREAM_HEADERS))
    body = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    answer = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=HOSTILE, timeout=10)
    assert answer.status_code == 200
    assert _unexpected_to_client(answer.headers) == set(), answer.headers
    assert "upstream" not in str(answer.headers).lower()
    sent = {name.lower(): value for name, value in upstream.received[-1].headers.items()}
    assert set(sent) - TO_PROVIDER == set(), sent
    assert sent["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert CLIENT_SECRET not in str(sent) and GATEWAY_KEY not in str(sent)


def test_anthropic_native_road_passes_only_anthropics_own_headers(
    make_gateway: GatewayFactory, anthropic_upstream: FakeAnthropic
) -> None:
    gateway = make_gateway(
        CONFIG,
        env={
            "GW_KEY": GATEWAY_KEY,
            "ANTHROPIC_API_KEY": "sk-ant-test-UPSTREAM-x",
            "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
        },
    )
    headers = {**HOSTILE, "anthropic-version": "2023-06-01", "anthropic-beta": "interleaved-thinking-2025-05-14"}
    answer = httpx.post(
        gateway.url + "/v1/messages",
        headers=headers,
        timeout=10,
        json={
            "model": "anthropic/claude-sonnet-4-5",
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert answer.status_code == 200, answer.text
    assert _unexpected_to_client(answer.headers) == set(), answer.headers
    sent = {name.lower(): value for name, value in anthropic_upstream.received[-1].headers.items()}
    assert set(sent) - TO_PROVIDER == set(), sent
    assert CLIENT_SECRET not in str(sent) and GATEWAY_KEY not in str(sent)


def test_cors_is_off_by_default(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway()
    preflight = httpx.options(
        gateway.url + "/v1/chat/completions",
        timeout=5,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code >= 400 and not any(h.startswith("access-control-") for h in preflight.headers)
    answer = httpx.get(gateway.url + "/v1/models", headers={"Origin": "https://evil.example"}, timeout=5)
    assert answer.status_code == 200 and not any(h.startswith("access-control-") for h in answer.headers)


def test_cors_answers_the_origins_configured(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway("""
server:
  cors:
    allow_origins: ["https://app.example"]
    allow_credentials: true
aliases:
  gpt: openai/gpt-4o
""")
    preflight = httpx.options(
        gateway.url + "/v1/chat/completions",
        timeout=5,
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    answer = httpx.post(
        gateway.url + "/v1/chat/completions",
        headers={"Origin": "https://app.example"},
        timeout=5,
        json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-request-id" in answer.headers["access-control-expose-headers"]
    error = httpx.post(
        gateway.url + "/v1/chat/completions",
        headers={"Origin": "https://app.example"},
        timeout=5,
        json={"model": "nope"},
    )
    assert error.status_code == 404 and error.headers["access-control-allow-origin"] == "https://app.example"
    other = httpx.options(
        gateway.url + "/v1/chat/completions",
        timeout=5,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert other.status_code == 403 and "access-control-allow-origin" not in other.headers
