"""Golden tests of signed tool-call ids (tool_ids.py): `<id>~sig~<signature>` and its plain form.

Gemini 3's thought signatures ride inside the OpenAI tool-call id (docs/decisions.md, "Gemini's function-call
ids"); every
other provider must see the plain id, on the typed path (`strip_request`) and on the OpenAI fast
path (`strip_body`).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from babelgate import tool_ids
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.providers.openai.translate import request_from_wire
from babelgate.schema.chat import ChatRequest, Message, ToolCall

JSON = dict[str, Any]
SIGNATURE = "CiQBjz1rX2Nhc2Vfc2lnbmF0dXJlLzEyMysrPQ=="  # base64, with '/', '+' and '='
SIGNED = f"fc_7a1b~sig~{SIGNATURE}"


def decoded(body: JSON) -> ChatRequest:
    validate_chat_body(body)
    return request_from_wire(body)


def conversation(call_id: str, other_id: str = "call_plain_2") -> JSON:
    return {
        "model": "gemini/gemini-3-pro-preview",
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {
                        "id": other_id,
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": call_id, "content": "18C"},
            {"role": "tool", "tool_call_id": other_id, "content": "21C"},
        ],
    }


# --- join / split / plain ------------------------------------------------------------------------


def test_the_mark_is_fixed() -> None:
    assert tool_ids.MARK == "~sig~"
    assert tool_ids.MARK_BYTES == b"~sig~"


@pytest.mark.parametrize(
    ("call_id", "signature", "joined"),
    [
        ("fc_7a1b", SIGNATURE, SIGNED),
        ("call_bg0123", "c2ln", "call_bg0123~sig~c2ln"),
        ("fc_7a1b", None, "fc_7a1b"),
        ("fc_7a1b", "", "fc_7a1b"),  # an empty signature is no signature
    ],
)
def test_join(call_id: str, signature: str | None, joined: str) -> None:
    assert tool_ids.join(call_id, signature) == joined


@pytest.mark.parametrize(
    ("call_id", "parts"),
    [
        (SIGNED, ("fc_7a1b", SIGNATURE)),
        ("call_abc", ("call_abc", None)),
        ("", ("", None)),
        ("fc~sig~", ("fc", "")),
        # Only the first mark splits: a signature is opaque, whatever it holds.
        ("a~sig~b~sig~c", ("a", "b~sig~c")),
        ("call~sig", ("call~sig", None)),
    ],
)
def test_split(call_id: str, parts: tuple[str, str | None]) -> None:
    assert tool_ids.split(call_id) == parts


@pytest.mark.parametrize(
    ("call_id", "expected"),
    [
        (SIGNED, "fc_7a1b"),
        ("call_abc", "call_abc"),
        ("a~sig~b~sig~c", "a"),
        ("", ""),
    ],
)
def test_plain(call_id: str, expected: str) -> None:
    assert tool_ids.plain(call_id) == expected


def test_split_undoes_join() -> None:
    for call_id, signature in [("fc_1", SIGNATURE), ("call_x", None)]:
        assert tool_ids.split(tool_ids.join(call_id, signature)) == (call_id, signature)


# --- strip_request (typed path) ------------------------------------------------------------------


def test_strip_request_makes_every_signed_id_plain() -> None:
    original = decoded(conversation(SIGNED))
    before = copy.deepcopy(original)
    stripped = tool_ids.strip_request(original)
    assert stripped.messages == [
        Message(role="user", content="Weather in Paris and Rome?"),
        Message(
            role="assistant",
            content=None,
            tool_calls=[
                ToolCall(id="fc_7a1b", name="get_weather", arguments='{"city":"Paris"}'),
                ToolCall(id="call_plain_2", name="get_weather", arguments='{"city":"Rome"}'),
            ],
        ),
        Message(role="tool", content="18C", tool_call_id="fc_7a1b"),
        Message(role="tool", content="21C", tool_call_id="call_plain_2"),
    ]
    assert stripped.model == original.model
    assert original == before  # the caller's request is not changed


def test_strip_request_is_copy_free_when_nothing_is_signed() -> None:
    request = decoded(conversation("call_1"))
    assert tool_ids.strip_request(request) is request


def test_strip_request_notices_a_signature_only_on_a_tool_message() -> None:
    request = ChatRequest(
        model="m",
        messages=[
            Message(role="assistant", tool_calls=[ToolCall(id="fc_1", name="f", arguments="{}")]),
            Message(role="tool", content="ok", tool_call_id="fc_1~sig~c2ln"),
        ],
    )
    stripped = tool_ids.strip_request(request)
    assert stripped is not request
    assert [m.tool_call_id for m in stripped.messages] == [None, "fc_1"]
    assert stripped.messages[0].tool_calls == [ToolCall(id="fc_1", name="f", arguments="{}")]


def test_strip_request_notices_a_signature_only_on_an_assistant_call() -> None:
    request = ChatRequest(
        model="m",
        messages=[
            Message(role="assistant", tool_calls=[ToolCall(id="fc_1~sig~c2ln", name="f", arguments="{}")]),
            Message(role="tool", content="ok", tool_call_id="fc_1"),
        ],
    )
    stripped = tool_ids.strip_request(request)
    assert stripped.messages[0].tool_calls == [ToolCall(id="fc_1", name="f", arguments="{}")]
    assert request.messages[0].tool_calls == [ToolCall(id="fc_1~sig~c2ln", name="f", arguments="{}")]


# --- strip_body (fast path) ----------------------------------------------------------------------


def test_strip_body_makes_every_signed_id_plain_in_place() -> None:
    body = conversation(SIGNED)
    body["messages"].append("not a message")  # tolerated: validation is not this function's job
    body["messages"].append({"role": "assistant", "tool_calls": ["junk", {"id": 7}]})
    body["messages"].append({"role": "tool", "tool_call_id": None, "content": "x"})
    tool_ids.strip_body(body)
    assert body == {
        "model": "gemini/gemini-3-pro-preview",
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "fc_7a1b",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {
                        "id": "call_plain_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "fc_7a1b", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_plain_2", "content": "21C"},
            "not a message",
            {"role": "assistant", "tool_calls": ["junk", {"id": 7}]},
            {"role": "tool", "tool_call_id": None, "content": "x"},
        ],
    }


@pytest.mark.parametrize("body", [{}, {"messages": None}, {"messages": []}])
def test_strip_body_without_messages_changes_nothing(body: JSON) -> None:
    before = copy.deepcopy(body)
    tool_ids.strip_body(body)
    assert body == before
