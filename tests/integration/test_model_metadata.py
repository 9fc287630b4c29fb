"""`/v1/models` carries what clients ask for beyond OpenAI's fields: context window, maximum
output, modalities, capabilities and prices, from the gateway's table, the config's prices and the
upstream's own listing, read through the official clients."""

from __future__ import annotations

import anthropic
import httpx
import openai

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, MISTRAL_KEY, GatewayFactory
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.mistral_upstream import FakeMistral
from tests.fakes.openai_upstream import FakeOpenAI

CONFIG = """\
models:
  default: {provider: openai, model: gpt-4o-mini}
  house: {provider: openai, model: our-finetune, price: {input: 0.2, output: 0.4}}
aliases:
  fast: default
"""


def test_configured_models_carry_the_table_s_facts_and_their_own_prices(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    gateway = make_gateway(CONFIG)
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=60) as client:
        default = client.models.retrieve("default").model_extra or {}
        fast = client.models.retrieve("fast").model_extra or {}
        house = client.models.retrieve("house").model_extra or {}
        listed = {m.id: m.model_extra or {} for m in client.models.list()}
    assert default["context_window"] == 128_000 and default["max_output_tokens"] == 16_384
    assert default["input_modalities"] == ["text", "image"] and default["output_modalities"] == ["text"]
    assert default["capabilities"] == {"tools": True, "structured_output": True, "reasoning": False}
    assert default["pricing"] == {
        "currency": "USD",
        "unit": "1M tokens",
        "input": 0.15,
        "output": 0.6,
        "cached_input": 0.075,
    }
    assert fast == default and listed["default"] == default
    assert house == {"pricing": {"currency": "USD", "unit": "1M tokens", "input": 0.2, "output": 0.4}}


def test_what_the_upstream_lists_comes_through(
    make_gateway: GatewayFactory, gemini_upstream: FakeGemini, mistral_upstream: FakeMistral
) -> None:
    gateway = make_gateway(
        env={
            "GEMINI_API_KEY": GEMINI_KEY,
            "GEMINI_BASE_URL": gemini_upstream.base_url,
            "MISTRAL_API_KEY": MISTRAL_KEY,
            "MISTRAL_BASE_URL": mistral_upstream.base_url,
        }
    )
    models = {m["id"]: m for m in httpx.get(gateway.url + "/v1/models").json()["data"]}
    embedding = models["gemini/gemini-embedding-001"]
    assert embedding["context_window"] == 2048  # the upstream's inputTokenLimit
    assert embedding["output_modalities"] == ["embedding"] and embedding["pricing"]["input"] == 0.15
    flash = models["gemini/gemini-2.5-flash"]
    assert flash["context_window"] == 1_048_576 and "generateContent" in flash["upstream_capabilities"]
    codestral = models["mistral/codestral-latest"]
    assert codestral["context_window"] == 256_000  # Mistral's max_context_length
    assert "completion_fim" in codestral["upstream_capabilities"]


def test_anthropic_clients_get_display_names_and_the_same_facts(
    make_gateway: GatewayFactory, anthropic_upstream: FakeAnthropic
) -> None:
    gateway = make_gateway(env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url})
    with anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0, timeout=60) as client:
        page = client.models.list()
    sonnet = next(m for m in page.data if m.id.startswith("anthropic/claude-sonnet-4"))
    assert sonnet.display_name.startswith("Claude Sonnet 4")
    extra = sonnet.model_extra or {}
    assert extra["context_window"] == 200_000 and extra["pricing"]["cache_write"] == 3.75
