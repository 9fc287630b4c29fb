"""Signed thinking replay: the bounded memory (providers/anthropic/replay.py) and how the provider
uses it before translating (`AnthropicProvider._with_thinking_replayed`). No I/O: the provider is
only constructed, never asked to send anything."""

from __future__ import annotations

from typing import Any

import pytest

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.http import UpstreamClient
from babelgate.providers import build_provider
from babelgate.providers.anthropic.provider import AnthropicProvider
from babelgate.providers.anthropic.replay import ThinkingReplay
from babelgate.providers.base import CallNotes
from babelgate.providers.openai.translate import request_from_wire
from babelgate.schema.chat import ChatRequest

JSON = dict[str, Any]
DETAILS = [
    {
        "type": "reasoning.text",
        "text": "I need the weather tool.",
        "signature": "EqQBsig",
        "format": "anthropic-claude-v1",
    }
]
OTHER = [{"type": "reasoning.encrypted", "data": "EmwK", "format": "anthropic-claude-v1"}]


# --- ThinkingReplay ------------------------------------------------------------------------------


def test_details_are_recalled_by_any_of_the_turns_tool_call_ids() -> None:
    replay = ThinkingReplay()
    replay.remember(["toolu_a", "toolu_b"], DETAILS)
    assert replay.recall(["toolu_b"]) is DETAILS
    assert replay.recall(["toolu_x", "toolu_a"]) is DETAILS
    assert replay.recall(["toolu_x"]) is None
    assert replay.recall([]) is None


def test_an_answer_without_signed_thinking_is_not_remembered() -> None:
    replay = ThinkingReplay()
    replay.remember(["toolu_a"], [])
    assert replay.recall(["toolu_a"]) is None


def test_the_memory_forgets_the_oldest_past_its_capacity() -> None:
    replay = ThinkingReplay(capacity=2)
    replay.remember(["toolu_1"], DETAILS)
    replay.remember(["toolu_2"], OTHER)
    replay.remember(["toolu_1"], DETAILS)  # remembered again: now the newest
    replay.remember(["toolu_3"], OTHER)
    assert replay.recall(["toolu_2"]) is None
    assert replay.recall(["toolu_1"]) is DETAILS
    assert replay.recall(["toolu_3"]) is OTHER


def test_one_answer_with_more_calls_than_the_capacity_keeps_the_last_ones() -> None:
    replay = ThinkingReplay(capacity=2)
    replay.remember(["toolu_1", "toolu_2", "toolu_3"], DETAILS)
    assert [replay.recall([call]) for call in ("toolu_1", "toolu_2", "toolu_3")] == [None, DETAILS, DETAILS]


# --- the provider --------------------------------------------------------------------------------


def provider() -> AnthropicProvider:
    built = build_provider(
        "anthropic", ProviderConfig(type="anthropic", api_keys=("k",)), ServerConfig(), UpstreamClient()
    )
    assert isinstance(built, AnthropicProvider)
    return built


def decoded(body: JSON) -> ChatRequest:
    validate_chat_body(body)
    return request_from_wire(body)


def tool_loop(reasoning_effort: str | None = "medium", **assistant_fields: Any) -> ChatRequest:
    """A tool-loop continuation: the assistant's tool call, its result, back to the model."""
    body: JSON = {
        "model": "claude",
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "toolu_01",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    },
                ],
                **assistant_fields,
            },
            {"role": "tool", "tool_call_id": "toolu_01", "content": "-3°C"},
        ],
    }
    if reasoning_effort is not None:
        body["reasoning_effort"] = reasoning_effort
    return decoded(body)


def test_without_remembered_thinking_reasoning_effort_is_dropped_and_listed() -> None:
    request = tool_loop()
    notes = CallNotes()
    replayed = provider()._with_thinking_replayed(request, notes)
    assert replayed.reasoning_effort is None
    assert replayed.messages == request.messages
    assert notes.adjusted == ["reasoning_effort=dropped"]
    assert request.reasoning_effort == "medium"  # the caller's request is not edited


def test_remembered_thinking_is_attached_to_the_last_assistant_turn() -> None:
    gateway = provider()
    gateway._replay.remember(["toolu_01"], DETAILS)
    request = tool_loop()
    notes = CallNotes()
    replayed = gateway._with_thinking_replayed(request, notes)
    assert replayed.reasoning_effort == "medium"
    assert replayed.messages[1].extra == {"reasoning_details": DETAILS}
    assert replayed.messages[0] is request.messages[0] and replayed.messages[2] is request.messages[2]
    assert request.messages[1].extra == {}  # the caller's message is not edited
    assert notes.adjusted == []


def test_the_replayed_thinking_opens_the_assistant_turn_sent_upstream() -> None:
    gateway = provider()
    gateway._replay.remember(["toolu_01"], DETAILS)
    notes = CallNotes()
    wire = gateway._prepare(tool_loop(), "claude-sonnet-4-20250514", notes)
    assert wire.body["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "I need the weather tool.", "signature": "EqQBsig"},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
    }
    assert wire.body["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert notes.adjusted == []


def test_without_remembered_thinking_nothing_about_thinking_is_sent() -> None:
    notes = CallNotes()
    wire = provider()._prepare(tool_loop(), "claude-sonnet-4-20250514", notes)
    assert "thinking" not in wire.body
    assert wire.body["messages"][1]["content"] == [
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Oslo"}}
    ]
    assert notes.adjusted == ["reasoning_effort=dropped"]


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(tool_loop(reasoning_effort=None), id="no reasoning_effort"),
        pytest.param(tool_loop(reasoning_effort="none"), id="reasoning_effort none"),
        pytest.param(tool_loop(reasoning_details=OTHER), id="client sent its reasoning_details"),
        pytest.param(
            decoded({"model": "claude", "reasoning_effort": "high", "messages": [{"role": "user", "content": "Hi"}]}),
            id="no assistant turn",
        ),
        pytest.param(
            decoded(
                {
                    "model": "claude",
                    "reasoning_effort": "high",
                    "messages": [
                        {"role": "user", "content": "Hi"},
                        {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {"id": "toolu_01", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                            ],
                        },
                        {"role": "tool", "tool_call_id": "toolu_01", "content": "ok"},
                        {"role": "assistant", "content": "Done."},
                        {"role": "user", "content": "Thanks, next question"},
                    ],
                }
            ),
            id="last assistant turn has no tool calls",
        ),
    ],
)
def test_requests_that_need_no_replay_pass_unchanged(request_: ChatRequest) -> None:
    gateway = provider()
    gateway._replay.remember(["toolu_01"], DETAILS)
    notes = CallNotes()
    assert gateway._with_thinking_replayed(request_, notes) is request_
    assert notes.adjusted == []
