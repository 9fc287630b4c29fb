"""Golden tests of Anthropic Message → canonical response (providers/anthropic/translate.py `from_wire`).

Each input goes through the SDK's own `Message` model first, so it has exactly the shape the API
sends; each result is compared whole, and encoded answers are validated by openai's ChatCompletion.
"""

from __future__ import annotations

from typing import Any

import pytest
from anthropic.types import Message
from openai.types.chat import ChatCompletion

from babelgate.providers.anthropic.translate import from_wire
from babelgate.providers.openai.translate import response_to_wire
from babelgate.schema.chat import AssistantMessage, ChatResponse, Choice, ToolCall, Usage

JSON = dict[str, Any]
CREATED = 1_700_000_000
MODEL = "claude-sonnet-4-5-20250929"
JSON_TOOL = "babelgate_json_output"


def api_message(
    content: list[JSON],
    *,
    stop_reason: str | None = "end_turn",
    usage: JSON | None = None,
    stop_sequence: str | None = None,
) -> JSON:
    """The JSON the Messages API answers with, normalised through the SDK's model."""
    message = {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage or {"input_tokens": 10, "output_tokens": 5},
    }
    dumped: JSON = Message.model_validate(message).model_dump(mode="json", exclude_none=True)
    return dumped


def response(message: AssistantMessage, finish: Any, usage: Usage | None = None) -> ChatResponse:
    return ChatResponse(
        id="msg_01XFDUDYJgAACzvnptvVoYEL",
        created=CREATED,
        model=MODEL,
        choices=[Choice(index=0, message=message, finish_reason=finish)],
        usage=usage or Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15, cached_tokens=0),
    )


def translated(body: JSON, json_tool: str | None = None) -> ChatResponse:
    return from_wire(body, created=CREATED, json_tool=json_tool)


def test_text() -> None:
    result = translated(api_message([{"type": "text", "text": "Hello!"}]))
    assert result == response(AssistantMessage(content="Hello!"), "stop")
    encoded = response_to_wire(result)
    assert encoded == {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!"},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }
    ChatCompletion.model_validate(encoded)


def test_several_text_blocks_are_concatenated() -> None:
    result = translated(
        api_message(
            [
                {"type": "text", "text": "Hello, "},
                {"type": "text", "text": "world", "citations": None},
                {"type": "text", "text": "!"},
            ]
        )
    )
    assert result.choices[0].message == AssistantMessage(content="Hello, world!")


def test_tool_use_blocks_become_tool_calls_with_json_string_arguments() -> None:
    result = translated(
        api_message(
            [
                {"type": "text", "text": "Let me check both."},
                {
                    "type": "tool_use",
                    "id": "toolu_01A",
                    "name": "get_weather",
                    "input": {"city": "Paris", "days": [1, 2]},
                },
                {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {}},
            ],
            stop_reason="tool_use",
        )
    )
    assert result == response(
        AssistantMessage(
            content="Let me check both.",
            tool_calls=[
                ToolCall(id="toolu_01A", name="get_weather", arguments='{"city":"Paris","days":[1,2]}'),
                ToolCall(id="toolu_01B", name="get_time", arguments="{}"),
            ],
        ),
        "tool_calls",
    )
    encoded = response_to_wire(result)
    assert encoded["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Let me check both.",
        "tool_calls": [
            {
                "id": "toolu_01A",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris","days":[1,2]}'},
            },
            {"id": "toolu_01B", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
        ],
    }
    ChatCompletion.model_validate(encoded)


def test_only_tool_calls_leave_content_null() -> None:
    result = translated(
        api_message([{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}], stop_reason="tool_use")
    )
    assert result.choices[0].message == AssistantMessage(content=None, tool_calls=[ToolCall("toolu_1", "f", '{"a":1}')])
    assert result.choices[0].finish_reason == "tool_calls"
    encoded = response_to_wire(result)
    assert encoded["choices"][0]["message"]["content"] is None
    ChatCompletion.model_validate(encoded)


def test_the_json_tool_input_is_the_content_and_the_answer_stops() -> None:
    result = translated(
        api_message(
            [{"type": "tool_use", "id": "toolu_j", "name": JSON_TOOL, "input": {"answer": 42, "unit": "m"}}],
            stop_reason="tool_use",
        ),
        json_tool=JSON_TOOL,
    )
    assert result == response(AssistantMessage(content='{"answer":42,"unit":"m"}'), "stop")
    ChatCompletion.model_validate(response_to_wire(result))


def test_a_tool_named_like_the_json_tool_is_a_tool_call_when_no_json_tool_was_forced() -> None:
    result = translated(
        api_message([{"type": "tool_use", "id": "toolu_j", "name": JSON_TOOL, "input": {}}], stop_reason="tool_use")
    )
    assert result.choices[0].message.tool_calls == [ToolCall("toolu_j", JSON_TOOL, "{}")]
    assert result.choices[0].finish_reason == "tool_calls"


def test_thinking_becomes_reasoning_content_and_reasoning_details() -> None:
    result = translated(
        api_message(
            [
                {"type": "thinking", "thinking": "The user wants ", "signature": "EqQBCgIYAhIM1"},
                {"type": "redacted_thinking", "data": "EmwKAhgBEgyzQw"},
                {"type": "thinking", "thinking": "a tool call.", "signature": "EqQBCgIYAhIM2"},
                {"type": "text", "text": "Calling it."},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}},
            ],
            stop_reason="tool_use",
            usage={"input_tokens": 50, "output_tokens": 120, "output_tokens_details": {"thinking_tokens": 90}},
        )
    )
    details = [
        {
            "type": "reasoning.text",
            "text": "The user wants ",
            "signature": "EqQBCgIYAhIM1",
            "format": "anthropic-claude-v1",
        },
        {"type": "reasoning.encrypted", "data": "EmwKAhgBEgyzQw", "format": "anthropic-claude-v1"},
        {
            "type": "reasoning.text",
            "text": "a tool call.",
            "signature": "EqQBCgIYAhIM2",
            "format": "anthropic-claude-v1",
        },
    ]
    assert result == response(
        AssistantMessage(
            content="Calling it.",
            tool_calls=[ToolCall("toolu_1", "lookup", '{"q":"x"}')],
            reasoning_content="The user wants a tool call.",
            extra={"reasoning_details": details},
        ),
        "tool_calls",
        Usage(prompt_tokens=50, completion_tokens=120, total_tokens=170, cached_tokens=0, reasoning_tokens=90),
    )
    encoded = response_to_wire(result)
    assert encoded["choices"][0]["message"]["reasoning_content"] == "The user wants a tool call."
    assert encoded["choices"][0]["message"]["reasoning_details"] == details
    assert encoded["usage"]["completion_tokens_details"] == {"reasoning_tokens": 90}
    ChatCompletion.model_validate(encoded)


def test_only_redacted_thinking_gives_details_but_no_reasoning_content() -> None:
    result = translated(api_message([{"type": "redacted_thinking", "data": "EmwK"}, {"type": "text", "text": "Done."}]))
    assert result.choices[0].message == AssistantMessage(
        content="Done.",
        extra={"reasoning_details": [{"type": "reasoning.encrypted", "data": "EmwK", "format": "anthropic-claude-v1"}]},
    )


def test_block_kinds_without_an_openai_equivalent_are_kept_in_extra() -> None:
    server_use = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "news"}}
    body = api_message([server_use, {"type": "text", "text": "Here is the news."}])
    future = {"type": "hologram", "payload": {"x": 1}}  # a kind newer than the SDK
    body["content"].append(future)
    result = translated(body)
    assert result.choices[0].message == AssistantMessage(
        content="Here is the news.", extra={"anthropic_content": [server_use, future]}
    )
    assert result.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    ("stop_reason", "has_tool_use", "finish"),
    [
        ("end_turn", False, "stop"),
        ("stop_sequence", False, "stop"),
        ("max_tokens", False, "length"),
        ("model_context_window_exceeded", False, "length"),
        ("tool_use", True, "tool_calls"),
        ("tool_use", False, "stop"),  # only the structured-output tool was used
        ("refusal", False, "content_filter"),
        ("pause_turn", False, "stop"),
        (None, False, None),
    ],
)
def test_every_stop_reason(stop_reason: str | None, has_tool_use: bool, finish: str | None) -> None:
    content: list[JSON] = [{"type": "text", "text": "x"}]
    if has_tool_use:
        content.append({"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}})
    result = translated(
        api_message(content, stop_reason=stop_reason, stop_sequence="END" if stop_reason == "stop_sequence" else None)
    )
    assert result.choices[0].finish_reason == finish


def test_usage_adds_cache_reads_and_writes_to_the_prompt() -> None:
    result = translated(
        api_message(
            [{"type": "text", "text": "ok"}],
            usage={
                "input_tokens": 21,
                "cache_read_input_tokens": 1800,
                "cache_creation_input_tokens": 248,
                "output_tokens": 393,
                "cache_creation": {"ephemeral_5m_input_tokens": 248, "ephemeral_1h_input_tokens": 0},
                "service_tier": "standard",
            },
        )
    )
    assert result.usage == Usage(
        prompt_tokens=2069,
        completion_tokens=393,
        total_tokens=2462,
        cached_tokens=1800,
        cache_write_tokens=248,
        reasoning_tokens=None,
    )
    encoded = response_to_wire(result)
    assert encoded["usage"] == {
        "prompt_tokens": 2069,
        "completion_tokens": 393,
        "total_tokens": 2462,
        "prompt_tokens_details": {"cached_tokens": 1800, "cache_write_tokens": 248},
    }
    ChatCompletion.model_validate(encoded)


def test_usage_with_zero_cache_fields() -> None:
    result = translated(
        api_message(
            [{"type": "text", "text": "ok"}],
            usage={
                "input_tokens": 7,
                "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0,
                "output_tokens": 2,
                "output_tokens_details": {"thinking_tokens": 0},
            },
        )
    )
    assert result.usage == Usage(
        prompt_tokens=7,
        completion_tokens=2,
        total_tokens=9,
        cached_tokens=0,
        cache_write_tokens=None,
        reasoning_tokens=0,
    )


def test_a_message_without_usage_has_no_usage() -> None:
    body = api_message([{"type": "text", "text": "ok"}])
    del body["usage"]
    assert translated(body).usage is None
