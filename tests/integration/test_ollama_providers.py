"""Ollama's API over providers that do not speak OpenAI: the Anthropic and Gemini fakes behind the gateway,
driven by the official `ollama` client. Each fake refuses what its real API refuses, so a tool loop whose
call ids the client dropped proves the ids the gateway mints pair calls and results the provider's way."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes.servers import RunningApp
from tests.integration.ollama_helpers import (
    PNG_B64,
    PNG_BYTES,
    WEATHER,
    calls_of,
    last_json,
    ollama_client,
    post,
    stream,
)
from tests.ollama_spec import assert_valid, assert_valid_stream

CLAUDE = "claude-sonnet-4-5"
FLASH = "gemini-2.5-flash"
GEMINI_3 = "gemini-3-pro-preview"
QUESTION = {"role": "user", "content": "Weather in Paris?"}


@pytest.fixture
def claude(make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic) -> RunningApp:
    return make_gateway(env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url})


@pytest.fixture
def gemini(make_gateway: GatewayFactory, gemini_upstream: gem.FakeGemini) -> RunningApp:
    return make_gateway(env={"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": gemini_upstream.base_url})


# -- Anthropic ------------------------------------------------------------------------------


def test_claude_chat_streamed_and_not(claude: RunningApp, anthropic_upstream: ant.FakeAnthropic) -> None:
    anthropic_upstream.script(
        ant.Reply(stream=ant.text_events(["Bon", "jour"], input_tokens=11)),
        ant.Reply(json=ant.message("Salut", usage=ant.usage(11, 2))),
    )
    with ollama_client(claude) as client:
        parts = list(
            client.chat(model=CLAUDE, messages=[{"role": "system", "content": "French."}, QUESTION], stream=True)
        )
        assert "".join(part.message.content or "" for part in parts) == "Bonjour"
        assert (parts[-1].prompt_eval_count, parts[-1].eval_count) == (11, 2)
        answer = client.chat(model=CLAUDE, messages=[QUESTION], stream=False, options={"num_predict": 50})
    assert answer.message.content == "Salut" and answer.done_reason == "stop"
    sent = last_json(anthropic_upstream, "/v1/messages")
    assert sent["max_tokens"] == 50
    first = next(r.json for r in anthropic_upstream.received if r.path == "/v1/messages")
    assert first["system"] in ("French.", [{"type": "text", "text": "French."}])


def test_claude_thinking_and_tool_loop_without_call_ids(
    claude: RunningApp, anthropic_upstream: ant.FakeAnthropic
) -> None:
    anthropic_upstream.script(
        ant.Reply(
            stream=ant.tool_events(
                [("toolu_01", "get_weather", ['{"city":', '"Paris"}'])], thinking="Weather means a tool."
            )
        ),
        ant.Reply(json=ant.message("Sunny, 18C.")),
    )
    messages: list[Any] = [QUESTION]
    with ollama_client(claude) as client:
        parts = list(client.chat(model=CLAUDE, messages=messages, tools=[WEATHER], think=True, stream=True))
        assert "".join(part.message.thinking or "" for part in parts) == "Weather means a tool."
        [call] = calls_of(parts)
        assert (call.function.name, dict(call.function.arguments)) == ("get_weather", {"city": "Paris"})
        messages += [
            {"role": "assistant", "content": "", "thinking": "Weather means a tool.", "tool_calls": [call]},
            {"role": "tool", "content": "18C", "tool_name": "get_weather"},
        ]
        answer = client.chat(model=CLAUDE, messages=messages, tools=[WEATHER], stream=False)
    assert answer.message.content == "Sunny, 18C."
    sent = last_json(anthropic_upstream, "/v1/messages")["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    tool_use = next(block for block in sent[1]["content"] if block["type"] == "tool_use")
    assert tool_use["input"] == {"city": "Paris"}
    result = sent[2]["content"][0]
    assert (result["type"], result["tool_use_id"]) == ("tool_result", tool_use["id"])


def test_claude_generate_with_an_image(claude: RunningApp, anthropic_upstream: ant.FakeAnthropic) -> None:
    anthropic_upstream.script(ant.Reply(json=ant.message("A pixel.")))
    with ollama_client(claude) as client:
        answer = client.generate(model=CLAUDE, prompt="What is this?", images=[PNG_BYTES], stream=False)
    assert answer.response == "A pixel."
    [message] = last_json(anthropic_upstream, "/v1/messages")["messages"]
    image = next(block for block in message["content"] if block["type"] == "image")
    assert image["source"] == {"type": "base64", "media_type": "image/png", "data": PNG_B64}


def test_claude_stream_is_valid_ndjson(claude: RunningApp, anthropic_upstream: ant.FakeAnthropic) -> None:
    anthropic_upstream.script(
        ant.Reply(stream=ant.text_events(["a", "b"])),
        ant.Reply(stream=ant.text_events(["c"], stop_reason="max_tokens")),
    )
    _, objects = stream(claude, "/api/chat", {"model": CLAUDE, "messages": [QUESTION]})
    assert_valid_stream(objects, "chat_stream")
    _, objects = stream(claude, "/api/generate", {"model": CLAUDE, "prompt": "Hi"})
    assert_valid_stream(objects, "generate_stream")
    assert objects[-1]["done_reason"] == "length"


# -- Gemini ---------------------------------------------------------------------------------


def test_gemini_chat_streamed_and_not(gemini: RunningApp, gemini_upstream: gem.FakeGemini) -> None:
    with ollama_client(gemini) as client:
        parts = list(client.chat(model=FLASH, messages=[QUESTION], stream=True))
        assert "".join(part.message.content or "" for part in parts) == "Hello!"
        assert client.chat(model=FLASH, messages=[QUESTION], stream=False).message.content == "Hello!"
    assert_valid(post(gemini, "/api/chat", {"model": FLASH, "messages": [QUESTION], "stream": False}).json(), "chat")


def test_gemini_tool_loop_without_call_ids(gemini: RunningApp, gemini_upstream: gem.FakeGemini) -> None:
    gemini_upstream.script(
        gem.Reply(stream=gem.function_call_chunks([("get_weather", {"city": "Paris"}, None, None)])),
        gem.Reply(json=gem.response("Sunny.")),
    )
    messages: list[Any] = [QUESTION]
    with ollama_client(gemini) as client:
        [call] = calls_of(list(client.chat(model=FLASH, messages=messages, tools=[WEATHER], stream=True)))
        messages += [
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "content": '{"temp": 18}', "tool_name": "get_weather"},
        ]
        assert client.chat(model=FLASH, messages=messages, tools=[WEATHER], stream=False).message.content == "Sunny."
    contents = last_json(gemini_upstream, ":generateContent")["contents"]
    assert contents[1]["parts"][0]["functionCall"]["name"] == "get_weather"
    assert contents[2]["parts"][0]["functionResponse"]["response"] == {"temp": 18}


def test_gemini_3_tool_loop_keeps_its_signature_through_the_call_id(
    gemini: RunningApp, gemini_upstream: gem.FakeGemini
) -> None:
    """A client that sends the call's `id` back (Ollama's own Go types carry it) keeps Gemini 3's thought
    signature, which the gateway carries in that id."""
    gemini_upstream.script(
        gem.Reply(
            stream=gem.function_call_chunks(
                [("get_weather", {"city": "Paris"}, "fc_1", "c2lnbmF0dXJl")], model_version=GEMINI_3
            )
        ),
        gem.Reply(json=gem.response("Sunny.", model_version=GEMINI_3)),
    )
    _, objects = stream(gemini, "/api/chat", {"model": GEMINI_3, "messages": [QUESTION], "tools": [WEATHER]})
    [call] = [call for item in objects for call in item.get("message", {}).get("tool_calls", ())]
    assert call["id"].startswith("fc_1")
    messages = [
        QUESTION,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": "18C", "tool_call_id": call["id"]},
    ]
    answer = post(gemini, "/api/chat", {"model": GEMINI_3, "messages": messages, "tools": [WEATHER], "stream": False})
    assert answer.status_code == 200, answer.text
    part = last_json(gemini_upstream, ":generateContent")["contents"][1]["parts"][0]
    assert part["thoughtSignature"] == "c2lnbmF0dXJl"


def test_gemini_embeddings(gemini: RunningApp, gemini_upstream: gem.FakeGemini) -> None:
    with ollama_client(gemini) as client:
        answer = client.embed(model="gemini-embedding-001", input=["a", "b"], dimensions=8)
        legacy = client.embeddings(model="gemini-embedding-001", prompt="a")
    assert [len(vector) for vector in answer.embeddings] == [8, 8]
    assert legacy.embedding[:8] == answer.embeddings[0]  # Gemini's shorter vectors are prefixes
    assert_valid(post(gemini, "/api/embed", {"model": "gemini-embedding-001", "input": "x"}).json(), "embed")
    assert any(":batchEmbedContents" in r.path for r in gemini_upstream.received)
