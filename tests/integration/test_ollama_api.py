"""Ollama's native API (`/api/*`) through the gateway to the fake OpenAI upstream, driven by the official
`ollama` client: chat (streamed and not, tools round trip, format, images, think, options), generate, embed,
the model routes. Every answer is also read raw and checked against Ollama's spec; the fake checks what the
gateway sent against OpenAI's."""

from __future__ import annotations

import ollama
import pydantic
import pytest

from tests.fakes.openai_upstream import FakeOpenAI, completion, tool_call, tool_call_stream
from tests.fakes.scripted import Reply
from tests.fakes.servers import RunningApp
from tests.integration.ollama_helpers import (
    PNG_B64,
    PNG_BYTES,
    TIME,
    WEATHER,
    calls_of,
    last_json,
    ollama_client,
    post,
    stream,
)
from tests.ollama_spec import assert_valid, assert_valid_stream

USER = {"role": "user", "content": "Hi"}


def chat_calls(upstream: FakeOpenAI) -> list[object]:
    """What the gateway POSTed upstream (its model listing, fetched in the background, is a GET)."""
    return [r for r in upstream.received if r.method == "POST"]


def test_chat_not_streamed(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    with ollama_client(gateway) as client:
        answer = client.chat(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": "Be brief."}, USER],
            stream=False,
            keep_alive="5m",
        )
    assert (answer.message.role, answer.message.content, answer.done, answer.done_reason) == (
        "assistant",
        "Hello!",
        True,
        "stop",
    )
    assert (answer.prompt_eval_count, answer.eval_count) == (9, 3)
    assert answer.total_duration and answer.eval_duration and answer.total_duration >= answer.eval_duration
    sent = last_json(upstream, "/chat/completions")
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert "stream" not in sent and "keep_alive" not in sent
    raw = post(gateway, "/api/chat", {"model": "gpt-4o-mini", "messages": [USER], "stream": False})
    assert raw.headers["content-type"] == "application/json"
    assert_valid(raw.json(), "chat")


def test_chat_streamed_by_default(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    with ollama_client(gateway) as client:
        parts = list(client.chat(model="gpt-4o-mini", messages=[USER], stream=True))
    assert "".join(part.message.content or "" for part in parts) == "Hello!"
    assert [part.done for part in parts] == [False, False, False, True]
    assert (parts[-1].done_reason, parts[-1].prompt_eval_count, parts[-1].eval_count) == ("stop", 9, 3)
    response, objects = stream(gateway, "/api/chat", {"model": "gpt-4o-mini", "messages": [USER]})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert_valid_stream(objects, "chat_stream")
    final = objects[-1]
    assert final["prompt_eval_duration"] > 0 and final["eval_duration"] > 0
    assert final["total_duration"] >= final["load_duration"] + final["prompt_eval_duration"] + final["eval_duration"]
    sent = last_json(upstream, "/chat/completions")
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_chat_options_map_and_the_dropped_are_reported(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    options = {
        "temperature": 0.2,
        "top_p": 0.9,
        "num_predict": 32,
        "stop": ["END"],
        "seed": 7,
        "num_ctx": 4096,
        "num_gpu": 1,
    }
    with ollama_client(gateway) as client:
        client.chat(model="gpt-4o-mini", messages=[USER], options=options, stream=False)
    sent = last_json(upstream, "/chat/completions")
    assert {k: sent.get(k) for k in ("temperature", "top_p", "max_tokens", "stop", "seed")} == {
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 32,
        "stop": ["END"],
        "seed": 7,
    }
    assert "num_ctx" not in sent and "options" not in sent
    raw = post(gateway, "/api/chat", {"model": "gpt-4o-mini", "messages": [USER], "options": options})
    assert raw.headers["x-babelgate-adjusted-params"] == "options.num_ctx=dropped;options.num_gpu=dropped"


def test_chat_tools_round_trip_streamed(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    """Streamed argument fragments arrive as whole calls; the client sends them back without ids (the
    official client keeps none) and answers by `tool_name`; the upstream gets a consistent conversation."""
    upstream.script(
        Reply(
            stream=tool_call_stream(
                [  # type: ignore[arg-type]
                    ("call_w", "get_weather", ['{"city":', '"Paris"}']),
                    ("call_t", "get_time", ['{"tz":', '"CET"}']),
                ]
            )
        )
    )
    messages: list[object] = [{"role": "user", "content": "Weather and time in Paris?"}]
    with ollama_client(gateway) as client:
        parts = list(client.chat(model="gpt-4o-mini", messages=messages, tools=[WEATHER, TIME], stream=True))
        calls = calls_of(parts)
        assert [(call.function.name, dict(call.function.arguments)) for call in calls] == [
            ("get_weather", {"city": "Paris"}),
            ("get_time", {"tz": "CET"}),
        ]
        assert parts[-1].done_reason == "stop"
        messages += [
            {"role": "assistant", "content": "", "tool_calls": calls},
            {"role": "tool", "content": "12:00", "tool_name": "get_time"},
            {"role": "tool", "content": "18C", "tool_name": "get_weather"},
        ]
        answer = client.chat(model="gpt-4o-mini", messages=messages, tools=[WEATHER, TIME], stream=False)
    assert answer.message.content == "Hello!"
    sent = last_json(upstream, "/chat/completions")
    assert sent["messages"][1]["tool_calls"] == [
        {"id": "call_1_0", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
        {"id": "call_1_1", "type": "function", "function": {"name": "get_time", "arguments": '{"tz":"CET"}'}},
    ]
    assert [(m["role"], m.get("tool_call_id")) for m in sent["messages"][2:]] == [
        ("tool", "call_1_1"),
        ("tool", "call_1_0"),
    ]
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["get_weather", "get_time"]


def test_chat_tool_calls_not_streamed_keep_their_id(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(json=completion(None, tool_calls=[tool_call("call_9", "get_weather", '{"city":"Rome"}')])))
    raw = post(gateway, "/api/chat", {"model": "gpt-4o-mini", "messages": [USER], "tools": [WEATHER], "stream": False})
    body = raw.json()
    assert_valid(body, "chat")
    assert body["message"]["tool_calls"] == [
        {"id": "call_9", "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Rome"}}}
    ]
    assert body["done_reason"] == "stop"


def add_two_numbers(a: int, b: int) -> int:
    """Add two numbers.

    Args:
      a: The first number
      b: The second number
    """
    return a + b


def test_python_functions_as_tools(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    """The official client turns a Python function into a tool definition; the gateway passes it on."""
    upstream.script(Reply(json=completion(None, tool_calls=[tool_call("c1", "add_two_numbers", '{"a":2,"b":3}')])))
    with ollama_client(gateway) as client:
        answer = client.chat(model="gpt-4o-mini", messages=[USER], tools=[add_two_numbers], stream=False)
    [call] = answer.message.tool_calls or []
    assert add_two_numbers(**call.function.arguments) == 5
    [tool] = last_json(upstream, "/chat/completions")["tools"]
    assert tool["function"]["name"] == "add_two_numbers"
    assert tool["function"]["parameters"]["required"] == ["a", "b"]


class Person(pydantic.BaseModel):
    name: str
    age: int


def test_chat_format_schema_and_json(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(json=completion('{"name": "Ada", "age": 36}')))
    with ollama_client(gateway) as client:
        answer = client.chat(model="gpt-4o-mini", messages=[USER], format=Person.model_json_schema(), stream=False)
        assert Person.model_validate_json(answer.message.content or "") == Person(name="Ada", age=36)
        assert last_json(upstream, "/chat/completions")["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": Person.model_json_schema()},
        }
        client.chat(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Answer in JSON."}], format="json", stream=False
        )
    assert last_json(upstream, "/chat/completions")["response_format"] == {"type": "json_object"}


def test_chat_images(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    with ollama_client(gateway) as client:
        client.chat(
            model="gpt-4o-mini",
            stream=False,
            messages=[{"role": "user", "content": "What is this?", "images": [PNG_BYTES]}],
        )
    assert last_json(upstream, "/chat/completions")["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG_B64}},
                {"type": "text", "text": "What is this?"},
            ],
        }
    ]


def test_chat_think(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(json=completion("4", reasoning_content="2 + 2.")))
    with ollama_client(gateway) as client:
        answer = client.chat(model="o4-mini", messages=[USER], think=True, stream=False)
    assert (answer.message.thinking, answer.message.content) == ("2 + 2.", "4")
    assert last_json(upstream, "/chat/completions")["reasoning_effort"] == "medium"
    # A model that does not reason: OpenAI's profile drops it and says so.
    upstream.script(Reply(json=completion("4")))
    with ollama_client(gateway) as client:
        client.chat(model="gpt-4o-mini", messages=[USER], think=True, stream=False)
    assert "reasoning_effort" not in last_json(upstream, "/chat/completions")


def test_chat_model_with_latest_tag(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    with ollama_client(gateway) as client:
        answer = client.chat(model="gpt-4o-mini:latest", messages=[USER], stream=False)
    assert answer.model == "gpt-4o-mini:latest"
    assert last_json(upstream, "/chat/completions")["model"] == "gpt-4o-mini"


def test_generate(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    with ollama_client(gateway) as client:
        answer = client.generate(
            model="gpt-4o-mini",
            prompt="Why is the sky blue?",
            system="Be brief.",
            format="json",
            images=[PNG_BYTES],
            stream=False,
        )
        assert (answer.response, answer.done_reason, answer.eval_count) == ("Hello!", "stop", 3)
        sent = last_json(upstream, "/chat/completions")
        assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
        assert [part["type"] for part in sent["messages"][1]["content"]] == ["image_url", "text"]
        assert sent["response_format"] == {"type": "json_object"}
        parts = list(client.generate(model="gpt-4o-mini", prompt="Hi", stream=True))
    assert "".join(part.response for part in parts) == "Hello!" and parts[-1].done
    response, objects = stream(gateway, "/api/generate", {"model": "gpt-4o-mini", "prompt": "Hi"})
    assert response.headers["content-type"] == "application/x-ndjson"
    assert_valid_stream(objects, "generate_stream")
    assert_valid(
        post(gateway, "/api/generate", {"model": "gpt-4o-mini", "prompt": "Hi", "stream": False}).json(), "generate"
    )


def test_an_empty_request_loads_or_unloads_without_an_upstream_call(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    with ollama_client(gateway) as client:
        assert client.generate(model="gpt-4o-mini").done_reason == "load"
        assert client.generate(model="gpt-4o-mini", keep_alive=0).done_reason == "unload"
        loaded = client.chat(model="gpt-4o-mini", messages=[], stream=False)
    assert (loaded.done, loaded.done_reason, loaded.message.content) == (True, "load", "")
    assert chat_calls(upstream) == []
    with pytest.raises(ollama.ResponseError) as caught, ollama_client(gateway) as client:
        client.generate(model="no-such-model")
    assert caught.value.status_code == 404


def test_generate_raw_and_suffix_go_to_the_completions_endpoint(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    """An instruct model the upstream serves at its legacy `/completions` takes a raw prompt or a suffix as
    they are; the answer comes back as Ollama's, streamed or not."""
    with ollama_client(gateway) as client:
        answer = client.generate(
            model="gpt-3.5-turbo-instruct",
            prompt="<s>[INST] Hi [/INST]",
            raw=True,
            system="ignored in raw mode",
            options={"num_predict": 20, "temperature": 0},
            stream=False,
        )
        assert (answer.response, answer.done_reason, answer.prompt_eval_count, answer.eval_count) == (
            "Hello!",
            "stop",
            5,
            2,
        )
        sent = last_json(upstream, "/completions")
        assert sent == {
            "model": "gpt-3.5-turbo-instruct",
            "prompt": "<s>[INST] Hi [/INST]",
            "max_tokens": 20,
            "temperature": 0,
        }
        parts = list(
            client.generate(
                model="gpt-3.5-turbo-instruct", prompt="def add(a, b):\n    ", suffix="\n    return c", stream=True
            )
        )
    assert "".join(part.response for part in parts) == "Hello!" and parts[-1].done_reason == "stop"
    sent = last_json(upstream, "/completions")
    assert (sent["suffix"], sent["stream"], sent["stream_options"]) == ("\n    return c", True, {"include_usage": True})
    response, objects = stream(
        gateway, "/api/generate", {"model": "gpt-3.5-turbo-instruct", "prompt": "x", "raw": True}
    )
    assert response.headers["content-type"] == "application/x-ndjson"
    assert_valid_stream(objects, "generate_stream")
    assert [r.path for r in upstream.received if r.method == "POST"][-1] == "/v1/completions"


@pytest.mark.parametrize(("field", "value"), [("raw", True), ("suffix", "return x"), ("context", [1, 2])])
def test_generate_refuses_raw_suffix_and_context_on_a_chat_model(
    gateway: RunningApp, upstream: FakeOpenAI, field: str, value: object
) -> None:
    response = post(gateway, "/api/generate", {"model": "gpt-4o-mini", "prompt": "def f(", field: value})
    assert response.status_code == 400
    assert_valid(response.json(), "error")
    assert field in response.json()["error"]
    assert chat_calls(upstream) == []


def test_embed_and_legacy_embeddings(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    with ollama_client(gateway) as client:
        answer = client.embed(model="text-embedding-3-small", input=["a", "bbb"], dimensions=3, truncate=True)
        assert answer.embeddings == [[1.0, 0.5, -0.25], [3.0, 0.5, -0.25]]
        assert answer.prompt_eval_count == 4 and answer.model == "text-embedding-3-small"
        sent = last_json(upstream, "/embeddings")
        assert (sent["input"], sent["dimensions"], sent["encoding_format"]) == (["a", "bbb"], 3, "float")
        assert client.embeddings(model="text-embedding-3-small", prompt="abcd").embedding == [4.0, 0.5, -0.25]
        upstream.received.clear()
        assert client.embed(model="text-embedding-3-small", input=[]).embeddings == []
        assert chat_calls(upstream) == []
    assert_valid(post(gateway, "/api/embed", {"model": "text-embedding-3-small", "input": "x"}).json(), "embed")
    assert_valid(
        post(gateway, "/api/embeddings", {"model": "text-embedding-3-small", "prompt": "x"}).json(), "embeddings"
    )
