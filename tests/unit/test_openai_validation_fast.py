"""`plainly_valid` and `plainly_valid_tool` are the chat validation's quick yes for common messages and tools: they
must never accept a message that `_message` (the checks with paths), or a tool that `validate_tool`, refuses, and they
must say yes to the shapes coding agents send by the hundred."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from babelgate.errors import InvalidRequest
from babelgate.frontends.openai_validation import (
    _FIELD_CHECKS,
    CHAT_BODY,
    _message,
    plainly_valid,
    plainly_valid_function,
    plainly_valid_tool,
    validate_chat_body,
    validate_tool,
)
from babelgate.frontends.responses.validate import _tool as responses_tool

MISSING = object()
ROLES: tuple[Any, ...] = ("system", "developer", "user", "assistant", "tool", "function", "robot", 3, None)
CONTENTS: tuple[Any, ...] = (MISSING, None, "hi", "", [{"type": "text", "text": "hi"}], 7, {"text": "hi"})
NAMES: tuple[Any, ...] = (MISSING, None, "ann", 5)
TOOL_CALL_IDS: tuple[Any, ...] = (MISSING, "call_1", 9)
CALL: dict[str, Any] = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
TOOL_CALLS: tuple[Any, ...] = (
    MISSING,
    None,
    [],
    [CALL],
    [{**CALL, "type": MISSING}],
    [{**CALL, "type": "custom", "custom": {"name": "f", "input": "x"}}],
    [{**CALL, "type": "other"}],
    [{**CALL, "id": 3}],
    [{**CALL, "function": {"name": "f"}}],
    [{**CALL, "function": {"name": 1, "arguments": "{}"}}],
    [{**CALL, "function": "f"}],
    ["call"],
    "calls",
)


def _built(role: Any, content: Any, name: Any, tool_call_id: Any, tool_calls: Any) -> dict[str, Any]:
    fields = {"role": role, "content": content, "name": name, "tool_call_id": tool_call_id, "tool_calls": tool_calls}
    message = {key: value for key, value in fields.items() if value is not MISSING}
    if isinstance(message.get("tool_calls"), list):
        message["tool_calls"] = [
            {key: value for key, value in call.items() if value is not MISSING} if isinstance(call, dict) else call
            for call in message["tool_calls"]
        ]
    return message


def _quick_yeses(quick: Callable[[Any], bool], check: Callable[[Any, str], None], values: Iterable[Any]) -> int:
    """How many of `values` the quick check says yes to, each of them let through by the checks with paths too."""
    yeses = 0
    for value in values:
        if quick(value):
            yeses += 1
            try:
                check(value, "[0]")
            except InvalidRequest:
                pytest.fail(f"a quick yes the checks with paths refuse: {value}")
    return yeses


def test_a_quick_yes_is_never_a_message_the_full_checks_refuse() -> None:
    messages = (_built(*fields) for fields in itertools.product(ROLES, CONTENTS, NAMES, TOOL_CALL_IDS, TOOL_CALLS))
    assert _quick_yeses(plainly_valid, _message, messages) > 50  # the common shapes do take the quick way
    for other in (None, [], "message", 3):
        assert not plainly_valid(other)


@pytest.mark.parametrize(
    "message",
    [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "be brief", "name": "setup"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "assistant", "content": "ok", "tool_calls": [CALL, {**CALL, "id": "call_2"}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
    ],
)
def test_what_agents_send_takes_the_quick_way(message: dict[str, Any]) -> None:
    assert plainly_valid(message)


def test_a_refused_message_still_names_its_path() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "tool", "content": "x"}]}
    with pytest.raises(InvalidRequest) as refused:
        validate_chat_body(body)
    assert refused.value.param == "messages[1].tool_call_id"


# Every top-level field the published schema types (CHAT_BODY, /openapi.json) has its rule in the walk over the
# body's fields (`_FIELD_CHECKS`): a wrong value is refused naming the field, a null is no value.
WRONG_VALUES: dict[str, Any] = {
    **dict.fromkeys(("stream", "logprobs", "parallel_tool_calls", "store"), "yes"),
    **dict.fromkeys(("temperature", "top_p", "presence_penalty", "frequency_penalty"), 9),
    **dict.fromkeys(("n", "max_tokens", "max_completion_tokens", "top_logprobs"), 1.5),
    "seed": True,
    "stop": [1],
    "stream_options": {"include_usage": "yes"},
    "tools": {"type": "function"},
    "tool_choice": "sometimes",
    "response_format": {"type": "xml"},
    "user": 7,
    "reasoning_effort": 1,
    "metadata": [],
}


@pytest.mark.parametrize("field", sorted(WRONG_VALUES))
def test_each_field_the_schema_types_is_checked(field: str) -> None:
    body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    validate_chat_body({**body, field: None})
    with pytest.raises(InvalidRequest) as caught:
        validate_chat_body({**body, field: WRONG_VALUES[field]})
    assert caught.value.param is not None and caught.value.param.split(".")[0] == field


def test_the_checked_fields_are_the_published_ones() -> None:
    published = set(CHAT_BODY["properties"]) - {"model", "messages"}
    assert set(_FIELD_CHECKS) == published == set(WRONG_VALUES)


TOOL_TYPES: tuple[Any, ...] = (MISSING, "function", "custom", "web_search", "", 3)
TOOL_NAMES: tuple[Any, ...] = (MISSING, "get_weather", "a b", "x" * 65, "", 4)
DESCRIPTIONS: tuple[Any, ...] = (MISSING, None, "Weather", 5)
PARAMETERS: tuple[Any, ...] = (
    MISSING,
    None,
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    {"properties": {}},
    {"type": "array"},
    {"type": "object", "properties": []},
    [],
)
STRICTS: tuple[Any, ...] = (MISSING, None, True, "yes")
SPECS: tuple[Any, ...] = ("dict", "f", None)


def _tool(kind: Any, name: Any, description: Any, parameters: Any, strict: Any, spec: Any) -> Any:
    fields = {"name": name, "description": description, "parameters": parameters, "strict": strict}
    function = {key: value for key, value in fields.items() if value is not MISSING} if spec == "dict" else spec
    tool: dict[str, Any] = {"function": function}
    if kind is not MISSING:
        tool["type"] = kind
    return tool


def test_a_quick_yes_is_never_a_tool_the_full_checks_refuse() -> None:
    tools = (
        _tool(*fields) for fields in itertools.product(TOOL_TYPES, TOOL_NAMES, DESCRIPTIONS, PARAMETERS, STRICTS, SPECS)
    )
    assert _quick_yeses(plainly_valid_tool, validate_tool, tools) > 20  # the common shapes do take the quick way
    for other in (None, [], "tool", 3):
        assert not plainly_valid_tool(other)


def test_what_clients_send_as_tools_takes_the_quick_way() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            "strict": False,
        },
    }
    assert plainly_valid_tool(tool) and plainly_valid_tool({"type": "function", "function": {"name": "f"}})


def test_a_refused_tool_still_names_its_path() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "a b"}}],
    }
    with pytest.raises(InvalidRequest) as refused:
        validate_chat_body(body)
    assert refused.value.param == "tools[1].function.name"


def test_a_quick_yes_is_never_a_responses_function_tool_the_full_checks_refuse() -> None:
    """The Responses API's function tools are flat (`name`, `parameters`… beside `type`): the same quick yes."""
    names = ("type", "name", "description", "parameters", "strict")
    tools = (
        {name: value for name, value in zip(names, fields, strict=True) if value is not MISSING}
        for fields in itertools.product(TOOL_TYPES, TOOL_NAMES, DESCRIPTIONS, PARAMETERS, STRICTS)
    )
    assert (
        _quick_yeses(
            lambda tool: tool.get("type") == "function" and plainly_valid_function(tool), responses_tool, tools
        )
        > 20
    )
