"""Token counts on every door and provider through the official clients: the Messages door's
`count_tokens`, the Responses door's `input_tokens` and the Gemini API's `:countTokens` ask the provider's own
counter where it has one (Anthropic's, Gemini's, OpenAI's Responses counter) and estimate elsewhere, saying which
in `x-babelgate-token-count`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, GatewayFactory
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import RunningApp

CLAUDE = "claude-sonnet-4-5"
GEMINI = "gemini-2.5-flash"
GPT = "gpt-4o-mini"


@pytest.fixture
def gateway(make_gateway: GatewayFactory, anthropic_upstream: FakeAnthropic, gemini_upstream: FakeGemini) -> RunningApp:
    return make_gateway(
        env={
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
            "GEMINI_API_KEY": GEMINI_KEY,
            "GEMINI_BASE_URL": gemini_upstream.base_url,
        }
    )


@pytest.fixture
def claude_client(gateway: RunningApp) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0, timeout=30) as client:
        yield client


@pytest.fixture
def openai_client(gateway: RunningApp) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=30) as client:
        yield client


def test_messages_count_tokens_on_gemini_asks_gemini(
    claude_client: anthropic.Anthropic, gemini_upstream: FakeGemini
) -> None:
    raw = claude_client.messages.with_raw_response.count_tokens(
        model=GEMINI, messages=[{"role": "user", "content": "one two three four"}], system="be brief"
    )
    assert raw.parse().input_tokens == 4  # the fake counts the words of the contents
    assert raw.headers["x-babelgate-token-count"] == "upstream"
    sent = gemini_upstream.received[-1]
    assert sent.path.endswith(f"/models/{GEMINI}:countTokens")
    inner = sent.json["generateContentRequest"]
    assert inner["model"] == f"models/{GEMINI}" and inner["systemInstruction"]["parts"][0]["text"] == "be brief"


def test_messages_count_tokens_on_claude_is_relayed(
    claude_client: anthropic.Anthropic, anthropic_upstream: FakeAnthropic
) -> None:
    raw = claude_client.messages.with_raw_response.count_tokens(
        model=CLAUDE, messages=[{"role": "user", "content": "hello"}]
    )
    assert raw.parse().input_tokens > 0 and raw.headers["x-babelgate-token-count"] == "upstream"
    assert anthropic_upstream.received[-1].path == "/v1/messages/count_tokens"


def test_messages_count_tokens_on_openai_is_an_estimate(
    claude_client: anthropic.Anthropic, upstream: FakeOpenAI
) -> None:
    raw = claude_client.messages.with_raw_response.count_tokens(
        model=GPT, messages=[{"role": "user", "content": "x" * 400}]
    )
    assert raw.parse().input_tokens >= 100 and raw.headers["x-babelgate-token-count"] == "estimate"
    assert not [r for r in upstream.received if r.method == "POST"]


def test_an_image_is_estimated_as_a_fixed_allowance(claude_client: anthropic.Anthropic) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo" * 1000}}
    counted = claude_client.messages.count_tokens(
        model=GPT, messages=[{"role": "user", "content": [image, {"type": "text", "text": "What is it?"}]}]
    )  # type: ignore[list-item, misc]
    assert 1600 < counted.input_tokens < 1700, "an image counts as a fixed allowance, not as its base64 text"


def test_responses_input_tokens_on_openai_asks_openai(openai_client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    raw = openai_client.responses.input_tokens.with_raw_response.count(
        model=GPT, input="four words right here", instructions="short"
    )
    counted = raw.parse()
    assert counted.object == "response.input_tokens" and counted.input_tokens == 4
    assert raw.headers["x-babelgate-token-count"] == "upstream"
    sent = upstream.received[-1]
    assert sent.path == "/v1/responses/input_tokens" and sent.json["instructions"] == "short"
    assert upstream.spec_violations == []


def test_responses_input_tokens_on_claude_asks_anthropic(
    openai_client: openai.OpenAI, anthropic_upstream: FakeAnthropic
) -> None:
    raw = openai_client.responses.input_tokens.with_raw_response.count(
        model=CLAUDE,
        input=[{"role": "user", "content": "hello there"}],
        instructions="be kind",
        tools=[{"type": "function", "name": "look", "parameters": {"type": "object", "properties": {}}}],
    )
    assert raw.parse().input_tokens > 0 and raw.headers["x-babelgate-token-count"] == "upstream"
    sent = anthropic_upstream.received[-1]
    assert sent.path == "/v1/messages/count_tokens" and "max_tokens" not in sent.json
    assert sent.json["system"] and sent.json["tools"][0]["name"] == "look"


def test_responses_input_tokens_on_gemini_asks_gemini(
    openai_client: openai.OpenAI, gemini_upstream: FakeGemini
) -> None:
    counted = openai_client.responses.input_tokens.count(model=GEMINI, input="five little words in here")
    assert counted.input_tokens == 5


def test_gemini_count_tokens_on_claude_asks_anthropic(gateway: RunningApp, anthropic_upstream: FakeAnthropic) -> None:
    response = httpx.post(
        gateway.url + f"/v1beta/models/{CLAUDE}:countTokens",
        json={"contents": [{"role": "user", "parts": [{"text": "hello"}]}]},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["totalTokens"] > 0 and response.headers["x-babelgate-token-count"] == "upstream"
    assert anthropic_upstream.received[-1].path == "/v1/messages/count_tokens"


def test_gemini_count_tokens_on_openai_is_an_estimate(gateway: RunningApp) -> None:
    response = httpx.post(
        gateway.url + f"/v1beta/models/{GPT}:countTokens",
        json={"contents": [{"role": "user", "parts": [{"text": "y" * 80}]}]},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["totalTokens"] >= 20 and response.headers["x-babelgate-token-count"] == "estimate"


def test_responses_input_tokens_refuses_bad_input(gateway: RunningApp) -> None:
    response = httpx.post(gateway.url + "/v1/responses/input_tokens", json={"model": GPT, "input": 5}, timeout=30)
    assert response.status_code == 400 and response.json()["error"]["param"] == "input"
    response = httpx.post(gateway.url + "/v1/responses/input_tokens", json={"input": "hi"}, timeout=30)
    assert response.status_code == 400 and response.json()["error"]["param"] == "model"


def test_bedrock_counts_claude_with_count_tokens_and_estimates_the_rest(
    make_gateway: GatewayFactory, bedrock_upstream: Any, no_aws_environment: None
) -> None:
    from tests.fakes.bedrock_upstream import AwsKey
    from tests.integration.test_bedrock import ACCESS_KEY, KEY_ENV, KEYS, SECRET_KEY, _config

    bedrock_upstream.iam[ACCESS_KEY] = AwsKey(SECRET_KEY)
    gateway = make_gateway(_config(bedrock_upstream, KEYS), env=KEY_ENV)
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=30) as client:
        claude = client.responses.input_tokens.with_raw_response.count(model="claude", input="hello")
        nova = client.responses.input_tokens.with_raw_response.count(model="nova", input="hello")
    assert claude.parse().input_tokens == 42 and claude.headers["x-babelgate-token-count"] == "upstream"
    assert bedrock_upstream.received[-1].path.endswith("/count-tokens")
    assert nova.headers["x-babelgate-token-count"] == "estimate"
