"""Where a relayed Realtime session goes (providers' `realtime_upstream`): OpenAI's and a compatible server's
URL, Azure's two URL forms and its `api-key`, the beta header only when asked, the provider's proxy."""

from __future__ import annotations

import pytest

from babelgate.config import ProviderConfig, ServerConfig
from babelgate.errors import UnsupportedCapability
from babelgate.http import UpstreamClient
from babelgate.http.proxy import parse_proxy
from babelgate.providers import build_provider
from babelgate.providers.base import Provider, RealtimeRelay, realtime_calls_of, realtime_of


def _built(kind: str, **config: object) -> Provider:
    return build_provider(
        kind, ProviderConfig(type=kind, api_keys=("sk-up",), **config), ServerConfig(), UpstreamClient()
    )  # type: ignore[arg-type]


def _relay(kind: str, **config: object) -> RealtimeRelay:
    provider = _built(kind, **config)
    relay = realtime_of(provider)
    assert relay is not None
    return relay


async def test_openai_and_compatible_servers() -> None:
    upstream = await _relay("openai").realtime_upstream("gpt-realtime", beta=False)
    assert upstream.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert dict(upstream.headers) == {"Authorization": "Bearer sk-up"}
    assert upstream.tls is not None and upstream.proxy is None
    assert "sk-up" not in repr(upstream)
    local = await _relay("openai", base_url="http://127.0.0.1:8000/v1").realtime_upstream("m", beta=True)
    assert local.url == "ws://127.0.0.1:8000/v1/realtime?model=m" and local.tls is None
    assert dict(local.headers)["OpenAI-Beta"] == "realtime=v1"


async def test_azure_v1_and_deployment_urls_with_its_api_key() -> None:
    v1 = await _relay("azure", base_url="https://res.openai.azure.com").realtime_upstream("voice", beta=False)
    assert v1.url == "wss://res.openai.azure.com/openai/v1/realtime?model=voice"
    assert dict(v1.headers) == {"api-key": "sk-up"}
    dated = _relay("azure", base_url="https://res.openai.azure.com", api_version="2025-04-01-preview")
    upstream = await dated.realtime_upstream("my voice", beta=False)
    assert upstream.url == (
        "wss://res.openai.azure.com/openai/realtime?api-version=2025-04-01-preview&deployment=my%20voice"
    )
    with pytest.raises(UnsupportedCapability):
        await dated.realtime_upstream("claude-sonnet-4-6", beta=False)


async def test_the_providers_proxy_carries_the_socket() -> None:
    client = UpstreamClient()
    client.configure("corp", proxy=parse_proxy("http://user:p%40ss@proxy.local:3128"))
    provider = build_provider("corp", ProviderConfig(type="openai", api_keys=("sk-up",)), ServerConfig(), client)
    relay = realtime_of(provider)
    assert relay is not None
    upstream = await relay.realtime_upstream("m", beta=False)
    assert upstream.proxy == "http://user:p%40ss@proxy.local:3128"
    assert "p%40ss" not in repr(upstream)


def test_providers_without_a_realtime_api_have_no_relay() -> None:
    for kind in ("anthropic", "gemini", "mistral"):
        provider = build_provider(kind, ProviderConfig(type=kind, api_keys=("k",)), ServerConfig(), UpstreamClient())
        assert realtime_of(provider) is None


async def test_a_webrtc_calls_sideband_and_where_calls_are_made() -> None:
    sideband = await _relay("openai").realtime_upstream("gpt-realtime", beta=False, call_id="rtc_1")
    assert sideband.url == "wss://api.openai.com/v1/realtime?call_id=rtc_1"
    azure = _relay("azure", base_url="https://res.openai.azure.com")
    assert (await azure.realtime_upstream("voice", beta=False, call_id="rtc_2")).url == (
        "wss://res.openai.azure.com/openai/v1/realtime?call_id=rtc_2"
    )
    openai = _built("openai")
    assert openai._calls_url() == "https://api.openai.com/v1/realtime/calls"  # type: ignore[attr-defined]
    v1 = _built("azure", base_url="https://res.openai.azure.com")
    assert v1._openai._calls_url() == "https://res.openai.azure.com/openai/v1/realtime/calls"  # type: ignore[attr-defined]
    dated = _built("azure", base_url="https://res.openai.azure.com", api_version="2025-04-01-preview")
    with pytest.raises(UnsupportedCapability):  # WebRTC calls are the v1 API's
        await realtime_calls_of(dated).realtime_call("voice", b"v=0", {})  # type: ignore[union-attr]
