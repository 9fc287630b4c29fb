"""Fields of a client's earlier assistant turn that are not part of OpenAI's request schema, sent back as
agents send them (Copilot CLI: `"annotations": []`, a field of the answer's message), through the real
`openai` client to each provider's fake. OpenAI's schema leaves the message open: the OpenAI-compatible
upstream gets the field as sent. Mistral's schema closes it, and Anthropic's, Gemini's and Bedrock's
messages have no such field: there it is dropped and named in `x-babelgate-adjusted-params`. Each fake
fails the test on anything its API would refuse (docs/api.md, the tolerant reader)."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.agents.harness import GATEWAY_KEY, MODELS, gateway_for
from tests.conftest import GatewayFactory
from tests.fakes.scripted import ScriptedStreams

FAKES = {
    "openai": "upstream",
    "anthropic": "anthropic_upstream",
    "gemini": "gemini_upstream",
    "mistral": "mistral_upstream",
    "bedrock": "bedrock_upstream",
}
# An earlier turn as Copilot CLI sends it back: the answer's message, `refusal` and `annotations` included
# (a null `refusal` carries nothing: dropped where it cannot go, unreported).
MESSAGES: Any = [
    {"role": "user", "content": "Say hello."},
    {"role": "assistant", "content": "Hello!", "refusal": None, "annotations": []},
    {"role": "user", "content": "Once more."},
]
# Where the field reaches the upstream (True) or is dropped and reported (False).
REACHES = {"openai": True, "anthropic": False, "gemini": False, "mistral": False, "bedrock": False}


@pytest.mark.parametrize("provider", list(FAKES))
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_an_assistant_turn_with_annotations_reaches_each_provider(
    request: pytest.FixtureRequest, make_gateway: GatewayFactory, provider: str, stream: bool
) -> None:
    fake: ScriptedStreams = request.getfixturevalue(FAKES[provider])
    gateway = gateway_for(provider, fake, make_gateway)
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0, timeout=30) as client:
        if stream:
            with client.chat.completions.with_streaming_response.create(
                model=MODELS[provider], messages=MESSAGES, stream=True
            ) as answer:
                text = "".join(chunk.choices[0].delta.content or "" for chunk in answer.parse() if chunk.choices)
                headers = answer.headers
        else:
            raw = client.chat.completions.with_raw_response.create(model=MODELS[provider], messages=MESSAGES)
            text, headers = raw.parse().choices[0].message.content or "", raw.headers
    assert text, "the upstream's answer did not come back"
    sent = [received.json for received in fake.received if received.method == "POST"]  # type: ignore[attr-defined]
    assert len(sent) == 1, sent
    adjusted = headers.get("x-babelgate-adjusted-params", "").split(";")
    if REACHES[provider]:
        assert sent[0]["messages"][1] == MESSAGES[1]
        assert "messages[1].annotations=dropped" not in adjusted
    else:
        assert "annotations" not in str(sent[0]) and "refusal" not in str(sent[0]), sent[0]
        assert "messages[1].annotations=dropped" in adjusted, headers
        assert not any(item.startswith("messages[1].refusal") for item in adjusted), headers
