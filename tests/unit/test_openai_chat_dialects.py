"""Mistral's dialect of Chat Completions on the fast path (frontends/openai_chat/dialects.py), golden: each
field translated or dropped and listed; a body without any of them is not touched, and not walked."""

from __future__ import annotations

from typing import Any

from babelgate.frontends.openai_chat.dialects import make_openai, needs_edits
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.providers.mistral.translate import to_wire as mistral_to_wire
from babelgate.providers.openai.translate import request_from_wire


def _edit(body: dict[str, Any]) -> list[str]:
    adjusted: list[str] = []
    assert needs_edits(body)
    make_openai(body, adjusted)
    return adjusted


def test_plain_bodies_need_nothing() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "tool_choice": "auto"}
    assert not needs_edits(body)


def test_top_level_fields() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": "any",
        "random_seed": 3,
        "safe_prompt": True,
        "prompt_mode": "reasoning",
    }
    assert _edit(body) == [
        "tool_choice=renamed:required",
        "random_seed=renamed:seed",
        "safe_prompt=dropped",
        "prompt_mode=dropped",
    ]
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": "required",
        "seed": 3,
    }


def test_random_seed_beside_seed_is_dropped() -> None:
    body = {"model": "m", "messages": [], "seed": 1, "random_seed": 2}
    assert _edit(body) == ["random_seed=dropped"] and body["seed"] == 1


def test_message_fields_of_a_tool_round_trip() -> None:
    messages = [
        {"role": "user", "content": "Hi"},
        {
            "role": "assistant",
            "content": None,
            "prefix": False,
            "tool_calls": [
                {"id": "a", "type": "function", "index": 0, "function": {"name": "f", "arguments": "{}"}},
                {"id": "b", "type": "function", "index": 1, "function": {"name": "f", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "a", "name": "f", "content": "1"},
        {"role": "tool", "tool_call_id": "b", "name": "f", "content": "2"},
    ]
    body = {"model": "m", "messages": messages}
    assert _edit(body) == ["messages.name=dropped", "messages.prefix=dropped", "messages.tool_calls.index=dropped"]
    assert body["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        ],
    }
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "a", "content": "1"}


def test_each_message_field_alone_is_found_and_an_openai_tool_round_trip_needs_nothing() -> None:
    call = {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    openai_round_trip = [
        {"role": "user", "content": 'a "prefix", an "index" and a "name", in words only'},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "a", "content": "1"},
        {"role": "user", "name": "ada", "content": "a user's name is OpenAI's too"},
    ]
    assert not needs_edits({"model": "m", "messages": openai_round_trip})
    assert not needs_edits({"model": "m"})
    marked = [
        {"role": "assistant", "content": "Sure", "prefix": True},
        {"role": "assistant", "content": None, "tool_calls": [call, {**call, "index": 0}]},
        {"role": "tool", "tool_call_id": "a", "name": "f", "content": "1"},
    ]
    for message in marked:
        assert needs_edits({"model": "m", "messages": [*openai_round_trip, message]}), message


def test_the_typed_road_reads_any_and_random_seed() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": "any",
        "random_seed": 9,
    }
    validate_chat_body(body)
    request = request_from_wire(body)
    assert (request.tool_choice, request.seed, request.extra) == ("required", 9, {})


def test_mistral_gets_an_empty_schema_for_a_function_without_parameters() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": "any",
    }
    adjusted: list[str] = []
    wire = mistral_to_wire(request_from_wire(body), "mistral-small-latest", adjusted)
    assert wire["tools"] == [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    ]
    assert wire["tool_choice"] == "any" and adjusted == []
