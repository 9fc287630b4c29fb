"""OpenAI-compatible presets: one config line per upstream, with their quirks and model listings."""

from __future__ import annotations

import httpx
import pytest

from babelgate.config import ConfigError, load_config
from babelgate.config.presets import DEFAULT_REGION, PRESETS
from babelgate.providers import PROVIDER_TYPES
from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI

USER = [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_one_line(name: str, tmp_path: pytest.TempPathFactory) -> None:
    preset = PRESETS[name]
    path = tmp_path / "c.yaml"  # type: ignore[operator]
    path.write_text(f"providers:\n  mine: {{preset: {name}}}\n")
    environ = {preset.key_env: "sk-preset-key"} if preset.key_env else {}
    config = load_config(path, environ, available_types=PROVIDER_TYPES)
    provider = config.providers["mine"]
    base_url = preset.base_url.replace("{region}", DEFAULT_REGION)  # bedrock-openai's, with no AWS_REGION set
    assert (provider.type, provider.base_url, provider.profile) == ("openai", base_url, preset.profile)
    assert provider.api_keys == (("sk-preset-key",) if preset.key_env else ())


def test_unknown_preset_is_a_config_error(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "c.yaml"  # type: ignore[operator]
    path.write_text("providers:\n  mine: {preset: lmstudio}\n")
    with pytest.raises(ConfigError, match=r"providers\.mine\.preset: unknown preset 'lmstudio'"):
        load_config(path, {}, available_types=PROVIDER_TYPES)


def test_ollama_preset_lists_models_from_api_tags(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(
        f"providers:\n  local: {{preset: ollama, base_url: '{upstream.base_url}'}}\n"
        "server: {providers_from_env: false}\n"
    )
    ids = [m["id"] for m in httpx.get(gateway.url + "/v1/models", timeout=10).json()["data"]]
    assert ids == ["local/llama3.2:latest"]
    assert "Authorization" not in next(r for r in upstream.received if r.path == "/api/tags").headers
    response = httpx.post(
        gateway.url + "/v1/chat/completions", json={"model": "local/llama3.2:latest", "messages": USER}, timeout=10
    )
    assert response.status_code == 200
    assert upstream.received[-1].json["model"] == "llama3.2:latest"


def test_deepseek_reasoner_quirks_are_applied_and_reported(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(
        f"providers:\n  ds: {{preset: deepseek, base_url: '{upstream.base_url}'}}\n",
        env={"DEEPSEEK_API_KEY": "sk-deepseek-test"},
    )
    body = {"model": "ds/deepseek-reasoner", "messages": USER, "temperature": 0.3, "max_tokens": 50}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)
    assert response.headers["x-babelgate-adjusted-params"] == "temperature=dropped"
    sent = upstream.received[-1]
    assert sent.headers["Authorization"] == "Bearer sk-deepseek-test"
    assert sent.json == {"model": "deepseek-reasoner", "messages": USER, "max_tokens": 50}
