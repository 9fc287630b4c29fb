"""`/v1/moderations` through the gateway with the official `openai` client: relayed to an OpenAI-compatible
upstream (the body checked against the SDK's `ModerationCreateParams`), and translated from Mistral's
categories to OpenAI's, the unmapped ones kept under `extra_categories`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.guardrail_services import FakeModeration
from tests.fakes.rerank_upstream import FakeRerank
from tests.fakes.servers import LoopThread, RunningApp

MODERATION_KEY = "sk-moderation-upstream-0123456789"
MISTRAL_KEY = "mistral-moderation-UPSTREAM-secret-77"


@pytest.fixture(scope="module")
def _fakes(loop_thread: LoopThread) -> Iterator[tuple[FakeModeration, FakeRerank]]:
    fakes = (FakeModeration(MODERATION_KEY), FakeRerank(MISTRAL_KEY))
    for fake in fakes:
        loop_thread.run(fake.start())
    yield fakes
    for fake in fakes:
        loop_thread.run(fake.stop())


@pytest.fixture
def moderation(_fakes: tuple[FakeModeration, FakeRerank]) -> Iterator[FakeModeration]:
    fake = _fakes[0]
    fake.received.clear()
    fake.violations.clear()
    fake.behaviour = "flag"
    yield fake
    assert fake.violations == []


@pytest.fixture
def mistral(_fakes: tuple[FakeModeration, FakeRerank]) -> Iterator[FakeRerank]:
    fake = _fakes[1]
    fake.reset()
    yield fake
    assert fake.violations == []


@pytest.fixture
def gateway(make_gateway: GatewayFactory, moderation: FakeModeration, mistral: FakeRerank) -> RunningApp:
    config = f"""\
providers:
  guard: {{type: openai, base_url: "{moderation.api_base}", api_key: "env:MODERATION_KEY"}}
  mistral: {{type: mistral, base_url: "{mistral.base_url}/mistral", api_key: "env:MISTRAL_MOD_KEY"}}
models:
  omni-moderation-latest: {{provider: guard, model: omni-moderation-latest}}
  mistral-moderation-latest: {{provider: mistral, model: mistral-moderation-latest}}
  rerank-only: {{provider: cohere, model: rerank-v3.5}}
"""
    env = {"MODERATION_KEY": MODERATION_KEY, "MISTRAL_MOD_KEY": MISTRAL_KEY, "COHERE_API_KEY": "co-unused-key-000"}
    return make_gateway(config, env=env)


@pytest.fixture
def client(gateway: RunningApp) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=30) as c:
        yield c


def test_openai_moderations_are_relayed(client: openai.OpenAI, moderation: FakeModeration) -> None:
    answer = client.moderations.create(model="omni-moderation-latest", input=["hello", "something forbidden"])
    assert [result.flagged for result in answer.results] == [False, True]
    assert answer.results[1].categories.violence and not answer.results[0].categories.violence
    sent = moderation.received[-1]
    assert sent["body"] == {"input": ["hello", "something forbidden"], "model": "omni-moderation-latest"}
    assert sent["headers"]["Authorization"] == f"Bearer {MODERATION_KEY}"


def test_multimodal_input_is_relayed(client: openai.OpenAI, moderation: FakeModeration) -> None:
    parts: list[Any] = [
        {"type": "text", "text": "a forbidden thing"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    ]
    answer = client.moderations.create(model="omni-moderation-latest", input=parts)
    assert answer.results[0].flagged
    assert moderation.received[-1]["body"]["input"] == parts


def test_the_model_defaults_to_omni_moderation_latest(gateway: RunningApp, moderation: FakeModeration) -> None:
    response = httpx.post(gateway.url + "/v1/moderations", json={"input": "hello"}, timeout=30)
    assert response.status_code == 200, response.text
    assert moderation.received[-1]["body"]["model"] == "omni-moderation-latest"


def test_mistral_categories_are_mapped_to_openais(client: openai.OpenAI, mistral: FakeRerank) -> None:
    answer = client.moderations.create(model="mistral-moderation-latest", input=["fine", "forbidden words"])
    calm, hit = answer.results
    assert not calm.flagged and hit.flagged
    assert hit.categories.violence and not hit.categories.sexual and not hit.categories.harassment
    assert hit.category_scores.violence == 0.95 and calm.category_scores.self_harm == 0.01
    extra = hit.model_extra or {}
    assert extra["extra_categories"]["pii"] is True and extra["extra_categories"]["health"] is False
    assert extra["extra_category_scores"]["pii"] == 0.95
    sent = mistral.received[-1]
    assert sent.path == "/mistral/v1/moderations"
    assert sent.json == {"model": "mistral-moderation-latest", "input": ["fine", "forbidden words"]}


def test_mistral_takes_multimodal_text_parts_and_refuses_images(client: openai.OpenAI, mistral: FakeRerank) -> None:
    answer = client.moderations.create(model="mistral-moderation-latest", input=[{"type": "text", "text": "hello"}])
    assert not answer.results[0].flagged and mistral.received[-1].json["input"] == ["hello"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.moderations.create(
            model="mistral-moderation-latest",
            input=[{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}],
        )
    assert caught.value.body["param"] == "input[0]"  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "input"),
        ({"input": []}, "input"),
        ({"input": 5}, "input"),
        ({"input": [{"type": "audio"}]}, "input[0]"),
        ({"input": "x", "model": 5}, "model"),
    ],
)
def test_bad_input_is_a_400_in_openai_format(
    gateway: RunningApp, moderation: FakeModeration, body: dict[str, Any], param: str
) -> None:
    response = httpx.post(gateway.url + "/v1/moderations", json=body, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert not moderation.received


def test_a_provider_without_moderations_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.moderations.create(model="rerank-only", input="hello")
    assert caught.value.code == "unsupported_capability"
