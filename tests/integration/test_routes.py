"""/v1/models, /health, /metrics, gateway keys, unknown routes — through the running app."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.conftest import UPSTREAM_KEY, GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import RunningApp

USER = [{"role": "user", "content": "Hi"}]
CONFIG = """
providers:
  openai:
    base_url: %s
    api_key: env:OPENAI_API_KEY
models:
  fast: {provider: openai, model: gpt-4o-mini}
aliases:
  gpt-4: fast
"""


def test_models_lists_configured_aliases_and_upstream_listing(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    gateway = make_gateway(CONFIG % upstream.base_url)
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        ids = [m.id for m in client.models.list()]
        assert ids[:2] == ["fast", "gpt-4"]
        assert {"openai/gpt-4o-mini", "openai/gpt-4o"} <= set(ids)
        assert client.models.retrieve("fast").owned_by == "openai"
        assert client.models.retrieve("openai/gpt-4o").id == "openai/gpt-4o"
        assert client.models.retrieve("gpt-4o").id == "gpt-4o"
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("no-such-model")


def test_models_never_fail_when_an_upstream_is_down(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    upstream.models_status = 500
    gateway = make_gateway(CONFIG % upstream.base_url)
    started = time.monotonic()
    response = httpx.get(gateway.url + "/v1/models", timeout=10)
    assert time.monotonic() - started < 3
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["data"]] == ["fast", "gpt-4"]


def test_health_reports_providers_without_secrets(gateway: RunningApp) -> None:
    response = httpx.get(gateway.url + "/health", timeout=10)
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok" and isinstance(body["uptime_s"], float) and body["version"]
    assert {p["name"]: p["type"] for p in body["providers"]} == {"openai": "openai", "ollama": "openai"}
    assert UPSTREAM_KEY not in response.text


def test_health_marks_an_unreachable_provider(gateway: RunningApp) -> None:
    httpx.get(gateway.url + "/v1/models", timeout=10)  # the listing attempt is what finds out
    states = {p["name"]: p["state"] for p in httpx.get(gateway.url + "/health", timeout=10).json()["providers"]}
    assert states == {"openai": "ok", "ollama": "unreachable"}


def test_metrics_count_requests_by_route_provider_model_and_status(client: openai.OpenAI, gateway: RunningApp) -> None:
    client.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=USER)  # type: ignore[arg-type]
    text = httpx.get(gateway.url + "/metrics", timeout=10).text
    assert (
        'babelgate_requests_total{key_id="",model="gpt-4o",provider="openai",route="chat.completions",'
        'status="200"} 1.0' in text
    )
    assert (
        'babelgate_errors_total{code="model_not_found",model="",provider="",route="chat.completions",status="404"}'
        in text
    )
    assert 'babelgate_tokens_total{kind="prompt",model="gpt-4o",provider="openai"} 9.0' in text
    assert "babelgate_request_duration_seconds_bucket" in text


def test_gateway_keys_guard_every_route_but_health(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(env={"BABELGATE_API_KEYS": "key-one, key-two"})
    assert httpx.get(gateway.url + "/health", timeout=10).status_code == 200
    for path in ("/v1/models", "/metrics", "/v1/models/gpt-4o"):
        response = httpx.get(gateway.url + path, timeout=10)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key="wrong", max_retries=0, timeout=60) as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="key-two", max_retries=0, timeout=60) as client:
        assert client.chat.completions.create(model="gpt-4o", messages=USER).choices  # type: ignore[arg-type]


def test_unknown_route_and_wrong_method(gateway: RunningApp) -> None:
    response = httpx.get(gateway.url + "/v1/nothing-here", timeout=10)
    assert response.status_code == 404 and response.json()["error"]["type"] == "not_found_error"
    response = httpx.get(gateway.url + "/v1/chat/completions", timeout=10)
    assert response.status_code == 405
