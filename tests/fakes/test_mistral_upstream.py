"""Self-test of the Mistral fake: the official `mistralai` SDK must parse everything it answers
(completions with tool calls and thinking chunks, streams, errors, the model list), and its request
validator must accept what the SDK itself sends while refusing what the real API refuses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mistralai.client import Mistral, errors
from mistralai.client.models import (
    BaseModelCard,
    ResponseFormatTypedDict,
    TextChunk,
    ThinkChunk,
    ToolTypedDict,
    UserMessageTypedDict,
)

from tests.fakes.mistral_upstream import (
    COMPLETION_ID,
    MAX_EMBEDDING_INPUTS,
    FakeMistral,
    Reply,
    chunk,
    completion,
    embedding_violations,
    embeddings_response,
    error_422,
    error_body,
    fake_embedding,
    fake_tokens,
    model_card,
    request_violations,
    spec_validator,
    text_stream,
    thinking_content,
    thinking_stream,
    tool_call,
    tool_call_stream,
    unauthorized_body,
    usage,
)
from tests.fakes.servers import LoopThread

MODEL = "mistral-small-latest"
PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WEATHER_TOOL: ToolTypedDict = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
RAW_HEADERS = {"Authorization": "Bearer k", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def _fake(loop_thread: LoopThread) -> Iterator[FakeMistral]:
    fake = FakeMistral()
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


@pytest.fixture
def fake(_fake: FakeMistral) -> FakeMistral:
    _fake.reset()
    return _fake


@pytest.fixture
def sdk(fake: FakeMistral) -> Iterator[Mistral]:
    with Mistral(api_key="k", server_url=fake.base_url, timeout_ms=10_000) as client:
        yield client
    # Everything the official SDK sends must pass the fake's validator.
    assert fake.violations == []


def user(text: str = "Hi") -> UserMessageTypedDict:
    return {"role": "user", "content": text}


def post(fake: FakeMistral, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{fake.base_url}/v1/chat/completions",
        json=body,
        headers=RAW_HEADERS if headers is None else headers,
        timeout=10,
    )


# --- the SDK parses what the fake answers ---------------------------------------------------------


def test_default_completion_parses_and_sdk_request_is_accepted(sdk: Mistral, fake: FakeMistral) -> None:
    reply = sdk.chat.complete(model=MODEL, messages=[user()])
    assert reply.id == COMPLETION_ID and reply.object == "chat.completion" and reply.model == MODEL
    choice = reply.choices[0]
    assert choice.message is not None and choice.message.content == "Hello!" and choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (9, 3, 12)
    sent = fake.received[0]
    assert (sent.method, sent.path, sent.json["model"]) == ("POST", "/v1/chat/completions", MODEL)
    headers = {key.lower(): value for key, value in sent.headers.items()}
    assert headers["authorization"] == "Bearer k"


def test_tool_calls_with_object_and_string_arguments_parse(sdk: Mistral, fake: FakeMistral) -> None:
    calls = [
        tool_call("D681PevKs", "get_weather", {"city": "Paris"}),
        tool_call("a1B2c3D4e", "get_weather", '{"city": "Oslo"}'),
    ]
    fake.script(Reply(json=completion("", tool_calls=calls, usage=usage(20, 30))))
    reply = sdk.chat.complete(model=MODEL, messages=[user()], tools=[WEATHER_TOOL])
    message = reply.choices[0].message
    assert message is not None and message.tool_calls
    first, second = message.tool_calls
    assert (first.id, first.type, first.function.name, first.function.arguments) == (
        "D681PevKs",
        "function",
        "get_weather",
        {"city": "Paris"},
    )
    assert second.function.arguments == '{"city": "Oslo"}'
    assert reply.choices[0].finish_reason == "tool_calls" and reply.usage.total_tokens == 50


def test_thinking_content_parses_into_sdk_chunks(sdk: Mistral, fake: FakeMistral) -> None:
    fake.script(
        Reply(
            json=completion(thinking_content("Let me think.", "42", signature="sig"), model="magistral-medium-latest")
        )
    )
    reply = sdk.chat.complete(model="magistral-medium-latest", messages=[user()])
    message = reply.choices[0].message
    assert message is not None and isinstance(message.content, list)
    think, text = message.content
    assert isinstance(think, ThinkChunk) and isinstance(text, TextChunk)
    assert [part.text for part in think.thinking if isinstance(part, TextChunk)] == ["Let me think."]
    assert think.signature == "sig" and text.text == "42"


def test_default_stream_has_usage_on_the_last_chunk_only(sdk: Mistral) -> None:
    with sdk.chat.stream(model=MODEL, messages=[user()]) as events:
        chunks = [event.data for event in events]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert (
        "".join(c.choices[0].delta.content for c in chunks if isinstance(c.choices[0].delta.content, str)) == "Hello!"
    )
    assert [c.usage is not None for c in chunks] == [False, False, False, True]
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and last.choices[0].delta.content == "!"
    assert last.usage is not None and (last.usage.prompt_tokens, last.usage.completion_tokens) == (9, 3)
    assert {c.object for c in chunks} == {"chat.completion.chunk"}


def test_raw_stream_framing_ends_with_done(fake: FakeMistral) -> None:
    response = post(fake, {"model": MODEL, "stream": True, "messages": [user()]})
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [frame for frame in response.text.split("\n\n") if frame]
    assert all(frame.startswith("data: ") for frame in frames)
    assert frames[-1] == "data: [DONE]" and len(frames) == 5


def test_streamed_tool_calls_arrive_whole_with_index_and_id(sdk: Mistral, fake: FakeMistral) -> None:
    fake.script(
        Reply(
            stream=tool_call_stream(  # type: ignore[arg-type]
                [("D681PevKs", "get_weather", '{"city": "Paris"}'), ("x9Y8z7W6v", "get_time", '{"tz": "UTC"}')],
                leading_text="Checking.",
            )
        )
    )
    with sdk.chat.stream(model=MODEL, messages=[user()], tools=[WEATHER_TOOL]) as events:
        chunks = [event.data for event in events]
    calls = [call for c in chunks for call in (c.choices[0].delta.tool_calls or [])]
    assert [(call.index, call.id, call.function.name, call.function.arguments) for call in calls] == [
        (0, "D681PevKs", "get_weather", '{"city": "Paris"}'),
        (1, "x9Y8z7W6v", "get_time", '{"tz": "UTC"}'),
    ]
    assert chunks[1].choices[0].delta.content == "Checking."
    assert chunks[-1].choices[0].finish_reason == "tool_calls" and chunks[-1].usage is not None
    assert all(c.usage is None for c in chunks[:-1])


def test_streamed_thinking_chunks_parse(sdk: Mistral, fake: FakeMistral) -> None:
    fake.script(Reply(stream=thinking_stream(["Hmm, ", "six times seven."], ["4", "2"])))  # type: ignore[arg-type]
    with sdk.chat.stream(model="magistral-medium-latest", messages=[user()]) as events:
        contents = [event.data.choices[0].delta.content for event in events]
    assert contents[0] == ""
    thinking = [
        part.text
        for item in contents[1:]
        if isinstance(item, list)
        for block in item
        if isinstance(block, ThinkChunk)
        for part in block.thinking
        if isinstance(part, TextChunk)
    ]
    answer = [
        block.text for item in contents[1:] if isinstance(item, list) for block in item if isinstance(block, TextChunk)
    ]
    assert (thinking, answer) == (["Hmm, ", "six times seven."], ["4", "2"])


def test_hand_built_chunks_parse(sdk: Mistral, fake: FakeMistral) -> None:
    fake.script(
        Reply(
            stream=[
                chunk({"role": "assistant", "content": "Hi"}),
                chunk({"content": ""}, finish_reason="length", usage=usage(1, 1)),
            ]
        )
    )
    with sdk.chat.stream(model=MODEL, messages=[user()]) as events:
        chunks = [event.data for event in events]
    assert chunks[-1].choices[0].finish_reason == "length" and chunks[-1].usage is not None


@pytest.mark.parametrize("envelope", [True, False])
def test_422_raises_http_validation_error(sdk: Mistral, fake: FakeMistral, envelope: bool) -> None:
    fake.script(
        Reply(
            status=422,
            json=error_422(
                ["temperature"],
                "Input should be less than or equal to 1.5",
                error_type="less_than_equal",
                input=2,
                envelope=envelope,
            ),
        )
    )
    with pytest.raises(errors.HTTPValidationError) as caught:
        sdk.chat.complete(model=MODEL, messages=[user()])
    assert caught.value.status_code == 422
    if envelope:
        # The SDK's `HTTPValidationErrorData` only reads a top-level `detail`: the API's envelope parses
        # with `detail=None`, the error items are in `body` only.
        assert caught.value.data.detail is None and '"loc":["body","temperature"]' in caught.value.body
    else:
        assert caught.value.data.detail is not None
        assert caught.value.data.detail[0].loc == ["body", "temperature"]


def test_fake_refusal_raises_http_validation_error(sdk: Mistral, fake: FakeMistral) -> None:
    with pytest.raises(errors.HTTPValidationError) as caught:
        sdk.chat.complete(model=MODEL, messages=[user()], temperature=2)
    assert "less_than_equal" in caught.value.body
    assert fake.violations == ["temperature: Input should be less than or equal to 1.5"]
    fake.violations.clear()  # the `sdk` fixture checks that nothing else was refused


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            400,
            error_body("Unexpected role 'user' after role 'tool'", type="invalid_request_message_order", code="3230"),
        ),
        (401, unauthorized_body("req-1")),
        (403, error_body("Tier not allowed", type="tier_not_allowed", code="1002", raw_status_code=403)),
        (429, error_body("Requests rate limit exceeded", type="rate_limited", code="1300")),
        (500, error_body("Internal server error", type="internal_server_error", code="1000")),
    ],
)
def test_error_status_raises_sdk_error(sdk: Mistral, fake: FakeMistral, status: int, body: dict[str, Any]) -> None:
    fake.script(Reply(status=status, json=body, headers={"retry-after": "1"}))
    with pytest.raises(errors.SDKError) as caught:
        sdk.chat.complete(model=MODEL, messages=[user()])
    assert caught.value.status_code == status
    assert str(body["message"]) in caught.value.body
    assert caught.value.headers["retry-after"] == "1"


def test_stream_error_status_raises_sdk_error(sdk: Mistral, fake: FakeMistral) -> None:
    fake.script(Reply(status=503, json=error_body("Service unavailable.", type="service_unavailable")))
    with pytest.raises(errors.SDKError) as caught:
        sdk.chat.stream(model=MODEL, messages=[user()])
    assert caught.value.status_code == 503


def test_models_list(sdk: Mistral, fake: FakeMistral) -> None:
    listed = sdk.models.list()
    assert listed.object == "list" and listed.data is not None
    cards = [card for card in listed.data if isinstance(card, BaseModelCard)]
    assert [card.id for card in cards] == [item["id"] for item in fake.models]
    assert cards[0].capabilities.completion_chat and cards[0].capabilities.vision and cards[0].owned_by == "mistralai"
    assert cards[2].capabilities.reasoning and cards[0].aliases == ["mistral-small-2506"]
    fake.models_status = 500
    with pytest.raises(errors.SDKError):
        sdk.models.list()


def test_models_list_requires_auth(fake: FakeMistral) -> None:
    response = httpx.get(f"{fake.base_url}/v1/models", timeout=10)
    assert response.status_code == 401 and response.json()["message"] == "Unauthorized"
    assert fake.violations == ["headers: Authorization: Bearer <key> is required"]


def test_client_hanging_up_on_a_stalled_stream_is_recorded(fake: FakeMistral) -> None:
    fake.script(Reply(stream=text_stream(["a", "b"]), stall_after=2))  # type: ignore[arg-type]
    body = {"model": MODEL, "stream": True, "messages": [user()]}
    with httpx.stream(
        "POST", f"{fake.base_url}/v1/chat/completions", json=body, headers=RAW_HEADERS, timeout=10
    ) as response:
        next(response.iter_bytes())
    deadline = time.monotonic() + 5
    while fake.stream_closed_at is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.stream_closed_at is not None


# --- the validator accepts what the SDK sends ---------------------------------------------------------


def test_sdk_tool_round_trip_with_everything_is_accepted(sdk: Mistral, fake: FakeMistral) -> None:
    messages: list[Any] = [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather here?"},
                {"type": "image_url", "image_url": f"data:image/png;base64,{PNG_1PX}"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
                {"type": "document_url", "document_url": "https://example.com/a.pdf"},
            ],
        },
        {
            "role": "assistant",
            "content": thinking_content("Two cities.", ""),
            "tool_calls": [
                {
                    "id": "D681PevKs",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
                },
                {
                    "id": "a1B2c3D4e",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "D681PevKs", "name": "get_weather", "content": "Sunny"},
        {
            "role": "tool",
            "tool_call_id": "a1B2c3D4e",
            "name": "get_weather",
            "content": [{"type": "text", "text": "Rain"}],
        },
        {"role": "assistant", "content": "Paris sunny, Oslo rainy."},
        {"role": "user", "content": "Thanks. JSON please."},
        {"role": "assistant", "content": "{", "prefix": True},
    ]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    # The SDK's TypedDict names the schema `schema_definition`; on the wire it is `schema`.
    response_format: ResponseFormatTypedDict = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema_definition": schema, "strict": True},
    }
    sdk.chat.complete(
        model=MODEL,
        messages=messages,
        tools=[WEATHER_TOOL],
        tool_choice="any",
        parallel_tool_calls=True,
        response_format=response_format,
        random_seed=7,
        temperature=0.3,
        top_p=0.9,
        max_tokens=100,
        stop=["\n\n"],
        presence_penalty=0.1,
        frequency_penalty=0.2,
        n=1,
        safe_prompt=False,
        reasoning_effort="high",
        metadata={"trace": "x"},
    )
    with sdk.chat.stream(
        model=MODEL,
        messages=messages[:5],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        response_format={"type": "json_object"},
    ) as events:
        assert len(list(events)) == 4
    sent = fake.received[0].json
    assert sent["random_seed"] == 7 and sent["messages"][2]["tool_calls"][0]["id"] == "D681PevKs"
    assert sent["response_format"]["json_schema"]["schema"] == schema
    assert fake.received[1].json["stream"] is True


def test_request_violations_of_a_good_body_is_empty() -> None:
    assert request_violations({"model": MODEL, "messages": [user()], "logprobs": True, "top_logprobs": 2}) == []


# --- the validator refuses what the real API refuses ----------------------------------------------------


def good_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [
            user("Weather?"),
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": "D681PevKs", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "D681PevKs", "content": "Sunny"},
        ],
        "tools": [WEATHER_TOOL],
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stream_options", {"include_usage": True}),
        ("user", "u-1"),
        ("seed", 1),
        ("max_completion_tokens", 10),
        ("logit_bias", {"1": 1}),
        ("store", False),
        ("modalities", ["text"]),
        ("reasoning", {"effort": "low"}),
    ],
)
def test_openai_only_fields_get_422_extra_forbidden(fake: FakeMistral, field: str, value: Any) -> None:
    response = post(fake, good_body(**{field: value}))
    assert response.status_code == 422
    payload = response.json()
    assert (payload["object"], payload["type"]) == ("error", "invalid_request_error")
    assert payload["message"]["detail"] == [
        {"type": "extra_forbidden", "loc": ["body", field], "msg": "Extra inputs are not permitted", "input": value}
    ]
    assert fake.violations == [f"{field}: Extra inputs are not permitted"]


@pytest.mark.parametrize(
    ("changes", "error_type", "violation"),
    [
        ({"temperature": 2}, "less_than_equal", "temperature: Input should be less than or equal to 1.5"),
        ({"top_p": 0}, "greater_than", "top_p: Input should be greater than 0"),
        ({"n": 0}, "greater_than_equal", "n: Input should be greater than or equal to 1"),
        ({"max_tokens": "5"}, "int_type", "max_tokens: Input should be a valid integer"),
        ({"tool_choice": "required_please"}, "literal_error", None),
        ({"messages": [{"role": "developer", "content": "x"}]}, "union_tag_invalid", None),
        (
            {"messages": [{"role": "user", "name": "bob", "content": "x"}]},
            "extra_forbidden",
            "messages.0.name: Extra inputs are not permitted",
        ),
        (
            {"messages": [user(), {"role": "assistant", "content": "a", "reasoning_content": "r"}, user()]},
            "extra_forbidden",
            "messages.1.reasoning_content: Extra inputs are not permitted",
        ),
        ({"messages": [{"role": "user", "content": [{"type": "input_text", "text": "x"}]}]}, "union_tag_invalid", None),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"uri": "x"}}]}]},
            "missing",
            None,
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema_definition": {}}}},
            "missing",
            None,
        ),
    ],
)
def test_schema_problems_get_422(
    fake: FakeMistral, changes: dict[str, Any], error_type: str, violation: str | None
) -> None:
    response = post(fake, good_body(**changes))
    assert response.status_code == 422
    details = response.json()["message"]["detail"]
    assert error_type in [item["type"] for item in details]
    assert all(item["loc"][0] == "body" for item in details)
    assert fake.violations and (violation is None or fake.violations == [violation])


@pytest.mark.parametrize(
    ("messages", "message", "error_type", "code"),
    [
        (
            [
                user(),
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "call_abc123", "function": {"name": "f", "arguments": "{}"}}],
                },
                {"role": "tool", "tool_call_id": "call_abc123", "content": "x"},
            ],
            "Tool call id was call_abc123 but must be a-z, A-Z, 0-9, with a length of 9.",
            "invalid_function_call",
            "3280",
        ),
        (
            [
                user(),
                {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "D681PevKs", "content": "x"},
            ],
            "Tool call id was null but must be a-z, A-Z, 0-9, with a length of 9.",
            "invalid_function_call",
            "3280",
        ),
        (
            [*good_body()["messages"], user("More?")],
            "Unexpected role 'user' after role 'tool'",
            "invalid_request_message_order",
            "3230",
        ),
        (
            [user(), {"role": "tool", "tool_call_id": "D681PevKs", "content": "x"}],
            "Unexpected role 'tool' after role 'user'",
            "invalid_request_message_order",
            "3230",
        ),
        (
            [user(), {"role": "assistant", "content": "Hello"}],
            "Expected last role User or Tool (or Assistant with prefix True) for serving but got assistant",
            "invalid_request_message_order",
            "3230",
        ),
        (
            [
                user(),
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "D681PevKs", "function": {"name": "f", "arguments": "{}"}},
                        {"id": "a1B2c3D4e", "function": {"name": "f", "arguments": "{}"}},
                    ],
                },
                {"role": "tool", "tool_call_id": "D681PevKs", "content": "x"},
            ],
            "Not the same number of function calls and responses",
            "invalid_request_message_order",
            "3230",
        ),
        (
            [
                user(),
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "D681PevKs", "function": {"name": "f", "arguments": "{}"}}],
                },
                {"role": "tool", "tool_call_id": "zzzzzzzzz", "content": "x"},
            ],
            "Tool call id zzzzzzzzz answers no tool call of the assistant message before it (or answers one twice)",
            "invalid_request_message_order",
            "3230",
        ),
        (
            [user(), {"role": "assistant"}, user()],
            "Assistant message must have either content or tool_calls",
            "invalid_request_message_order",
            "3230",
        ),
    ],
)
def test_conversation_rules_get_400(
    fake: FakeMistral, messages: list[dict[str, Any]], message: str, error_type: str, code: str
) -> None:
    fake.script(Reply(json=completion("unused")))
    response = post(fake, good_body(messages=messages))
    assert response.status_code == 400
    assert response.json() == {"object": "error", "message": message, "type": error_type, "param": None, "code": code}
    assert any(line.endswith(message) for line in fake.violations)
    assert len(fake.replies) == 1  # a refused request does not use up the scripted reply


def test_bad_function_name_in_tools_gets_400(fake: FakeMistral) -> None:
    response = post(
        fake, good_body(tools=[{"type": "function", "function": {"name": "get weather", "parameters": {}}}])
    )
    assert response.status_code == 400 and response.json()["code"] == "3280"
    assert fake.violations[0].startswith("tools.0.function.name: Function name was get weather")


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        {"Authorization": "Bearer", "Content-Type": "application/json"},
        {"Authorization": "Basic k", "Content-Type": "application/json"},
    ],
)
def test_missing_auth_gets_401(fake: FakeMistral, headers: dict[str, str]) -> None:
    response = post(fake, good_body(), headers=headers)
    assert response.status_code == 401 and response.json()["message"] == "Unauthorized"
    assert fake.violations == ["headers: Authorization: Bearer <key> is required"]


def test_unknown_key_gets_401_when_keys_are_set(fake: FakeMistral) -> None:
    fake.api_keys = frozenset({"right"})
    assert post(fake, good_body()).status_code == 401
    assert post(fake, good_body(), headers={"Authorization": "Bearer right"}).status_code == 200
    assert fake.violations == ["headers: Authorization: unknown API key"]


def test_invalid_json_gets_422(fake: FakeMistral) -> None:
    response = httpx.post(f"{fake.base_url}/v1/chat/completions", content=b"{nope", headers=RAW_HEADERS, timeout=10)
    assert response.status_code == 422 and response.json()["message"]["detail"][0]["type"] == "json_invalid"
    assert fake.violations == ["0: JSON decode error"]


def test_request_violations_reports_schema_problems_alone() -> None:
    # A broken schema hides the conversation rules, as FastAPI answers before the endpoint runs.
    body = good_body(user="u", messages=[user(), user(), {"role": "tool", "tool_call_id": "bad", "content": "x"}])
    assert request_violations(body) == ["user: Extra inputs are not permitted"]
    assert request_violations([1]) == ["<body>: Input should be a valid dictionary or object to extract fields from"]


def test_public_spec_refuses_what_only_it_knows() -> None:
    # The SDK's open enum accepts `max`; the public spec's ReasoningEffort does not list it.
    assert request_violations(good_body(reasoning_effort="max")) == [
        "reasoning_effort: 'max' is not one of ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] (public spec)"
    ]


def test_builders_match_the_public_spec() -> None:
    chunk_schema = spec_validator("CompletionChunk")
    choice_schema = spec_validator("ChatCompletionChoice")
    usage_schema = spec_validator("UsageInfo")
    card_schema = spec_validator("BaseModelCard")
    events = [*text_stream(["a", "b"]), *tool_call_stream([("D681PevKs", "f", "{}")]), *thinking_stream(["t"], ["a"])]
    for event in events:
        chunk_schema.validate(event)
    for reply in (
        completion(),
        completion("", tool_calls=[tool_call("D681PevKs", "f", {"a": 1}, index=0)]),
        completion(thinking_content("t", "a")),
    ):
        choice_schema.validate(reply["choices"][0])
        usage_schema.validate(reply["usage"])
    card_schema.validate(model_card("mistral-small-latest", vision=True))


# --- embeddings: POST /v1/embeddings ---------------------------------------------------------------


def embed(fake: FakeMistral, body: Any) -> httpx.Response:
    return httpx.post(f"{fake.base_url}/v1/embeddings", json=body, headers=RAW_HEADERS, timeout=10)


def test_sdk_embeddings_parse_with_deterministic_vectors(sdk: Mistral, fake: FakeMistral) -> None:
    answer = sdk.embeddings.create(model="mistral-embed", inputs=["Embed this sentence.", "As well as this one."])
    assert [item.embedding for item in answer.data] == [
        fake_embedding("mistral-embed", "Embed this sentence.", 1024),
        fake_embedding("mistral-embed", "As well as this one.", 1024),
    ]
    assert [item.index for item in answer.data] == [0, 1]
    assert (answer.object, answer.model) == ("list", "mistral-embed")
    tokens = fake_tokens("Embed this sentence.") + fake_tokens("As well as this one.")
    usage_counts = (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.total_tokens)
    assert usage_counts == (tokens, 0, tokens)
    sent = fake.received[0].json
    assert sent == {"model": "mistral-embed", "input": ["Embed this sentence.", "As well as this one."]}


def test_sdk_codestral_embed_output_dimension_and_dtype(sdk: Mistral, fake: FakeMistral) -> None:
    answer = sdk.embeddings.create(model="codestral-embed", inputs="def f(): pass", output_dimension=16)
    assert answer.data[0].embedding == fake_embedding("codestral-embed", "def f(): pass", 16)
    assert fake_embedding("codestral-embed", "def f(): pass", 1536)[:16] == answer.data[0].embedding
    quantised = sdk.embeddings.create(model="codestral-embed", inputs="x", output_dimension=16, output_dtype="uint8")
    assert quantised.data[0].embedding is not None and all(0 <= v <= 255 for v in quantised.data[0].embedding)
    packed = sdk.embeddings.create(model="codestral-embed", inputs="x", output_dimension=16, output_dtype="binary")
    assert packed.data[0].embedding is not None and len(packed.data[0].embedding) == 2


def test_sdk_raises_on_a_scripted_embedding_error(sdk: Mistral, fake: FakeMistral) -> None:
    fake.script(Reply(status=429, json=error_body("Requests rate limit exceeded", type="rate_limited", code="1300")))
    with pytest.raises(errors.SDKError) as caught:
        sdk.embeddings.create(model="mistral-embed", inputs="x")
    assert caught.value.status_code == 429
    fake.script(Reply(json=embeddings_response([[0.5], [0.25]], prompt_tokens=4)))
    answer = sdk.embeddings.create(model="mistral-embed", inputs=["a", "b"])
    assert [item.embedding for item in answer.data] == [[0.5], [0.25]] and answer.usage.prompt_tokens == 4


def test_sdk_refused_output_dimension_on_mistral_embed(sdk: Mistral, fake: FakeMistral) -> None:
    with pytest.raises(errors.SDKError) as caught:
        sdk.embeddings.create(model="mistral-embed", inputs="x", output_dimension=256)
    assert caught.value.status_code == 400
    assert fake.violations == ["output_dimension: output_dimension is not supported for model mistral-embed"]
    fake.violations.clear()  # the `sdk` fixture checks that nothing else was refused


@pytest.mark.parametrize(
    ("body", "error_type", "violation"),
    [
        (
            {"model": "mistral-embed", "input": ["x"], "user": "u-1"},
            "extra_forbidden",
            "user: Extra inputs are not permitted",
        ),
        (
            {"model": "mistral-embed", "input": ["x"], "dimensions": 3},
            "extra_forbidden",
            "dimensions: Extra inputs are not permitted",
        ),
        ({"model": "mistral-embed", "input": [[1, 2, 3]]}, "string_type", None),
        ({"model": "mistral-embed"}, "missing", "input: Field required"),
        ({"model": "codestral-embed", "input": "x", "output_dimension": 0}, "spec_exclusiveMinimum", None),
        ({"model": "codestral-embed", "input": "x", "output_dtype": "float16"}, "literal_error", None),
    ],
)
def test_embedding_schema_problems_get_422(
    fake: FakeMistral, body: dict[str, Any], error_type: str, violation: str | None
) -> None:
    response = embed(fake, body)
    assert response.status_code == 422
    assert error_type in [item["type"] for item in response.json()["message"]["detail"]]
    assert fake.violations and (violation is None or fake.violations == [violation])
    assert embedding_violations(body) == fake.violations


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        (
            {"model": "mistral-embed", "input": [str(i) for i in range(MAX_EMBEDDING_INPUTS + 1)]},
            "Too many inputs in request, split into more batches.",
            "3210",
        ),
        (
            {"model": "mistral-embed", "input": ["word " * 4000] * 4},
            "Too many tokens overall, split into more batches.",
            "3210",
        ),
        ({"model": "mistral-small-latest", "input": ["x"]}, "Invalid model: mistral-small-latest", "1500"),
        (
            {"model": "mistral-embed", "input": ["x"], "output_dimension": 1024},
            "output_dimension is not supported for model mistral-embed",
            None,
        ),
        (
            {"model": "codestral-embed", "input": ["x"], "output_dimension": 4096},
            "output_dimension must be at most 3072",
            None,
        ),
    ],
)
def test_embedding_requests_the_api_refuses_get_400(
    fake: FakeMistral, body: dict[str, Any], message: str, code: str | None
) -> None:
    response = embed(fake, body)
    assert response.status_code == 400
    payload = response.json()
    assert (payload["object"], payload["message"], payload["code"]) == ("error", message, code)
    assert len(fake.violations) == 1 and message in fake.violations[0]


def test_embedding_requests_the_api_accepts(fake: FakeMistral) -> None:
    body = {
        "model": "codestral-embed-2505",
        "metadata": {"team": "a"},
        "input": ["x", "y"],
        "output_dimension": 8,
        "output_dtype": "int8",
        "encoding_format": "float",
    }
    assert embedding_violations(body) == []
    response = embed(fake, body)
    assert response.status_code == 200 and fake.violations == []
    assert [item["embedding"] for item in response.json()["data"]] == [
        fake_embedding("codestral-embed-2505", "x", 8, "int8"),
        fake_embedding("codestral-embed-2505", "y", 8, "int8"),
    ]


def test_embeddings_require_auth(fake: FakeMistral) -> None:
    response = httpx.post(f"{fake.base_url}/v1/embeddings", json={"model": "mistral-embed", "input": "x"}, timeout=10)
    assert response.status_code == 401 and response.json()["message"] == "Unauthorized"
    fake.violations.clear()


def test_embedding_answers_match_the_public_spec(fake: FakeMistral) -> None:
    validator = spec_validator("EmbeddingResponse")
    answer = embed(fake, {"model": "mistral-embed", "input": ["a", "b"]}).json()
    assert list(validator.iter_errors(answer)) == []
