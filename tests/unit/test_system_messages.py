"""A system message inside the conversation, on upstreams that take a system prompt only at the start
(golden): it stays where it was sent, as user text inside `<system-reminder>` tags, and is reported."""

from __future__ import annotations

from typing import Any

from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.providers.anthropic.profiles import ModelProfile as AnthropicProfile
from babelgate.providers.anthropic.translate import to_wire as anthropic_to_wire
from babelgate.providers.gemini.profiles import ModelProfile as GeminiProfile
from babelgate.providers.gemini.translate import to_wire as gemini_to_wire
from babelgate.providers.mistral.translate import to_wire as mistral_to_wire
from babelgate.providers.openai.translate import request_from_wire
from babelgate.providers.system_messages import place_system_messages
from babelgate.schema.chat import ChatRequest, Message, TextPart

JSON = dict[str, Any]
CALL = {"id": "call_1", "type": "function", "function": {"name": "run", "arguments": "{}"}}
# What Claude Code sends, as chat: its prompt, the task, then the environment as a system message.
AGENT = [
    {"role": "system", "content": "You are an agent."},
    {"role": "user", "content": "Make hello.txt"},
    {"role": "system", "content": [{"type": "text", "text": "# Environment"}]},
]
REMINDER = "<system-reminder>\n# Environment\n</system-reminder>"


def request(messages: list[JSON]) -> ChatRequest:
    body = {"model": "m", "messages": messages}
    validate_chat_body(body)
    return request_from_wire(body)


def test_anthropic_takes_the_leading_system_prompt_and_the_late_one_as_user_text() -> None:
    adjusted: list[str] = []
    wire = anthropic_to_wire(request(AGENT), "claude-x", AnthropicProfile(), adjusted).body
    assert wire["system"] == [{"type": "text", "text": "You are an agent."}]
    assert wire["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Make hello.txt"}, {"type": "text", "text": REMINDER}]}
    ]
    assert "messages[2]=system-as-user" in adjusted


def test_gemini_takes_the_leading_system_prompt_and_the_late_one_as_user_text() -> None:
    adjusted: list[str] = []
    wire = gemini_to_wire(request(AGENT), GeminiProfile(), adjusted, inline={})
    assert wire["systemInstruction"] == {"parts": [{"text": "You are an agent."}]}
    assert wire["contents"] == [{"role": "user", "parts": [{"text": "Make hello.txt"}, {"text": REMINDER}]}]
    assert "messages[2]=system-as-user" in adjusted


def test_mistral_keeps_a_system_message_after_the_user_and_moves_one_after_a_tool_result() -> None:
    adjusted: list[str] = []
    wire = mistral_to_wire(request([*AGENT, {"role": "user", "content": "Go"}]), "mistral-large-latest", adjusted)
    assert [m["role"] for m in wire["messages"]] == ["system", "user", "system", "user"]
    assert adjusted == []
    # Last, as Claude Code sends it: Mistral wants the conversation to end with the user or a tool.
    wire = mistral_to_wire(request(AGENT), "mistral-large-latest", adjusted)
    assert [m["role"] for m in wire["messages"]] == ["system", "user", "user"]
    assert adjusted == ["messages[2]=system-as-user"]
    adjusted.clear()
    after_tool = [
        *AGENT[:2],
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "done"},
        {"role": "developer", "content": "Now summarise."},
    ]
    wire = mistral_to_wire(request(after_tool), "mistral-large-latest", adjusted)
    assert wire["messages"][-1]["role"] == "user"
    assert wire["messages"][-1]["content"] == [
        {"type": "text", "text": "<system-reminder>\nNow summarise.\n</system-reminder>"}
    ]
    assert adjusted == ["messages[4]=system-as-user", "messages=bridged"]


def test_nothing_moves_when_every_system_message_leads() -> None:
    messages = [Message("system", "a"), Message("developer", "b"), Message("user", "c")]
    adjusted: list[str] = []
    assert place_system_messages(messages, adjusted) is messages
    assert adjusted == []


def test_parts_join_in_order_inside_one_reminder_and_a_blank_message_carries_nothing() -> None:
    moved = place_system_messages(
        [
            Message("user", "x"),
            Message("system", [TextPart("a"), TextPart(" "), TextPart("b")]),
            Message("developer", "  "),
        ],
        [],
    )
    assert moved[1] == Message("user", [TextPart("<system-reminder>\na\nb\n</system-reminder>")])
    assert moved[2] == Message("user", [])


def test_mistral_takes_a_developer_message_as_a_system_message() -> None:
    """Codex sends its instructions as developer messages; Mistral knows only `system`."""
    wire = mistral_to_wire(
        request([{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hi"}]),
        "mistral-large-latest",
        [],
    )
    assert wire["messages"][0] == {"role": "system", "content": "Be brief."}


def _moved_one_by_one(roles: tuple[str, ...], accepted_after: frozenset[str]) -> list[int]:
    """Which messages move, by the rule written as a walk over the messages (what the quick check must agree with)."""
    moved, started = [], False
    for index, role in enumerate(roles):
        if role not in ("system", "developer"):
            started = True
        elif started and not (index < len(roles) - 1 and roles[index - 1] in accepted_after):
            moved.append(index)
    return moved


def test_the_quick_check_moves_what_the_walk_moves() -> None:
    """Every conversation of up to five messages: the same messages move, and none means the same list back."""
    from itertools import product

    for length in range(6):
        for roles in product(("system", "developer", "user", "assistant", "tool"), repeat=length):
            for accepted_after in (frozenset(), frozenset({"user"})):
                messages = [Message(role=role, content="text") for role in roles]
                adjusted: list[str] = []
                placed = place_system_messages(messages, adjusted, accepted_after=accepted_after)
                moved = _moved_one_by_one(roles, accepted_after)
                assert adjusted == [f"messages[{index}]=system-as-user" for index in moved]
                assert (placed is messages) == (not moved)
