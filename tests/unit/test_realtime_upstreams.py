"""Where a relayed Realtime session goes (providers' `realtime_upstream`): OpenAI's and a compatible server's
URL, Azure's two URL forms and its `api-key`, the beta header only when asked, the provider's proxy. Where a
translated one goes (`live_upstream`): Gemini's and Vertex's Live API sockets, as google-genai's live.py opens them."""

from __future__ import annotations

import pytest

from babelgate.config import ProviderConfig, ServerConfig
from babelgate.errors import UnsupportedCapability
from babelgate.http import UpstreamClient
from babelgate.http.proxy import parse_proxy
from babelgate.providers import build_provider
from babelgate.providers.base import LiveApi, Provider, RealtimeRelay, live_of, realtime_calls_of, realtime_of


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


def _live(kind: str, **config: object) -> LiveApi:
    provider = build_provider(kind, ProviderConfig(type=kind, **config), ServerConfig(), UpstreamClient())  # type: ignore[arg-type]
    live = live_of(provider)
    assert live is not None and realtime_of(provider) is None
    return live


async def test_gemini_live_with_the_api_key_header() -> None:
    upstream = await _live("gemini", api_keys=("AIza-up",)).live_upstream("gemini-live-2.5-flash")
    assert upstream.socket.url == (
        "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService"
        ".BidiGenerateContent"
    )
    assert dict(upstream.socket.headers) == {"x-goog-api-key": "AIza-up"}
    assert upstream.model == "models/gemini-live-2.5-flash"
    assert "AIza-up" not in repr(upstream)
    local = await _live("gemini", api_keys=("k",), base_url="http://127.0.0.1:9000").live_upstream("m")
    assert local.socket.url.startswith("ws://127.0.0.1:9000/ws/") and local.socket.tls is None


async def test_vertex_live_with_a_project_and_in_express_mode() -> None:
    express = await _live("vertex", api_keys=("AQ.key",)).live_upstream("gemini-live-2.5-flash")
    assert express.socket.url == (
        "wss://aiplatform.googleapis.com/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
    )
    assert dict(express.socket.headers) == {"x-goog-api-key": "AQ.key"}
    assert express.model == "publishers/google/models/gemini-live-2.5-flash"
    project = _live("vertex", project="p1", location="us-central1")
    with pytest.raises(UnsupportedCapability):
        await project.live_upstream("claude-sonnet-4-5@20250929")


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
