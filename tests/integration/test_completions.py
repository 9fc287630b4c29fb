"""Legacy completions (`/v1/completions`) through the running gateway, driven by the official `openai` SDK.

Both roads: the native one (the OpenAI fake's own `/v1/completions`, which checks every request against
the spec's `CreateCompletionRequest`) and the translated one (one chat call per prompt: on the OpenAI
fake's chat endpoint and on the Anthropic fake). Our own `text_completion` answers and chunks are checked
against the spec's `CreateCompletionResponse`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import orjson
import pytest

from babelgate import Hook
from babelgate.hooks import Completion, RequestContext
from babelgate.schema.chat import ChatRequest
from tests.conftest import ANTHROPIC_KEY, UPSTREAM_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes.openai_spec import schema_violations
from tests.fakes.openai_upstream import (
    FakeOpenAI,
    Reply,
    completion,
    completion_stream,
    text_completion,
    text_stream,
)
from tests.fakes.servers import RunningApp

INSTRUCT = "gpt-3.5-turbo-instruct"  # OpenAI serves it at /v1/completions: the native road
CHAT_MODEL = "gpt-4o-mini"  # OpenAI's /v1/completions refuses chat models: the translated road
CLAUDE = "claude-sonnet-4-6"


def assert_valid_completion(body: dict[str, Any]) -> None:
    assert schema_violations(body, "CreateCompletionResponse") == []


def assert_valid_chunk(chunk: dict[str, Any]) -> None:
    """Streamed chunks share the answer's schema, except for two nulls the schema does not list:
    a choice's `finish_reason` until it ends (OpenAI's own streams send it), and `usage` on every
    chunk but the last when `include_usage` is on (as `ChatCompletionStreamOptions` describes)."""
    ended = copy.deepcopy(chunk)
    if ended.get("usage", {}) is None:
        del ended["usage"]
    for choice in ended["choices"]:
        if choice["finish_reason"] is None:
            choice["finish_reason"] = "stop"
    assert_valid_completion(ended)


def raw_stream(gateway: RunningApp, body: dict[str, Any], **headers: str) -> list[dict[str, Any]]:
    """The data objects of a streamed answer, with `[DONE]` required last."""
    data: list[str] = []
    with httpx.stream("POST", gateway.url + "/v1/completions", json=body, headers=headers, timeout=10) as answer:
        assert answer.status_code == 200, answer.read()
        for line in answer.iter_lines():
            if line.startswith("data: "):
                data.append(line[6:])
    assert data[-1] == "[DONE]"
    return [orjson.loads(item) for item in data[:-1]]


def post(gateway: RunningApp, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(gateway.url + "/v1/completions", json=body, headers=headers, timeout=10)


def chat_echo(body: dict[str, Any]) -> Reply:
    """A chat answer that names the prompt it answers, with `n` choices (requests run concurrently,
    so answers are derived from each request rather than scripted in order)."""
    prompt = body["messages"][0]["content"]
    n = body.get("n") or 1
    answer = completion(f"<{prompt}>", model="gpt-4o-mini-2024-07-18")
    answer["choices"] = [
        {**answer["choices"][0], "index": index, "message": {"role": "assistant", "content": f"<{prompt}:{index}>"}}
        for index in range(n)
    ]
    if body.get("stream"):
        return Reply(stream=list(text_stream([f"<{prompt}", ">"], include_usage=True)))
    return Reply(json=answer)


def posted(upstream: FakeOpenAI) -> list[str]:
    """The paths of the calls the gateway made (model listings at startup aside)."""
    return [r.path for r in upstream.received if r.method == "POST"]


def chat_requests(upstream: FakeOpenAI) -> list[dict[str, Any]]:
    return [r.json for r in upstream.received if r.path == "/v1/chat/completions"]


# -- the native road ---------------------------------------------------------------------------


def test_native_request_goes_as_is_and_the_answer_comes_back_byte_for_byte(
    gateway: RunningApp, upstream: FakeOpenAI
) -> None:
    answer = text_completion("Say hi, world", model="gpt-3.5-turbo-instruct-0914")
    upstream.script(Reply(json=answer))
    body = {
        "model": f"openai/{INSTRUCT}",
        "prompt": "Say hi",
        "suffix": "!",
        "echo": True,
        "logprobs": 2,
        "best_of": 3,
        "max_tokens": 5,
        "custom_flag": {"deep": [1, None]},
    }
    response = post(gateway, body)
    assert response.status_code == 200
    assert response.content == orjson.dumps(answer)
    sent = upstream.received[-1]
    assert sent.path == "/v1/completions"
    assert sent.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert sent.json == {**body, "model": INSTRUCT}


def test_native_list_prompts_echo_and_logprobs_with_the_sdk(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    answer = client.completions.create(model=INSTRUCT, prompt=["Hi", "Yo"], n=2, echo=True, logprobs=1)
    assert [(c.index, c.text) for c in answer.choices] == [
        (0, "HiHello!"),
        (1, "HiHello 0.1!"),
        (2, "YoHello 1.0!"),
        (3, "YoHello 1.1!"),
    ]
    assert answer.choices[0].logprobs is not None and answer.choices[0].logprobs.text_offset == [2]
    assert upstream.received[-1].json["prompt"] == ["Hi", "Yo"]


def test_native_token_prompts_are_passed_through(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    answer = client.completions.create(model=INSTRUCT, prompt=[[1212, 318], [257]])
    assert len(answer.choices) == 2
    assert upstream.received[-1].json["prompt"] == [[1212, 318], [257]]


def test_native_stream_is_relayed_with_its_usage(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=completion_stream(["Hel", "lo!"], include_usage=True)))  # type: ignore[arg-type]
    chunks = list(
        client.completions.create(model=INSTRUCT, prompt="Hi", stream=True, stream_options={"include_usage": True})
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Hello!"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 8
    assert upstream.received[-1].json["stream_options"] == {"include_usage": True}


def test_native_upstream_error_is_relayed(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    error = {"message": "best_of must be >= n", "type": "invalid_request_error", "param": "best_of", "code": None}
    upstream.script(Reply(status=400, json={"error": error}))
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=INSTRUCT, prompt="Hi", n=3, best_of=2)
    assert caught.value.body["message"] == "best_of must be >= n"  # type: ignore[index]
    assert caught.value.body["param"] == "best_of"  # type: ignore[index]


def test_native_stream_cut_midway_ends_with_an_error(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=completion_stream(["Hel", "lo", "!"]), drop_after=2))  # type: ignore[arg-type]
    stream = client.completions.create(model=INSTRUCT, prompt="Hi", stream=True)
    with pytest.raises(openai.APIError):
        list(stream)


def test_native_profile_edits_are_made_and_reported(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(f'providers:\n  edge: {{base_url: "{upstream.base_url}", profile: no-stream-options}}\n')
    body = {"model": "edge/base-7b", "prompt": "Hi", "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", gateway.url + "/v1/completions", json=body, timeout=10) as response:
        assert response.headers["x-babelgate-adjusted-params"] == "stream_options=dropped"
        assert b"data: [DONE]" in response.read()
    assert upstream.received[-1].json == {"model": "base-7b", "prompt": "Hi", "stream": True}


def test_native_validation_still_applies(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    response = post(gateway, {"model": INSTRUCT, "prompt": "Hi", "echo": "yes"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "echo"
    assert posted(upstream) == []


# -- the translated road on an OpenAI chat model -----------------------------------------------


def test_translated_prompt_becomes_a_single_turn_chat_with_the_legacy_default_max_tokens(
    gateway: RunningApp, upstream: FakeOpenAI
) -> None:
    response = post(
        gateway,
        {
            "model": CHAT_MODEL,
            "prompt": "Once upon a time",
            "temperature": 0.5,
            "stop": ["\n"],
            "user": "u-1",
            "seed": 7,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert_valid_completion(body)
    assert body["id"].startswith("cmpl-") and body["object"] == "text_completion"
    assert body["choices"] == [{"text": "Hello!", "index": 0, "logprobs": None, "finish_reason": "stop"}]
    assert body["usage"]["total_tokens"] == 12
    assert chat_requests(upstream) == [
        {
            "model": CHAT_MODEL,
            "messages": [{"role": "user", "content": "Once upon a time"}],
            "temperature": 0.5,
            "stop": ["\n"],
            "seed": 7,
            "max_tokens": 16,
            "user": "u-1",
        }
    ]


def test_translated_list_prompts_fan_out_prompt_major_with_echo(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.chat_responder = chat_echo
    answer = client.completions.create(model=CHAT_MODEL, prompt=["a", "b", "c"], n=2, echo=True, max_tokens=30)
    assert [(c.index, c.text) for c in answer.choices] == [
        (0, "a<a:0>"),
        (1, "a<a:1>"),
        (2, "b<b:0>"),
        (3, "b<b:1>"),
        (4, "c<c:0>"),
        (5, "c<c:1>"),
    ]
    assert answer.object == "text_completion" and answer.model == "gpt-4o-mini-2024-07-18"
    assert answer.usage is not None and (answer.usage.prompt_tokens, answer.usage.total_tokens) == (27, 36)
    sent = chat_requests(upstream)
    assert sorted(r["messages"][0]["content"] for r in sent) == ["a", "b", "c"]
    assert all(r["n"] == 2 and r["max_tokens"] == 30 for r in sent)


def test_translated_answer_with_the_raw_body_matches_the_spec(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.chat_responder = chat_echo
    response = post(gateway, {"model": CHAT_MODEL, "prompt": ["x", "y"], "echo": True})
    assert_valid_completion(response.json())


def test_translated_stream_with_list_prompts_echo_and_usage(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.chat_responder = chat_echo
    chunks = raw_stream(
        gateway,
        {
            "model": CHAT_MODEL,
            "prompt": ["a", "b"],
            "echo": True,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    for chunk in chunks:
        assert_valid_chunk(chunk)
    assert len({chunk["id"] for chunk in chunks}) == 1 and chunks[0]["id"].startswith("cmpl-")
    texts: dict[int, str] = {}
    finishes: dict[int, str] = {}
    for chunk in chunks[:-1]:
        assert chunk["usage"] is None and chunk["object"] == "text_completion"
        for choice in chunk["choices"]:
            texts[choice["index"]] = texts.get(choice["index"], "") + choice["text"]
            if choice["finish_reason"]:
                finishes[choice["index"]] = choice["finish_reason"]
    assert texts == {0: "a<a>", 1: "b<b>"}
    assert finishes == {0: "stop", 1: "stop"}
    assert chunks[0]["choices"][0]["text"] == "a", "the echo comes first"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 24


def test_translated_stream_with_the_sdk(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    chunks = list(client.completions.create(model=CHAT_MODEL, prompt="Hi", stream=True))
    assert "".join(c.choices[0].text for c in chunks) == "Hello!"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)
    sent = chat_requests(upstream)[-1]
    # Usage is always asked for: the gateway counts it even when the client does not want it.
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_translated_stream_failing_before_the_first_byte_is_an_http_error(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    upstream.script(
        Reply(
            status=429,
            json={"error": {"message": "slow down", "type": "rate_limit_error"}},
            headers={"Retry-After": "2"},
        )
    )
    with pytest.raises(openai.RateLimitError):
        list(client.completions.create(model=CHAT_MODEL, prompt="Hi", stream=True))


def test_translated_stream_cut_midway_ends_with_an_error(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=text_stream(["Hel", "lo", "!"]), drop_after=2))  # type: ignore[arg-type]
    with pytest.raises(openai.APIError):
        list(client.completions.create(model=CHAT_MODEL, prompt="Hi", stream=True))


def test_translated_failure_of_one_prompt_fails_the_request(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    def one_fails(body: dict[str, Any]) -> Reply:
        if body["messages"][0]["content"] == "bad":
            return Reply(
                status=400,
                json={
                    "error": {"message": "too long", "type": "invalid_request_error", "param": "messages", "code": None}
                },
            )
        return chat_echo(body)

    upstream.chat_responder = one_fails
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=CHAT_MODEL, prompt=["good", "bad", "good"])
    assert caught.value.body["message"] == "too long"  # type: ignore[index]


@pytest.mark.parametrize(
    ("fields", "param", "key_words"),
    [
        ({"suffix": "}"}, "suffix", "suffix"),
        ({"logprobs": 0}, "logprobs", "log probabilities"),
        ({"prompt": [1212, 318]}, "prompt", "token ids"),
        ({"prompt": [[1212], [318]]}, "prompt", "token ids"),
        ({"best_of": 3}, "best_of", "best_of"),
        ({"max_tokens": 0}, "max_tokens", "max_tokens"),
    ],
)
def test_translated_road_refuses_what_chat_cannot_do(
    client: openai.OpenAI, upstream: FakeOpenAI, fields: dict[str, Any], param: str, key_words: str
) -> None:
    arguments: dict[str, Any] = {"model": CHAT_MODEL, "prompt": "Hi", **fields}
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(**arguments)
    error = caught.value.body
    assert error["param"] == param and error["code"] == "unsupported_parameter"  # type: ignore[index]
    assert key_words in error["message"] and CHAT_MODEL in error["message"]  # type: ignore[index]
    assert posted(upstream) == []


def test_refusals_speak_german(gateway: RunningApp) -> None:
    response = post(gateway, {"model": CHAT_MODEL, "prompt": "Hi", "suffix": "x"}, **{"Accept-Language": "de"})
    assert response.status_code == 400
    assert "wird über Chat beantwortet" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": CHAT_MODEL}, "prompt"),
        ({"model": CHAT_MODEL, "prompt": 5}, "prompt"),
        ({"model": CHAT_MODEL, "prompt": ["a", 1]}, "prompt"),
        ({"model": CHAT_MODEL, "prompt": []}, "prompt"),
        ({"model": CHAT_MODEL, "prompt": None}, "prompt"),
        ({"model": CHAT_MODEL, "prompt": "Hi", "n": 0}, "n"),
        ({"model": CHAT_MODEL, "prompt": "Hi", "temperature": 3}, "temperature"),
        ({"model": CHAT_MODEL, "prompt": "Hi", "stream": "true"}, "stream"),
        ({"model": CHAT_MODEL, "prompt": "Hi", "stop": [1]}, "stop"),
        ({"model": CHAT_MODEL, "prompt": "Hi", "stream_options": {"include_usage": 1}}, "stream_options.include_usage"),
        ({"prompt": "Hi"}, "model"),
    ],
)
def test_invalid_bodies_are_400s_naming_the_parameter(
    gateway: RunningApp, upstream: FakeOpenAI, body: dict[str, Any], param: str
) -> None:
    response = post(gateway, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert posted(upstream) == []


def test_best_of_equal_to_n_is_dropped_and_said_so(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.chat_responder = chat_echo
    response = post(gateway, {"model": CHAT_MODEL, "prompt": "Hi", "n": 2, "best_of": 2})
    assert response.status_code == 200
    assert "best_of=dropped" in response.headers["x-babelgate-adjusted-params"]
    assert len(response.json()["choices"]) == 2
    assert "best_of" not in chat_requests(upstream)[0]


def test_configured_defaults_reach_both_roads(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway("""
models:
  instruct: {provider: openai, model: gpt-3.5-turbo-instruct, defaults: {max_tokens: 99}}
  chatty: {provider: openai, model: gpt-4o-mini, defaults: {max_tokens: 77}, overrides: {temperature: 0.1}}
""")
    assert post(gateway, {"model": "instruct", "prompt": "Hi"}).status_code == 200
    assert upstream.received[-1].json == {"model": INSTRUCT, "prompt": "Hi", "max_tokens": 99}
    assert post(gateway, {"model": "chatty", "prompt": "Hi", "temperature": 1}).status_code == 200
    sent = chat_requests(upstream)[-1]
    assert (sent["model"], sent["max_tokens"], sent["temperature"]) == (CHAT_MODEL, 77, 0.1)


# -- what decides the road: profiles, presets and options ---------------------------------------

PRESETS_YAML = """
providers:
  groq: {{preset: groq, base_url: "{url}", api_key: "env:TEST_KEY"}}
  local: {{preset: ollama, base_url: "{url}"}}
  deepseek: {{preset: deepseek, base_url: "{url}", api_key: "env:TEST_KEY"}}
  chatonly: {{base_url: "{url}", options: {{completions: false}}}}
  everything: {{base_url: "{url}", profile: openai, options: {{completions: true}}}}
"""


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("groq/llama-3.1-8b-instant", "/v1/chat/completions"),  # Groq has no legacy endpoint
        ("local/qwen2.5-coder:7b", "/v1/completions"),  # Ollama's /v1 has it for every model
        ("deepseek/deepseek-chat", "/beta/completions"),  # DeepSeek's FIM beta
        ("deepseek/deepseek-reasoner", "/v1/chat/completions"),  # FIM is non-thinking mode only
        ("chatonly/some-model", "/v1/chat/completions"),  # options.completions: false
        ("everything/gpt-4o", "/v1/completions"),  # options.completions: true beats the openai profile
    ],
)
def test_the_provider_decides_the_road(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, model: str, path: str
) -> None:
    gateway = make_gateway(PRESETS_YAML.format(url=upstream.base_url), env={"TEST_KEY": "sk-test-preset"})
    response = post(gateway, {"model": model, "prompt": "def f(x):"})
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "text_completion"
    assert posted(upstream) == [path]


def test_bad_completions_option_is_a_config_error(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    with pytest.raises(ValueError, match=r"options\.completions"):
        make_gateway(f'providers:\n  x: {{base_url: "{upstream.base_url}", options: {{completions: 3}}}}\n')


# -- hooks and accounting ------------------------------------------------------------------------


class Recorder(Hook):
    def __init__(self) -> None:
        self.requests: list[RequestContext] = []
        self.transformed: list[str] = []
        self.completions: list[Completion] = []

    async def on_request(self, context: RequestContext) -> None:
        self.requests.append(context)

    async def transform_request(self, context: RequestContext, request: ChatRequest) -> ChatRequest:
        self.transformed.append(str(request.messages[0].content))
        request.temperature = 0.25
        return request

    async def on_complete(self, context: RequestContext, completion: Completion) -> None:
        self.completions.append(completion)


def wait_for(condition: Callable[[], bool]) -> None:
    """`on_complete` runs after the answer went out, so the client may see the answer first."""
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "on_complete never ran"
        time.sleep(0.01)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def hooked(make_gateway: GatewayFactory, recorder: Recorder) -> Iterator[openai.OpenAI]:
    gateway = make_gateway(hooks=(recorder,))
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        yield client


def test_hooks_on_the_translated_road(hooked: openai.OpenAI, recorder: Recorder, upstream: FakeOpenAI) -> None:
    upstream.chat_responder = chat_echo
    hooked.completions.create(model=CHAT_MODEL, prompt=["a", "b"])
    assert len(recorder.requests) == 1 and recorder.requests[0].route == "completions"
    assert sorted(recorder.transformed) == ["a", "b"], "every chat request the road sends is transformed"
    assert all(r["temperature"] == 0.25 for r in chat_requests(upstream))
    wait_for(lambda: bool(recorder.completions))
    [done] = recorder.completions
    assert done.status == 200 and done.usage is not None and done.usage.total_tokens == 24
    assert done.finish_reason == "stop"


def test_hooks_on_the_translated_stream(hooked: openai.OpenAI, recorder: Recorder, upstream: FakeOpenAI) -> None:
    upstream.chat_responder = chat_echo
    list(hooked.completions.create(model=CHAT_MODEL, prompt=["a", "b"], stream=True))
    wait_for(lambda: bool(recorder.completions))
    [done] = recorder.completions
    assert done.usage is not None and done.usage.total_tokens == 24 and done.finish_reason == "stop"


def test_hooks_on_the_native_road(hooked: openai.OpenAI, recorder: Recorder, upstream: FakeOpenAI) -> None:
    hooked.completions.create(model=INSTRUCT, prompt="Hi")
    assert len(recorder.requests) == 1 and recorder.transformed == []
    wait_for(lambda: bool(recorder.completions))
    [done] = recorder.completions
    assert done.usage is not None and done.usage.total_tokens == 7 and done.finish_reason == "stop"


def test_on_request_may_refuse(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    from babelgate.errors import InvalidRequest

    class Refuser(Hook):
        async def on_request(self, context: RequestContext) -> None:
            raise InvalidRequest("invalid_request")

    gateway = make_gateway(hooks=(Refuser(),))
    for model in (INSTRUCT, CHAT_MODEL):
        assert post(gateway, {"model": model, "prompt": "Hi"}).status_code == 400
    assert posted(upstream) == []


# -- the translated road on Anthropic ------------------------------------------------------------


@pytest.fixture
def claude_gateway(make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic) -> RunningApp:
    return make_gateway(env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url})


@pytest.fixture
def claude(claude_gateway: RunningApp) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=claude_gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        yield client


def test_claude_answers_a_prompt(claude_gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic) -> None:
    anthropic_upstream.script(ant.Reply(json=ant.message("Bonjour!", usage=ant.usage(10, 4))))
    response = post(claude_gateway, {"model": CLAUDE, "prompt": "Say hello in French.", "echo": True})
    body = response.json()
    assert_valid_completion(body)
    assert body["choices"] == [
        {"text": "Say hello in French.Bonjour!", "index": 0, "logprobs": None, "finish_reason": "stop"}
    ]
    assert (body["usage"]["prompt_tokens"], body["usage"]["completion_tokens"]) == (10, 4)
    assert anthropic_upstream.received[-1].json == {
        "model": CLAUDE,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello in French."}]}],
    }


def test_claude_list_prompts(claude: openai.OpenAI, anthropic_upstream: ant.FakeAnthropic) -> None:
    anthropic_upstream.script(
        ant.Reply(json=ant.message("Same.", usage=ant.usage(5, 2))),
        ant.Reply(json=ant.message("Same.", usage=ant.usage(6, 2))),
    )
    answer = claude.completions.create(model=CLAUDE, prompt=["one", "two"], max_tokens=50)
    assert [(c.index, c.text) for c in answer.choices] == [(0, "Same."), (1, "Same.")]
    assert answer.usage is not None and answer.usage.prompt_tokens == 11
    sent = [r.json for r in anthropic_upstream.received if r.path == "/v1/messages"]
    assert len(sent) == 2 and all(body["max_tokens"] == 50 for body in sent)


def test_claude_stream(claude_gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic) -> None:
    anthropic_upstream.script(ant.Reply(stream=ant.text_events(["Hel", "lo", "!"])))  # type: ignore[arg-type]
    chunks = raw_stream(
        claude_gateway, {"model": CLAUDE, "prompt": "Hi", "stream": True, "stream_options": {"include_usage": True}}
    )
    for chunk in chunks:
        assert_valid_chunk(chunk)
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == "Hello!"
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] > 0


def test_claude_profile_adjustments_are_reported(
    claude_gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic
) -> None:
    anthropic_upstream.script(ant.Reply(json=ant.message("Hi!")))
    response = post(claude_gateway, {"model": CLAUDE, "prompt": "Hi", "temperature": 0.5, "top_p": 0.9, "best_of": 1})
    assert response.status_code == 200
    assert response.headers["x-babelgate-adjusted-params"] == "best_of=dropped;top_p=dropped"
    assert "top_p" not in anthropic_upstream.received[-1].json


def test_claude_length_finish(claude: openai.OpenAI, anthropic_upstream: ant.FakeAnthropic) -> None:
    anthropic_upstream.script(ant.Reply(json=ant.message("Once upon", stop_reason="max_tokens")))
    answer = claude.completions.create(model=CLAUDE, prompt="Tell a story")
    assert answer.choices[0].finish_reason == "length"


def test_claude_refuses_n_above_one(claude: openai.OpenAI, anthropic_upstream: ant.FakeAnthropic) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        claude.completions.create(model=CLAUDE, prompt="Hi", n=2)
    assert caught.value.body["param"] == "n"  # type: ignore[index]
    assert [r.path for r in anthropic_upstream.received if r.method == "POST"] == []
