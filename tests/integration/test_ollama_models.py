"""Ollama's model routes through the gateway: `/api/tags`, `/api/show`, `/api/ps`, `/api/version` and `/`, read
by the official `ollama` client and checked raw against Ollama's spec."""

from __future__ import annotations

import ollama
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import RunningApp
from tests.integration.ollama_helpers import get, ollama_client, post
from tests.ollama_spec import assert_valid

CONFIG = """
models:
  fast:
    provider: openai
    model: gpt-4o-mini
    defaults: {temperature: 0.3, max_tokens: 100, stop: ["END", "STOP"]}
  embedder:
    provider: openai
    model: text-embedding-3-small
aliases:
  quick: fast
"""


@pytest.fixture
def configured(make_gateway: GatewayFactory) -> RunningApp:
    return make_gateway(CONFIG)


def test_tags_lists_configured_models_aliases_and_upstream_listings(
    configured: RunningApp, upstream: FakeOpenAI
) -> None:
    with ollama_client(configured) as client:
        listing = client.list()
    names = [model.model for model in listing.models]
    assert names[:3] == ["fast", "embedder", "quick"]
    assert {"openai/gpt-4o-mini", "openai/gpt-4o"} <= set(names)
    raw = get(configured, "/api/tags").json()
    assert_valid(raw, "tags")
    fast = raw["models"][0]
    assert fast["name"] == fast["model"] == "fast" and fast["remote_model"] == "gpt-4o-mini"
    assert fast["size"] == 0 and len(fast["digest"]) == 64
    assert fast["details"]["family"] == "openai"


def test_show_a_configured_model(configured: RunningApp, upstream: FakeOpenAI) -> None:
    with ollama_client(configured) as client:
        shown = client.show("quick")
        assert client.show("embedder").capabilities == ["embedding"]
    assert shown.capabilities == ["completion", "tools", "vision"]
    assert shown.modelinfo is not None and shown.modelinfo["babelgate.upstream_model"] == "gpt-4o-mini"
    assert shown.parameters is not None
    assert shown.parameters.split("\n") == [
        "temperature" + " " * 20 + "0.3",
        "num_predict" + " " * 20 + "100",
        "stop" + " " * 27 + '"END"',
        "stop" + " " * 27 + '"STOP"',
    ]
    raw = post(configured, "/api/show", {"model": "quick"})
    assert_valid(raw.json(), "show")


def test_show_listed_and_routed_names(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    with ollama_client(gateway) as client:
        for name in ("openai/gpt-4o", "gpt-4o", "gpt-4o:latest"):
            assert client.show(name).details is not None
        with pytest.raises(ollama.ResponseError) as caught:
            client.show("gpt-no-such-model")
    assert caught.value.status_code == 404 and "gpt-no-such-model" in caught.value.error
    # An old client names the model `name`.
    assert post(gateway, "/api/show", {"name": "gpt-4o"}).status_code == 200


def test_show_needs_a_model(gateway: RunningApp) -> None:
    response = post(gateway, "/api/show", {})
    assert response.status_code == 400
    assert_valid(response.json(), "error")


def test_ps_version_and_root(gateway: RunningApp) -> None:
    with ollama_client(gateway) as client:
        assert client.ps().models == []
    assert_valid(get(gateway, "/api/ps").json(), "ps")
    version = get(gateway, "/api/version")
    assert version.json() == {"version": "0.12.6"}
    assert_valid(version.json(), "version")
    assert get(gateway, "/api/version", "HEAD").status_code == 200
    root = get(gateway, "/")
    assert (root.status_code, root.text) == (200, "Ollama is running")
    assert get(gateway, "/", "HEAD").status_code == 200


def test_gateway_keys(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(env={"BABELGATE_API_KEYS": "gw-secret"})
    with ollama_client(gateway) as client, pytest.raises(ollama.ResponseError) as caught:
        client.list()
    assert caught.value.status_code == 401
    with ollama_client(gateway, headers={"Authorization": "Bearer gw-secret"}) as client:
        assert (
            client.chat(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stream=False).message.content
            == "Hello!"
        )
    # The probes a client sends before it knows a key stay open; they say nothing about the models.
    assert get(gateway, "/api/version").status_code == 200
    assert get(gateway, "/").status_code == 200
    unauthorized = get(gateway, "/api/tags")
    assert unauthorized.status_code == 401
    assert_valid(unauthorized.json(), "error")
