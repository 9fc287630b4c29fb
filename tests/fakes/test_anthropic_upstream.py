"""Self-test of the Anthropic fake: the official `anthropic` SDK must parse everything it answers
(messages, event streams, errors, model pages), and its request validator must refuse what the real
API refuses while accepting a realistic request that uses every block type the gateway produces."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import MessageParam, RedactedThinkingBlock, TextBlock, ThinkingBlock, ToolParam, ToolUseBlock

from tests.fakes.anthropic_upstream import (
    FakeAnthropic,
    Reply,
    error_body,
    error_event,
    message,
    redacted_thinking_block,
    request_violations,
    text_block,
    text_events,
    thinking_block,
    tool_events,
    tool_use_block,
    usage,
)
from tests.fakes.servers import LoopThread

MODEL = "claude-sonnet-4-6"  # SDK 2.12 warns (an error here) on requests naming claude-sonnet-4-5
OLDER_MODEL = "claude-3-7-sonnet-latest"  # takes temperature and top_p together
PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n").decode()
WEATHER_TOOL: ToolParam = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
RAW_HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01", "content-type": "application/json"}


@pytest.fixture(scope="module")
def _fake(loop_thread: LoopThread) -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic()
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


@pytest.fixture
def fake(_fake: FakeAnthropic) -> FakeAnthropic:
    _fake.reset()
    return _fake


@pytest.fixture
def sdk(fake: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=fake.base_url, api_key="k", max_retries=0, timeout=10) as client:
        yield client
    # Everything the official SDK sends must pass the fake's validator.
    assert fake.violations == []


def user(text: str = "Hi") -> MessageParam:
    return {"role": "user", "content": text}


def post(fake: FakeAnthropic, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{fake.base_url}/v1/messages", json=body, headers=RAW_HEADERS if headers is None else headers, timeout=10
    )


# --- the SDK parses what the fake answers ---------------------------------------------------------


def test_default_message_parses_and_sdk_headers_are_accepted(sdk: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    raw = sdk.messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=[user()])
    reply = raw.parse()
    assert [block.type for block in reply.content] == ["text"]
    assert isinstance(reply.content[0], TextBlock) and reply.content[0].text == "Hello!"
    assert (reply.model, reply.stop_reason, reply.usage.input_tokens, reply.usage.output_tokens) == (
        MODEL,
        "end_turn",
        9,
        3,
    )
    assert raw.headers["request-id"].startswith("req_")
    sent = fake.received[0]
    assert (sent.method, sent.path, sent.json["max_tokens"]) == ("POST", "/v1/messages", 64)
    headers = {key.lower(): value for key, value in sent.headers.items()}
    assert headers["anthropic-version"] and headers["authorization"] == "Bearer k"


def test_tool_use_and_thinking_messages_parse(sdk: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    blocks = [
        thinking_block("Let me think.", "sig1"),
        redacted_thinking_block("opaque"),
        text_block("Checking."),
        tool_use_block("toolu_01", "get_weather", {"city": "Oslo"}),
    ]
    fake.script(
        Reply(json=message(blocks, usage=usage(5, 7, cache_read_input_tokens=100, cache_creation_input_tokens=20)))
    )
    reply = sdk.messages.create(model=MODEL, max_tokens=64, messages=[user()], tools=[WEATHER_TOOL])
    thinking, redacted, text, tool = reply.content
    assert isinstance(thinking, ThinkingBlock) and (thinking.thinking, thinking.signature) == ("Let me think.", "sig1")
    assert isinstance(redacted, RedactedThinkingBlock) and redacted.data == "opaque"
    assert isinstance(text, TextBlock) and text.text == "Checking."
    assert isinstance(tool, ToolUseBlock) and (tool.id, tool.name, tool.input) == (
        "toolu_01",
        "get_weather",
        {"city": "Oslo"},
    )
    assert reply.stop_reason == "tool_use"
    assert (reply.usage.cache_read_input_tokens, reply.usage.cache_creation_input_tokens) == (100, 20)


def test_default_stream_assembles_with_message_stream(sdk: anthropic.Anthropic) -> None:
    with sdk.messages.stream(model=MODEL, max_tokens=64, messages=[user()]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello!"
    assert final.content[0].type == "text" and final.content[0].text == "Hello!"
    assert (final.stop_reason, final.usage.input_tokens, final.usage.output_tokens) == ("end_turn", 9, 3)


def test_raw_stream_event_sequence_and_ping(sdk: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    raw = httpx.post(
        f"{fake.base_url}/v1/messages",
        headers=RAW_HEADERS,
        timeout=10,
        json={"model": MODEL, "max_tokens": 64, "stream": True, "messages": [user()]},
    )
    assert raw.headers["content-type"].startswith("text/event-stream") and raw.headers["request-id"]
    frames = [frame for frame in raw.text.split("\n\n") if frame]
    names = [frame.split("\n")[0].removeprefix("event: ") for frame in frames]
    assert "ping" in names
    # The SDK skips pings and yields the typed events in wire order.
    events = list(sdk.messages.create(model=MODEL, max_tokens=64, messages=[user()], stream=True))
    assert [event.type for event in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert names == [events[0].type, events[1].type, "ping", *[event.type for event in events[2:]]]


def test_streamed_parallel_tool_calls_assemble(sdk: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    fake.script(
        Reply(
            stream=tool_events(  # type: ignore[arg-type]
                [
                    ("toolu_a", "get_weather", ["", '{"city": ', '"Paris"}']),
                    ("toolu_b", "get_time", ['{"tz":', ' "UTC"}']),
                ],
                leading_text="Let me check.",
                thinking="Two tools.",
                signature="sig-xyz",
            )
        )
    )
    with sdk.messages.stream(model=MODEL, max_tokens=2048, messages=[user()], tools=[WEATHER_TOOL]) as stream:
        final = stream.get_final_message()
    assert [block.type for block in final.content] == ["thinking", "text", "tool_use", "tool_use"]
    thinking, text, first, second = final.content
    assert isinstance(thinking, ThinkingBlock) and (thinking.thinking, thinking.signature) == ("Two tools.", "sig-xyz")
    assert isinstance(text, TextBlock) and text.text == "Let me check."
    assert isinstance(first, ToolUseBlock) and (first.id, first.name, first.input) == (
        "toolu_a",
        "get_weather",
        {"city": "Paris"},
    )
    assert isinstance(second, ToolUseBlock) and second.input == {"tz": "UTC"}
    assert final.stop_reason == "tool_use"


def test_error_event_mid_stream_raises(sdk: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    fake.script(Reply(stream=[*text_events(["Hel", "lo"])[:3], error_event("overloaded_error", "Overloaded")]))
    seen: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:  # the error arrives while iterating
        for event in sdk.messages.create(model=MODEL, max_tokens=64, messages=[user()], stream=True):
            seen.append(event.type)
    assert seen == ["message_start", "content_block_start", "content_block_delta"]
    assert caught.value.type == "overloaded_error" and caught.value.api_message == "Overloaded"


@pytest.mark.parametrize(
    ("status", "error_type", "exception"),
    [
        (400, "invalid_request_error", anthropic.BadRequestError),
        (401, "authentication_error", anthropic.AuthenticationError),
        (429, "rate_limit_error", anthropic.RateLimitError),
        (500, "api_error", anthropic.InternalServerError),
        (529, "overloaded_error", anthropic.OverloadedError),
    ],
)
def test_error_status_maps_to_sdk_exception(
    sdk: anthropic.Anthropic,
    fake: FakeAnthropic,
    status: int,
    error_type: str,
    exception: type[anthropic.APIStatusError],
) -> None:
    fake.script(Reply(status=status, json=error_body(error_type, "nope"), headers={"retry-after": "1"}))
    with pytest.raises(exception) as caught:
        sdk.messages.create(model=MODEL, max_tokens=64, messages=[user()])
    assert caught.value.status_code == status
    assert (caught.value.type, caught.value.api_message) == (error_type, "nope")
    assert caught.value.request_id and caught.value.request_id.startswith("req_")


def test_models_list_and_retrieve(sdk: anthropic.Anthropic) -> None:
    page = sdk.models.list()
    assert [model.id for model in page.data] == ["claude-sonnet-4-5", "claude-haiku-4-5"]
    assert page.data[0].display_name == "Claude Sonnet 4.5" and page.data[0].created_at.year == 2025
    assert page.data[0].type == "model" and page.data[0].lifecycle == "active"
    assert (page.has_more, page.first_id, page.last_id) == (False, "claude-sonnet-4-5", "claude-haiku-4-5")
    assert sdk.models.retrieve("claude-haiku-4-5").display_name == "Claude Haiku 4.5"
    with pytest.raises(anthropic.NotFoundError):
        sdk.models.retrieve("claude-nope")


def test_client_hanging_up_on_a_stalled_stream_is_recorded(fake: FakeAnthropic) -> None:
    fake.script(Reply(stream=text_events(["a", "b"]), stall_after=2))  # type: ignore[arg-type]
    body = {"model": MODEL, "max_tokens": 64, "stream": True, "messages": [user()]}
    with httpx.stream("POST", f"{fake.base_url}/v1/messages", json=body, headers=RAW_HEADERS, timeout=10) as response:
        next(response.iter_bytes())
    deadline = time.monotonic() + 5
    while fake.stream_closed_at is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.stream_closed_at is not None


# --- the validator ------------------------------------------------------------------------------


def good_request() -> dict[str, Any]:
    """Everything the gateway emits at once: system blocks, tools, a tool round trip, images, a PDF."""
    return {
        "model": MODEL,
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use tools."}],
        "tools": [WEATHER_TOOL, {"name": "get-time_2", "input_schema": {"type": "object", "properties": {}}}],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": False},
        "metadata": {"user_id": "user-123"},
        "stop_sequences": ["END"],
        "temperature": 0.5,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these, and the weather in Oslo?"},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_1PX}},
                    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Oslo"}},
                    {"type": "tool_use", "id": "call_abc", "name": "get-time_2", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01", "content": "4°C"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_abc",
                        "content": [{"type": "text", "text": "12:00"}],
                        "is_error": False,
                    },
                    {"type": "text", "text": "Thanks, summarise please."},
                ],
            },
        ],
    }


def test_good_request_passes(fake: FakeAnthropic) -> None:
    response = post(fake, good_request())
    assert response.status_code == 200, response.text
    assert response.json()["content"][0]["text"] == "Hello!"
    assert fake.violations == []


def test_good_request_passes_through_the_sdk(sdk: anthropic.Anthropic) -> None:
    body = good_request()
    del body["temperature"]  # SDK 2.x no longer has the kwarg
    reply = sdk.messages.create(**body)
    assert reply.content[0].type == "text"


def _without(key: str) -> dict[str, Any]:
    body = good_request()
    del body[key]
    return body


def _with(**changes: Any) -> dict[str, Any]:
    return {**good_request(), **changes}


def _messages(*messages: Any, **changes: Any) -> dict[str, Any]:
    return _with(messages=list(messages), **changes)


TOOL_TURN = {"role": "assistant", "content": [tool_use_block("toolu_9", "get_weather", {"city": "Rome"})]}

REFUSED_OVER_HTTP = [
    pytest.param(_without("max_tokens"), "max_tokens: Field required", id="missing-max-tokens"),
    pytest.param(
        _messages({"role": "user", "content": [{"type": "text", "text": ""}]}),
        "text content blocks must be non-empty",
        id="empty-text-block",
    ),
    pytest.param(
        _messages(
            user("x"),
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "1"}]},
        ),
        "unexpected `tool_use_id`",
        id="orphan-tool-result",
    ),
    pytest.param(
        _messages(
            user("x"),
            TOOL_TURN,
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "first"},
                    {"type": "tool_result", "tool_use_id": "toolu_9", "content": "1"},
                ],
            },
        ),
        "tool_result` block(s) at the beginning",
        id="tool-result-not-first",
    ),
    pytest.param(
        _with(temperature=0.5, top_p=0.9), "temperature and top_p cannot both be specified", id="temperature-and-top-p"
    ),
    pytest.param(_with(frequency_penalty=0.5), "frequency_penalty: Extra inputs are not permitted", id="unknown-key"),
]


@pytest.mark.parametrize(("body", "expected"), REFUSED_OVER_HTTP)
def test_bad_request_is_refused_with_anthropic_error(fake: FakeAnthropic, body: dict[str, Any], expected: str) -> None:
    response = post(fake, body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["type"] == "error" and payload["error"]["type"] == "invalid_request_error"
    assert payload["request_id"] == response.headers["request-id"]
    assert expected in payload["error"]["message"]
    assert any(expected in violation for violation in fake.violations), fake.violations
    assert len(fake.received) == 1  # recorded even though refused


def test_scripted_reply_is_kept_for_the_next_good_request(fake: FakeAnthropic) -> None:
    fake.script(Reply(json=message("scripted")))
    assert post(fake, _without("max_tokens")).status_code == 400
    assert post(fake, good_request()).json()["content"][0]["text"] == "scripted"


@pytest.mark.parametrize(
    ("headers", "status", "expected"),
    [
        ({"anthropic-version": "2023-06-01", "content-type": "application/json"}, 401, "x-api-key header is required"),
        ({"x-api-key": "k", "content-type": "application/json"}, 400, "anthropic-version: header is required"),
        (
            {"authorization": "Bearer k", "anthropic-version": "2023-06-01", "content-type": "text/plain"},
            400,
            "content-type must be application/json",
        ),
    ],
)
def test_bad_headers_are_refused(fake: FakeAnthropic, headers: dict[str, str], status: int, expected: str) -> None:
    response = httpx.post(
        f"{fake.base_url}/v1/messages",
        content=b'{"model":"m","max_tokens":1,"messages":[]}',
        headers=headers,
        timeout=10,
    )
    assert response.status_code == status
    assert any(expected in violation for violation in fake.violations), fake.violations


def _thinking(**changes: Any) -> dict[str, Any]:
    defaults = {"thinking": {"type": "enabled", "budget_tokens": 2048}, "max_tokens": 4096, "temperature": 1}
    return _messages(user("x"), **{**defaults, **changes})


REFUSED = [
    pytest.param(_with(max_tokens="100"), "max_tokens: Input should be a valid integer", id="max-tokens-string"),
    pytest.param(_with(max_tokens=-1), "greater than or equal to 0", id="max-tokens-negative"),
    pytest.param(_messages(), "at least one message", id="no-messages"),
    pytest.param(
        _messages({"role": "system", "content": "x"}, user()), "must be 'user' or 'assistant'", id="system-role"
    ),
    pytest.param(_messages(user(" \n")), "non-whitespace", id="whitespace-text"),
    pytest.param(_messages(user(""), user("x")), "non-empty content", id="empty-string-content"),
    pytest.param(_with(system=[{"type": "text", "text": ""}]), "system.0: text content blocks", id="empty-system"),
    pytest.param(
        _messages({"role": "user", "content": [{"type": "text", "text": "x", "cache": True}]}),
        "unknown keys ['cache']",
        id="unknown-block-key",
    ),
    pytest.param(
        _messages(
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": PNG_1PX}}
                ],
            }
        ),
        "image/jpeg",
        id="image-media-type",
    ),
    pytest.param(
        _messages(
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": f"data:image/png;base64,{PNG_1PX}",
                        },
                    }
                ],
            }
        ),
        "invalid base64",
        id="image-data-uri",
    ),
    pytest.param(_messages(user("x"), TOOL_TURN), "without `tool_result` blocks", id="tool-use-unanswered"),
    pytest.param(
        _messages(user("x"), TOOL_TURN, user("no result")), "without `tool_result` blocks", id="tool-result-missing"
    ),
    pytest.param(
        _messages(
            user("x"),
            {"role": "assistant", "content": [tool_use_block("call.1", "get_weather", {})]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call.1"}]},
        ),
        "id: String should match pattern",
        id="tool-use-id-pattern",
    ),
    pytest.param(
        _messages(
            user("x"),
            TOOL_TURN,
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "1"}]},
            tools=[],
        ),
        "must define tools",
        id="tool-blocks-without-tools",
    ),
    pytest.param(
        _with(tools=[{"name": "bad name", "input_schema": {"type": "object"}}]), "tools.0.name", id="tool-name-pattern"
    ),
    pytest.param(
        _with(tools=[{"name": "f", "input_schema": {"type": "array"}}]),
        "input_schema.type",
        id="tool-schema-not-object",
    ),
    pytest.param(_with(tools=[WEATHER_TOOL, WEATHER_TOOL]), "unique", id="duplicate-tool-names"),
    pytest.param(_with(tool_choice={"type": "tool", "name": "nope"}), "no tool named 'nope'", id="tool-choice-name"),
    pytest.param(_with(metadata={"user_id": "u", "session": "s"}), "metadata", id="metadata-extra-key"),
    pytest.param(_with(temperature=1.5), "between 0 and 1", id="temperature-range"),
    pytest.param(_with(top_k=-1), "top_k", id="top-k-negative"),
    pytest.param(
        _with(model="claude-opus-4-7", temperature=0.2),
        "sampling parameters are not accepted",
        id="sampling-on-new-model",
    ),
    pytest.param(
        _messages(user("x"), {"role": "assistant", "content": "{"}, model="claude-opus-4-7"),
        "prefill",
        id="prefill-on-new-model",
    ),
    pytest.param(
        _messages(user("x"), {"role": "assistant", "content": "Sure "}, model=OLDER_MODEL),
        "trailing whitespace",
        id="prefill-trailing-whitespace",
    ),
    pytest.param(
        _thinking(thinking={"type": "enabled", "budget_tokens": 512}),
        "greater than or equal to 1024",
        id="budget-too-small",
    ),
    pytest.param(_thinking(max_tokens=2048), "greater than thinking.budget_tokens", id="budget-not-below-max"),
    pytest.param(_thinking(tool_choice={"type": "any"}), "forces tool use", id="thinking-forced-tool"),
    pytest.param(_thinking(temperature=0.3), "only be set to 1", id="thinking-temperature"),
    pytest.param(
        _messages(
            user("x"),
            TOOL_TURN,
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "1"}]},
            thinking={"type": "enabled", "budget_tokens": 2048},
            max_tokens=4096,
            temperature=1,
        ),
        "must start with a thinking block",
        id="thinking-tool-loop-without-thinking-block",
    ),
    pytest.param(_with(stream="yes"), "stream", id="stream-not-bool"),
]


@pytest.mark.parametrize(("body", "expected"), REFUSED)
def test_validator_refuses(body: dict[str, Any], expected: str) -> None:
    violations = request_violations(body)
    assert any(expected in violation for violation in violations), violations


ACCEPTED = [
    pytest.param(_with(temperature=0.2, top_p=0.9, top_k=5, model=OLDER_MODEL), id="sampling-on-older-model"),
    pytest.param(_with(temperature=0.2), id="temperature-alone"),
    pytest.param(_with(max_tokens=0), id="max-tokens-zero"),
    pytest.param(_with(stream=True), id="streaming"),
    pytest.param(
        _messages(user("x"), {"role": "assistant", "content": "The answer is ("}, model=OLDER_MODEL),
        id="prefill-on-older-model",
    ),
    pytest.param(_messages(user("x"), user("y")), id="consecutive-user-turns"),
    pytest.param(
        _messages(
            user("x"),
            TOOL_TURN,
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "1"}]},
            user("split over two user messages is merged by the API"),
        ),
        id="tool-result-then-user",
    ),
    pytest.param(
        _messages(
            user("x"),
            {
                "role": "assistant",
                "content": [thinking_block("hmm", "sig"), tool_use_block("toolu_9", "get_weather", {"city": "Rome"})],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "1"}]},
            thinking={"type": "enabled", "budget_tokens": 2048},
            max_tokens=4096,
            temperature=1,
            tool_choice={"type": "auto"},
        ),
        id="thinking-tool-loop",
    ),
    pytest.param(
        _messages(user("x"), thinking={"type": "adaptive"}, temperature=1, model="claude-opus-4-6"),
        id="adaptive-thinking",
    ),
    pytest.param(_with(system="plain string system"), id="string-system"),
]


@pytest.mark.parametrize("body", ACCEPTED)
def test_validator_accepts(body: dict[str, Any]) -> None:
    assert request_violations(body) == []


def test_pattern_sets_are_configurable_per_instance(fake: FakeAnthropic) -> None:
    fake.rejects_sampling = (f"{MODEL}*",)
    assert post(fake, _with(temperature=0.2)).status_code == 400
    fake.reset()
    assert post(fake, _with(temperature=0.2)).status_code == 200
