"""The provider protocol's optional parts (providers/base.py): every provider type has exactly the parts
its capabilities declare, and callers find them through the capabilities."""

from __future__ import annotations

from typing import Final, cast

import pytest

from babelgate.config import ProviderConfig, ServerConfig
from babelgate.errors import UnsupportedCapability
from babelgate.http import UpstreamClient
from babelgate.providers import PROVIDER_TYPES, build_provider
from babelgate.providers.base import (
    CallNotes,
    Capabilities,
    Provider,
    embeddings_of,
    image_edits_of,
    image_generation_of,
    relay_of,
    speech_of,
    transcription_of,
)
from tests.unit.test_openai_provider import StubClient, StubResponse

# Each media capability and the method of its part.
MEDIA: Final = {
    "embeddings": "embed",
    "image_generation": "generate_images",
    "image_edits": "edit_images",
    "transcription": "transcribe",
    "speech": "speech",
    "moderations": "moderate",
    "apply_guardrail": "apply_guardrail",
    "realtime": "realtime_upstream",
    "live": "live_upstream",
    "realtime_calls": "realtime_call",
    "rerank": "rerank",
    "count_tokens": "count_input_tokens",
    "batch": "submit_batch",
}
RELAY: Final = ("relays", "relay", "relay_stream")
# What the optional parts were before they were parts: no provider carries any of these any more.
GONE: Final = (
    "forward_chat",
    "forward_stream",
    "forward_responses",
    "forward_responses_stream",
    "forward_messages",
    "forward_messages_stream",
    "count_tokens",
    "accepts_completions",
    "forward_completions",
    "forward_completions_stream",
)


@pytest.mark.parametrize("kind", list(PROVIDER_TYPES))
def test_a_provider_has_the_parts_its_capabilities_declare_and_no_others(kind: str) -> None:
    factory = PROVIDER_TYPES[kind].factory
    capabilities: Capabilities = factory.capabilities  # type: ignore[attr-defined]
    for capability, method in MEDIA.items():
        assert hasattr(factory, method) is getattr(capabilities, capability), (kind, capability)
    for method in RELAY:
        assert hasattr(factory, method) is bool(capabilities.relays), (kind, method)
    assert [name for name in GONE if hasattr(factory, name)] == []


def _built(kind: str) -> Provider:
    return build_provider(kind, ProviderConfig(type=kind, api_keys=("k",)), ServerConfig(), UpstreamClient())


def test_relay_of_reads_the_capabilities_then_asks_the_relay_about_the_model() -> None:
    openai, anthropic, gemini = _built("openai"), _built("anthropic"), _built("gemini")
    assert relay_of(openai, "chat", "gpt-4o") is openai
    assert relay_of(openai, "responses", "gpt-4o") is openai
    assert relay_of(openai, "completions", "gpt-3.5-turbo-instruct") is openai
    assert relay_of(openai, "completions", "gpt-4o") is None  # OpenAI's /completions refuses chat models
    assert relay_of(openai, "messages", "gpt-4o") is None
    assert relay_of(anthropic, "messages", "claude-sonnet-4-6") is anthropic
    assert relay_of(anthropic, "messages.count_tokens", "claude-sonnet-4-6") is anthropic
    assert relay_of(anthropic, "chat", "claude-sonnet-4-6") is None
    assert relay_of(gemini, "chat", "gemini-2.5-pro") is None


def test_a_media_part_a_provider_lacks_is_refused_never_called() -> None:
    anthropic = _built("anthropic")
    for find in (embeddings_of, image_generation_of, image_edits_of, transcription_of, speech_of):
        with pytest.raises(UnsupportedCapability):
            find(anthropic)
    openai = _built("openai")
    assert embeddings_of(openai) is openai and speech_of(openai) is openai


async def test_count_tokens_relays_the_upstreams_answer() -> None:
    answer = b'{"input_tokens":12}'
    client = StubClient(StubResponse(200, answer))
    anthropic = build_provider(
        "anthropic", ProviderConfig(type="anthropic", api_keys=("k",)), ServerConfig(), cast(UpstreamClient, client)
    )
    relay = relay_of(anthropic, "messages.count_tokens", "claude-sonnet-4-6")
    assert relay is not None
    messages = {"model": "c", "messages": [{"role": "user", "content": "hi"}]}
    assert await relay.relay("messages.count_tokens", messages, "claude-sonnet-4-6", CallNotes()) == answer
    assert client.sent[0]["url"].endswith("/v1/messages/count_tokens")
