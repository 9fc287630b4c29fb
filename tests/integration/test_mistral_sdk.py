"""The official `mistralai` SDK pointed at the gateway (the tolerant reader's test): its own
words (`tool_choice="any"`, `random_seed`, `safe_prompt`, `prompt_mode`, `prefix` on assistant messages,
`index` on tool calls, `name` on tool messages) reach an OpenAI upstream as OpenAI's on the fast path, and
Mistral's own upstream as Mistral's. A Qwen-Code-style function without `parameters` reaches Mistral
with an empty object schema. Both fakes refuse what their API refuses."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest
from mistralai.client import Mistral
from mistralai.client import models as mm

from tests.conftest import MISTRAL_KEY, GatewayFactory
from tests.fakes import mistral_upstream as mis
from tests.fakes.openai_upstream import FakeOpenAI, completion, text_stream, tool_call
from tests.fakes.scripted import Reply
from tests.fakes.servers import RunningApp

GPT = "gpt-4o-mini"
MISTRAL = "mistral-small-latest"
WEATHER = mm.Tool(
    function=mm.Function(
        name="get_weather",
        description="Weather for a city",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )
)


@pytest.fixture
def sdk(gateway: RunningApp) -> Iterator[Mistral]:
    with Mistral(api_key="x", server_url=gateway.url, timeout_ms=10_000) as client:
        yield client


@pytest.fixture
def mistral_gateway(make_gateway: GatewayFactory, mistral_upstream: mis.FakeMistral) -> RunningApp:
    return make_gateway(env={"MISTRAL_API_KEY": MISTRAL_KEY, "MISTRAL_BASE_URL": mistral_upstream.base_url})


@pytest.fixture
def mistral_sdk(mistral_gateway: RunningApp) -> Iterator[Mistral]:
    with Mistral(api_key="x", server_url=mistral_gateway.url, timeout_ms=10_000) as client:
        yield client


def _sent(fake: mis.FakeMistral) -> dict[str, object]:
    return next(r for r in reversed(fake.received) if r.path == "/v1/chat/completions").json  # type: ignore[no-any-return]


# -- to an OpenAI upstream, on the fast path -----------------------------------------------------


def test_complete_with_mistral_fields_on_openai(sdk: Mistral, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(json=completion("Bonjour!")))
    answer = sdk.chat.complete(
        model=GPT,
        messages=[{"role": "user", "content": "Hi"}],
        random_seed=7,
        safe_prompt=True,
        prompt_mode="reasoning",
        temperature=0.3,
    )
    assert answer.choices[0].message.content == "Bonjour!"
    sent = upstream.received[-1].json
    assert sent["seed"] == 7 and sent["temperature"] == 0.3
    assert not {"random_seed", "safe_prompt", "prompt_mode"} & set(sent)


def test_adjusted_header_lists_the_mistral_fields(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(json=completion("ok")))
    body = {
        "model": GPT,
        "messages": [{"role": "user", "content": "Hi"}],
        "random_seed": 7,
        "safe_prompt": False,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "any",
    }
    response = httpx.post(
        gateway.url + "/v1/chat/completions", content=orjson.dumps(body), headers={"authorization": "Bearer x"}
    )
    assert response.status_code == 200, response.text
    adjusted = response.headers["x-babelgate-adjusted-params"].split(";")
    assert adjusted == ["tool_choice=renamed:required", "random_seed=renamed:seed", "safe_prompt=dropped"]
    assert upstream.received[-1].json["tool_choice"] == "required"


def test_stream_on_openai(sdk: Mistral, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=text_stream(["Hel", "lo"], include_usage=True)))
    events = list(sdk.chat.stream(model=GPT, messages=[{"role": "user", "content": "Hi"}], random_seed=1))
    text = "".join(str(event.data.choices[0].delta.content or "") for event in events if event.data.choices)
    assert text == "Hello"


def test_tool_round_trip_with_any_on_openai(sdk: Mistral, upstream: FakeOpenAI) -> None:
    upstream.script(
        Reply(json=completion(None, tool_calls=[tool_call("call_1", "get_weather", '{"city": "Paris"}')])),
        Reply(json=completion("Sunny.")),
    )
    messages: list[mm.Messages] = [mm.UserMessage(content="Weather in Paris?")]
    first = sdk.chat.complete(model=GPT, messages=messages, tools=[WEATHER], tool_choice="any")
    assert upstream.received[-1].json["tool_choice"] == "required"
    message = first.choices[0].message
    assert message.tool_calls and message.tool_calls[0].function.name == "get_weather"
    messages += [
        message,
        mm.ToolMessage(content="sunny", tool_call_id=message.tool_calls[0].id, name="get_weather"),
    ]
    second = sdk.chat.complete(model=GPT, messages=messages, tools=[WEATHER], tool_choice="auto")
    assert second.choices[0].message.content == "Sunny."
    sent = upstream.received[-1].json["messages"]
    assert "prefix" not in sent[1] and all("index" not in call for call in sent[1]["tool_calls"])
    assert sent[2] == {"role": "tool", "content": "sunny", "tool_call_id": "call_1"}


# -- to Mistral ----------------------------------------------------------------------------------


def test_tools_with_any_on_mistral(mistral_sdk: Mistral, mistral_upstream: mis.FakeMistral) -> None:
    mistral_upstream.script(
        mis.Reply(json=mis.completion(None, tool_calls=[mis.tool_call("abcDEF123", "get_weather", {"city": "Rome"})]))
    )
    answer = mistral_sdk.chat.complete(
        model=MISTRAL,
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[WEATHER],
        tool_choice="any",
        random_seed=3,
    )
    calls = answer.choices[0].message.tool_calls
    assert calls and calls[0].id == "abcDEF123"
    sent = _sent(mistral_upstream)
    assert sent["tool_choice"] == "any" and sent["random_seed"] == 3


def test_stream_on_mistral(mistral_sdk: Mistral, mistral_upstream: mis.FakeMistral) -> None:
    mistral_upstream.script(mis.Reply(stream=mis.text_stream(["Ciao", "!"])))
    events = list(mistral_sdk.chat.stream(model=MISTRAL, messages=[{"role": "user", "content": "Hi"}]))
    text = "".join(str(event.data.choices[0].delta.content or "") for event in events if event.data.choices)
    assert text == "Ciao!"


def test_function_without_parameters_reaches_mistral_with_an_empty_schema(
    mistral_gateway: RunningApp, mistral_upstream: mis.FakeMistral
) -> None:
    """What Qwen Code sends: OpenAI's API makes `parameters` optional, Mistral's does not."""
    mistral_upstream.script(mis.Reply(json=mis.completion("Done.")))
    body = {
        "model": MISTRAL,
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [{"type": "function", "function": {"name": "list_files", "description": "List the files"}}],
    }
    response = httpx.post(
        mistral_gateway.url + "/v1/chat/completions", content=orjson.dumps(body), headers={"authorization": "Bearer x"}
    )
    assert response.status_code == 200, response.text
    tools = _sent(mistral_upstream)["tools"]
    assert tools == [
        {
            "type": "function",
            "function": {
                "name": "list_files",
                "description": "List the files",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ]


def test_tool_round_trip_on_mistral(mistral_sdk: Mistral, mistral_upstream: mis.FakeMistral) -> None:
    """On Mistral's own road the SDK's fields are Mistral's: the round trip reaches it valid."""
    mistral_upstream.script(
        mis.Reply(json=mis.completion(None, tool_calls=[mis.tool_call("abcDEF123", "get_weather", {"city": "Rome"})])),
        mis.Reply(json=mis.completion("Sunny in Rome.")),
    )
    messages: list[mm.Messages] = [mm.UserMessage(content="Weather in Rome?")]
    first = mistral_sdk.chat.complete(model=MISTRAL, messages=messages, tools=[WEATHER], tool_choice="any")
    message = first.choices[0].message
    assert message.tool_calls
    messages += [message, mm.ToolMessage(content="sunny", tool_call_id="abcDEF123", name="get_weather")]
    second = mistral_sdk.chat.complete(model=MISTRAL, messages=messages, tools=[WEATHER])
    assert second.choices[0].message.content == "Sunny in Rome."
    sent = _sent(mistral_upstream)["messages"]
    assert sent[1]["prefix"] is False and sent[1]["tool_calls"][0]["index"] == 0  # type: ignore[index]
    assert sent[2] == {"role": "tool", "content": "sunny", "tool_call_id": "abcDEF123", "name": "get_weather"}  # type: ignore[index]


def test_any_is_required_on_the_responses_api_too(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(json=completion(None, tool_calls=[tool_call("call_1", "f", "{}")])))
    body = {
        "model": GPT,
        "input": "Hi",
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}],
        "tool_choice": "any",
        "store": False,
    }
    response = httpx.post(
        gateway.url + "/v1/responses", content=orjson.dumps(body), headers={"authorization": "Bearer x"}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert upstream.received[-1].json["tool_choice"] == "required"
