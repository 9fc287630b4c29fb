"""The exact-match response cache: opt-in per model or per request, streams replayed as streams,
bypassed with Cache-Control, never storing errors, shared through Redis, marked in a header and
in the ledger at zero cost, and still passing the hooks' authentication."""

from __future__ import annotations

import uuid
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest
from google import genai
from google.genai import types as gt

from babelgate.errors import PermissionDenied
from babelgate.hooks import Hook, RequestContext
from tests.conftest import ANTHROPIC_KEY, GatewayFactory, RunningApp
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import FakeOpenAI, text_stream
from tests.fakes.scripted import Reply
from tests.integration.test_virtual_keys import ADMIN, MASTER
from tests.services import REDIS_TIMEOUT, redis_url  # noqa: F401 (a fixture)

CACHED = "models:\n  cached: {provider: openai, model: gpt-4o-mini, cache: {ttl: 60}}\n"
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def _calls(upstream: FakeOpenAI) -> int:
    return len([r for r in upstream.received if r.path.endswith("/chat/completions")])


def _client(gateway: RunningApp, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=gateway.url + "/v1", api_key="unused", max_retries=0, default_headers=headers, timeout=60
    )


def test_a_cached_model_answers_the_same_request_from_the_cache(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    gateway = make_gateway(CACHED, env={"BABELGATE_MASTER_KEY": MASTER})
    with _client(gateway) as client:
        first = client.chat.completions.with_raw_response.create(model="cached", messages=MESSAGES)  # type: ignore[arg-type]
        second = client.chat.completions.with_raw_response.create(
            model="cached",
            messages=MESSAGES,  # type: ignore[arg-type]
            user="someone-else",
        )
        other = client.chat.completions.with_raw_response.create(  # type: ignore[call-overload]
            model="cached", messages=[{"role": "user", "content": "And of Spain?"}]
        )
    assert _calls(upstream) == 2  # the second request (only `user` differs) never reached the upstream
    assert first.headers["x-babelgate-cache"] == "miss" and second.headers["x-babelgate-cache"] == "hit"
    assert other.headers["x-babelgate-cache"] == "miss"
    assert second.http_response.content == first.http_response.content
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    assert second.headers["x-babelgate-cost-usd"] == "0.00000000" and float(first.headers["x-babelgate-cost-usd"]) > 0
    usage = httpx.get(gateway.url + "/admin/usage?group_by=model", headers=ADMIN).json()["data"][0]
    assert usage["requests"] == 3 and usage["cache_hits"] == 1
    metrics = httpx.get(gateway.url + "/metrics").text
    assert 'babelgate_cache_events_total{event="hit",model="cached"} 1.0' in metrics


def test_a_stream_is_replayed_as_a_stream(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(CACHED)
    upstream.script(Reply(stream=text_stream(["Par", "is", "."], include_usage=True)))
    with _client(gateway) as client:
        runs = [
            [
                chunk.choices[0].delta.content
                for chunk in client.chat.completions.create(model="cached", messages=MESSAGES, stream=True)
                if chunk.choices
            ]
            for _ in range(2)
        ]  # type: ignore[arg-type]
    assert runs[0] == runs[1] and "".join(c or "" for c in runs[1]) == "Paris."
    assert _calls(upstream) == 1
    raw = httpx.post(
        gateway.url + "/v1/chat/completions", json={"model": "cached", "messages": MESSAGES, "stream": True}
    )
    assert raw.headers["x-babelgate-cache"] == "hit" and raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.rstrip().endswith("data: [DONE]")


def test_a_request_opts_in_and_cache_control_bypasses(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway()
    with _client(gateway) as plain:
        for _ in range(2):
            answer = plain.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
            assert "x-babelgate-cache" not in answer.headers  # no cache unless asked
    assert _calls(upstream) == 2
    with _client(gateway, **{"x-babelgate-cache-ttl": "30"}) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
        assert _calls(upstream) == 3
        fresh = client.chat.completions.with_raw_response.create(  # type: ignore[call-overload]
            model="gpt-4o-mini", messages=MESSAGES, extra_headers={"Cache-Control": "no-cache"}
        )
        assert fresh.headers["x-babelgate-cache"] == "miss" and _calls(upstream) == 4
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,  # type: ignore[arg-type]
            extra_headers={"Cache-Control": "no-store"},
        )
        assert _calls(upstream) == 5


def test_errors_and_cut_streams_are_never_stored(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(CACHED)
    upstream.script(
        Reply(status=500, json={"error": {"message": "boom", "type": "server_error"}}),
        Reply(stream=text_stream(["Pa"]), done=False, drop_after=2),
    )
    body: dict[str, Any] = {"model": "cached", "messages": MESSAGES}
    assert httpx.post(gateway.url + "/v1/chat/completions", json=body).status_code == 502
    httpx.post(gateway.url + "/v1/chat/completions", json={**body, "stream": True})
    assert httpx.post(gateway.url + "/v1/chat/completions", json=body).headers["x-babelgate-cache"] == "miss"
    assert (
        httpx.post(gateway.url + "/v1/chat/completions", json={**body, "stream": True}).headers["x-babelgate-cache"]
        == "miss"
    )
    assert _calls(upstream) == 4


def test_anthropic_messages_are_cached_too(make_gateway: GatewayFactory, anthropic_upstream: FakeAnthropic) -> None:
    gateway = make_gateway(
        "models:\n  claude: {provider: anthropic, model: claude-sonnet-4-5, cache: {ttl: 60}}\n",
        env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url},
    )
    with anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0, timeout=60) as client:
        answers = [
            client.messages.with_raw_response.create(model="claude", max_tokens=50, messages=MESSAGES)  # type: ignore[arg-type]
            for _ in range(2)
        ]
    assert [a.headers["x-babelgate-cache"] for a in answers] == ["miss", "hit"]
    assert answers[0].parse().content == answers[1].parse().content
    assert len([r for r in anthropic_upstream.received if r.path.endswith("/messages")]) == 1


class TenantGate(Hook):
    async def on_request(self, context: RequestContext) -> None:
        if context.headers.get("x-tenant") != "acme":
            raise PermissionDenied()


def test_the_gemini_api_is_cached_in_each_of_its_framings(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    """The google-genai SDK's requests are cached like the other doors'; a stream as SSE (`alt=sse`, what the SDK
    asks for) and as one JSON array (without it) are different bytes, so each has its own entry."""
    gateway = make_gateway(CACHED)
    question = "What is the capital of France?"
    options = gt.HttpOptions(base_url=gateway.url, api_version="v1beta", timeout=10_000)
    with genai.Client(api_key="unused", http_options=options) as sdk:
        answers = [sdk.models.generate_content(model="cached", contents=question).text for _ in range(2)]
        assert answers == ["Hello!", "Hello!"] and _calls(upstream) == 1
        upstream.script(Reply(stream=text_stream(["Par", "is", "."], include_usage=True)))
        runs = [
            "".join(chunk.text or "" for chunk in sdk.models.generate_content_stream(model="cached", contents=question))
            for _ in range(2)
        ]
    assert runs == ["Paris.", "Paris."] and _calls(upstream) == 2
    upstream.script(Reply(stream=text_stream(["Ro", "me."], include_usage=True)))
    body = {"contents": [{"role": "user", "parts": [{"text": question}]}]}
    for expected in ("miss", "hit"):
        raw = httpx.post(gateway.url + "/v1beta/models/cached:streamGenerateContent", json=body, timeout=10)
        assert raw.headers["x-babelgate-cache"] == expected
        assert raw.headers["content-type"].startswith("application/json")
        pieces = orjson.loads(raw.content)  # one JSON array of GenerateContentResponse objects
        text = "".join(part.get("text", "") for piece in pieces for part in piece["candidates"][0]["content"]["parts"])
        assert text == "Rome."
    assert _calls(upstream) == 3
    sse = httpx.post(gateway.url + "/v1beta/models/cached:streamGenerateContent?alt=sse", json=body, timeout=10)
    assert sse.headers["x-babelgate-cache"] == "hit" and sse.headers["content-type"].startswith("text/event-stream")
    assert _calls(upstream) == 3


def test_a_hit_still_passes_the_authentication_hooks(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(CACHED, hooks=(TenantGate(),))
    body = {"model": "cached", "messages": MESSAGES}
    assert httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={"x-tenant": "acme"}).status_code == 200
    refused = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={"x-tenant": "other"})
    assert refused.status_code == 403
    assert (
        httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={"x-tenant": "acme"}).headers[
            "x-babelgate-cache"
        ]
        == "hit"
    )


def test_a_hit_is_served_only_to_callers_who_may_use_the_model(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    """The key's model list, its user and its team's model list are checked before the cache answers (they
    were checked after it: a disabled user's key got its cached answers)."""
    gateway = make_gateway(CACHED, env={"BABELGATE_MASTER_KEY": MASTER})

    def admin(method: str, path: str, body: Any, status: int = 200) -> Any:
        answer = httpx.request(method, gateway.url + path, json=body, headers=ADMIN, timeout=10)
        assert answer.status_code == status, answer.text
        return answer.json()

    def ask(key: str) -> httpx.Response:
        body = {"model": "cached", "messages": MESSAGES}
        return httpx.post(
            gateway.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10
        )

    admin("POST", "/admin/users", {"id": "erin"}, 201)
    admin("POST", "/admin/teams", {"id": "analysts", "members": ["erin"], "models": ["cached"]}, 201)
    key = admin("POST", "/admin/keys", {"user": "erin", "team": "analysts"}, 201)["key"]
    narrow = admin("POST", "/admin/keys", {"models": ["gpt-*"]}, 201)["key"]
    assert ask(key).headers["x-babelgate-cache"] == "miss"
    assert ask(key).headers["x-babelgate-cache"] == "hit"

    refused = ask(narrow)  # the key's own list
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "model_not_allowed"
    admin("PATCH", "/admin/teams/analysts", {"models": ["gpt-*"]})  # the team's list, changed after a hit
    refused = ask(key)
    assert refused.status_code == 403 and "analysts" in refused.json()["error"]["message"]
    admin("PATCH", "/admin/teams/analysts", {"models": None})
    assert ask(key).headers["x-babelgate-cache"] == "hit"
    admin("PATCH", "/admin/users/erin", {"disabled": True})  # the user, disabled after a hit
    refused = ask(key)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "user_disabled"
    assert _calls(upstream) == 1


def test_instances_share_the_cache_through_redis(
    make_gateway: GatewayFactory,
    upstream: FakeOpenAI,
    redis_url: str,  # noqa: F811
) -> None:
    prefix = f"bgtest-{uuid.uuid4().hex[:8]}:"
    config = CACHED + f"redis: {{url: '{redis_url}', prefix: '{prefix}', timeout: {REDIS_TIMEOUT}}}\n"
    first, second = make_gateway(config), make_gateway(config)
    body = {"model": "cached", "messages": MESSAGES}
    assert httpx.post(first.url + "/v1/chat/completions", json=body).headers["x-babelgate-cache"] == "miss"
    hit = httpx.post(second.url + "/v1/chat/completions", json=body)
    assert hit.headers["x-babelgate-cache"] == "hit" and hit.json()["choices"][0]["message"]["content"]
    assert _calls(upstream) == 1


@pytest.mark.parametrize("ttl", ["0", "soon", "-5"])
def test_a_meaningless_ttl_header_does_not_cache(make_gateway: GatewayFactory, upstream: FakeOpenAI, ttl: str) -> None:
    gateway = make_gateway()
    for _ in range(2):
        answer = httpx.post(
            gateway.url + "/v1/chat/completions",
            headers={"x-babelgate-cache-ttl": ttl},
            json={"model": "gpt-4o-mini", "messages": MESSAGES},
        )
        assert answer.status_code == 200 and "x-babelgate-cache" not in answer.headers
