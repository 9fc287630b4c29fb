"""Validation of an OpenAI Chat Completions body, on the parsed JSON, before any upstream call.

It checks what the gateway must understand to route and translate (docs/decisions.md, "What the gateway checks"): model,
messages and their parts, tools, tool_choice, response_format, the types of the fields it reads
and the ranges of sampling numbers. Errors name the exact path (`messages[2].content[0].image_url`).
Fields it only passes through are the upstream's to judge.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from babelgate.errors import InvalidRequest
from babelgate.frontends.body_schema import INTEGER, MODEL, OBJECT, STRING, any_of, array, enum, obj

TOOL_NAME: Final = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # used with fullmatch
ROLES: Final = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
# Part types each role may send (OAI ChatCompletionRequest*MessageContentPart unions).
PART_TYPES: Final[dict[str, frozenset[str]]] = {
    "system": frozenset({"text"}),
    "developer": frozenset({"text"}),
    "user": frozenset({"text", "image_url", "input_audio", "file"}),
    "assistant": frozenset({"text", "refusal"}),
    "tool": frozenset({"text"}),
    "function": frozenset({"text"}),
}
# A range's bound as written: `int | float`, not `float`, which compiled code (mypyc) takes at its word and turns
# an int into a float, so that an error would tell the client "from 0.0 to 2.0" where the API says 0 to 2.
Bound = int | float
# name → (low, high) inclusive, per OAI CreateChatCompletionRequest.
NUMBER_RANGES: Final[dict[str, tuple[Bound, Bound]]] = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "presence_penalty": (-2, 2),
    "frequency_penalty": (-2, 2),
}
INTEGER_RANGES: Final[dict[str, tuple[int, int]]] = {
    "n": (1, 128),
    "max_tokens": (1, 2**31 - 1),
    "max_completion_tokens": (1, 2**31 - 1),
    "top_logprobs": (0, 20),
}
BOOLEANS: Final = ("stream", "logprobs", "parallel_tool_calls", "store")
# `any` is Mistral's word for `required` (its SDK sends it): read as `required` by the OpenAI codec, and
# renamed on the fast path (openai_chat/dialects.py).
TOOL_CHOICE_MODES: Final = frozenset({"none", "auto", "required", "any"})


def require_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise InvalidRequest("missing_field", param="model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("wrong_type", param="model", expected="a non-empty string")
    return model


def validate_chat_body(body: dict[str, Any]) -> None:
    require_model(body)
    messages = body.get("messages")
    if messages is None:
        raise InvalidRequest("missing_field", param="messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("empty_messages", param="messages")
    for index, message in enumerate(messages):
        if not plainly_valid(message):  # the rest (or a fault): checked with the paths its error names
            _message(message, f"messages[{index}]")
    check_fields(body, _FIELD_CHECKS)


def check_fields(body: dict[str, Any], checks: dict[str, FieldCheck]) -> None:
    """The other fields the gateway reads, each checked by its own rule (`checks`, by name): a walk over what the
    body has (two or three fields, often), not a lookup of each of the two dozen it might have. Where two are
    wrong, the body's first is the one named."""
    for name, value in body.items():
        if value is not None:
            check = checks.get(name)
            if check is not None:
                check(name, value)


def expect_object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequest("wrong_type", param=path, expected="an object")
    return value


def _string(container: dict[str, Any], key: str, path: str, *, required: bool = True) -> None:
    value = container.get(key)
    if value is None:
        if required:
            raise InvalidRequest("missing_field", param=f"{path}.{key}")
        return
    if not isinstance(value, str):
        raise InvalidRequest("wrong_type", param=f"{path}.{key}", expected="a string")


def expect_ranges(
    body: dict[str, Any], numbers: dict[str, tuple[Bound, Bound]], integers: dict[str, tuple[int, int]]
) -> None:
    """Each top-level number the body has, within its inclusive range (and an integer where asked)."""
    if numbers.keys().isdisjoint(body) and integers.keys().isdisjoint(body):  # in C: most bodies set none
        return
    for name, (low, high) in numbers.items():
        value = body.get(name)
        if value is not None:
            expect_number(value, name, low, high, integer=False)
    for name, (ilow, ihigh) in integers.items():
        value = body.get(name)
        if value is not None:
            expect_number(value, name, ilow, ihigh, integer=True)


def expect_number(value: Any, path: str, low: Bound, high: Bound, *, integer: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise InvalidRequest("wrong_type", param=path, expected="an integer" if integer else "a number")
    if not low <= value <= high:
        raise InvalidRequest("out_of_range", param=path, expected=f"a value from {low} to {high}")


def plainly_valid(message: Any) -> bool:
    """True for a message of the common shapes that `_message` accepts: text content (or none, for an assistant
    turn), a string name, a tool turn's string id, an assistant's function calls with string fields. Coding
    agents send conversations of hundreds of these: checked without the path strings an error would need
    (~555 ns a message before, most of it paths). False is no verdict: `_message` then checks it, with paths.
    Only ever narrower than `_message` (tests/unit/test_openai_validation_fast.py holds the two together)."""
    if message.__class__ is not dict:
        return False
    role = message.get("role")
    content = message.get("content")
    if role.__class__ is not str or role not in ROLES:
        return False
    if content.__class__ is not str and (content is not None or role != "assistant"):
        return False
    name = message.get("name")
    if name is not None and name.__class__ is not str:
        return False
    if role == "tool" and message.get("tool_call_id").__class__ is not str:
        return False
    calls = message.get("tool_calls")
    if calls is None:
        return True
    if role != "assistant" or calls.__class__ is not list:
        return False
    for call in calls:
        if (
            call.__class__ is not dict
            or call.get("id").__class__ is not str
            or call.get("type", "function") != "function"
        ):
            return False
        function = call.get("function")
        if (
            function.__class__ is not dict
            or function.get("name").__class__ is not str
            or function.get("arguments").__class__ is not str
        ):
            return False
    return True


def _message(message: Any, path: str) -> None:
    message = expect_object(message, path)
    role = message.get("role")
    if role is None:
        raise InvalidRequest("missing_field", param=f"{path}.role")
    if not isinstance(role, str) or role not in ROLES:
        raise InvalidRequest(
            "invalid_value", param=f"{path}.role", detail=f"{role!r} is not one of {', '.join(sorted(ROLES))}"
        )
    content = message.get("content")
    if content is None:
        # Assistant turns may carry only tool calls (or nothing the upstream would mind).
        if role != "assistant":
            raise InvalidRequest("missing_field", param=f"{path}.content")
    elif isinstance(content, list):
        allowed = PART_TYPES[role]
        for index, part in enumerate(content):
            _part(part, f"{path}.content[{index}]", allowed)
    elif not isinstance(content, str):
        raise InvalidRequest("wrong_type", param=f"{path}.content", expected="a string or an array of parts")
    _string(message, "name", path, required=False)
    if role == "tool":
        _string(message, "tool_call_id", path)
    tool_calls = message.get("tool_calls")
    if tool_calls is not None:
        if role != "assistant":
            raise InvalidRequest(
                "invalid_value", param=f"{path}.tool_calls", detail="only assistant messages have tool calls"
            )
        if not isinstance(tool_calls, list):
            raise InvalidRequest("wrong_type", param=f"{path}.tool_calls", expected="an array")
        for index, call in enumerate(tool_calls):
            _tool_call(call, f"{path}.tool_calls[{index}]")


def _part(part: Any, path: str, allowed: frozenset[str]) -> None:
    part = expect_object(part, path)
    kind = part.get("type")
    if kind is None:
        raise InvalidRequest("missing_field", param=f"{path}.type")
    if not isinstance(kind, str) or kind not in allowed:
        raise InvalidRequest(
            "invalid_value",
            param=f"{path}.type",
            detail=f"{kind!r} is not allowed here (allowed: {', '.join(sorted(allowed))})",
        )
    if kind == "text":
        _string(part, "text", path)
    elif kind == "refusal":
        _string(part, "refusal", path)
    elif kind == "image_url":
        image = part.get("image_url")
        if image is None:
            raise InvalidRequest("missing_field", param=f"{path}.image_url")
        image = expect_object(image, f"{path}.image_url")
        _string(image, "url", f"{path}.image_url")
        if not image["url"].startswith(("http://", "https://", "data:")):
            raise InvalidRequest(
                "invalid_value", param=f"{path}.image_url.url", detail="expected an http(s) URL or a data: URI"
            )
        detail = image.get("detail")
        if detail is not None and detail not in ("auto", "low", "high"):
            raise InvalidRequest("invalid_value", param=f"{path}.image_url.detail", detail="expected auto, low or high")
    elif kind == "input_audio":
        audio = expect_object(part.get("input_audio"), f"{path}.input_audio")
        _string(audio, "data", f"{path}.input_audio")
        _string(audio, "format", f"{path}.input_audio")
    elif kind == "file":
        file = expect_object(part.get("file"), f"{path}.file")
        for key in ("file_data", "file_id", "filename"):
            _string(file, key, f"{path}.file", required=False)
        if "file_data" not in file and "file_id" not in file:
            raise InvalidRequest("missing_field", param=f"{path}.file.file_data")


def _tool_call(call: Any, path: str) -> None:
    call = expect_object(call, path)
    _string(call, "id", path)
    kind = call.get("type", "function")
    if kind == "function":
        function = expect_object(call.get("function"), f"{path}.function")
        _string(function, "name", f"{path}.function")
        _string(function, "arguments", f"{path}.function")
    elif kind == "custom":
        custom = expect_object(call.get("custom"), f"{path}.custom")
        _string(custom, "name", f"{path}.custom")
        _string(custom, "input", f"{path}.custom")
    else:
        raise InvalidRequest("invalid_value", param=f"{path}.type", detail="expected 'function' or 'custom'")


def plainly_valid_tool(tool: Any) -> bool:
    """True for a chat function tool whose function `plainly_valid_function` passes. False is no verdict:
    `validate_tool` then checks it. Only ever narrower than `validate_tool` (tests/unit/
    test_openai_validation_fast.py holds the two together)."""
    return tool.__class__ is dict and tool.get("type") == "function" and plainly_valid_function(tool.get("function"))


def plainly_valid_function(spec: Any) -> bool:
    """True for a function's definition of the shape every client sends (a name, a string description, an object
    schema for its parameters, a boolean `strict`): a chat tool's `function`, a Responses function tool itself.
    Checked without the path strings and calls that the checks with paths make for the errors they might raise
    (~100 bytecodes a tool; a translated request carries a few, an agent's dozens)."""
    if spec.__class__ is not dict:
        return False
    name = spec.get("name")
    if name.__class__ is not str or TOOL_NAME.fullmatch(name) is None:
        return False
    description = spec.get("description")
    if description is not None and description.__class__ is not str:
        return False
    parameters = spec.get("parameters")
    if parameters is not None:
        if parameters.__class__ is not dict:
            return False
        kind = parameters.get("type")
        properties = parameters.get("properties")
        if (kind is not None and kind != "object") or (properties is not None and properties.__class__ is not dict):
            return False
    strict = spec.get("strict")
    return strict is None or strict.__class__ is bool


def validate_tool(tool: Any, path: str) -> None:
    """A chat tool object (function, custom, or a hosted tool by type), as the Chat Completions API
    defines it; the Ollama API's tools are the same objects."""
    tool = expect_object(tool, path)
    kind = tool.get("type")
    if not isinstance(kind, str) or not kind:
        raise InvalidRequest("wrong_type", param=f"{path}.type", expected="a string")
    if kind not in ("function", "custom"):
        return  # a hosted tool (`web_search`…): mapped to the provider's own or dropped (hosted_tools.py)
    where = f"{path}.{kind}"
    spec = expect_object(tool.get(kind), where)
    name = spec.get("name")
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        raise InvalidRequest("invalid_tool_name", param=f"{where}.name")
    _string(spec, "description", where, required=False)
    if kind == "function":
        parameters = spec.get("parameters")
        if parameters is not None:
            json_schema_object(parameters, f"{path}.function.parameters")
        strict = spec.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise InvalidRequest("wrong_type", param=f"{path}.function.strict", expected="a boolean")


def json_schema_object(schema: Any, path: str) -> None:
    schema = expect_object(schema, path)
    kind = schema.get("type")
    if kind is not None and kind != "object":
        raise InvalidRequest(
            "invalid_value", param=f"{path}.type", detail="a tool's parameters must be a JSON Schema of type 'object'"
        )
    properties = schema.get("properties")
    if properties is not None and not isinstance(properties, dict):
        raise InvalidRequest("wrong_type", param=f"{path}.properties", expected="an object")


def tool_choice_mode(choice: Any) -> bool:
    """True when `choice` needs no more checking: absent, or one of the three modes (chat and the
    Responses API share them); any other string is a 400."""
    if choice is None:
        return True
    if isinstance(choice, str):
        if choice not in TOOL_CHOICE_MODES:
            raise InvalidRequest(
                "invalid_value", param="tool_choice", detail="expected none, auto, required or an object"
            )
        return True
    return False


def _tool_choice(choice: Any) -> None:
    if tool_choice_mode(choice):
        return
    choice = expect_object(choice, "tool_choice")
    kind = choice.get("type")
    if kind in ("function", "custom"):
        spec = expect_object(choice.get(kind), f"tool_choice.{kind}")
        _string(spec, "name", f"tool_choice.{kind}")
    elif kind != "allowed_tools":
        raise InvalidRequest(
            "invalid_value", param="tool_choice.type", detail="expected function, custom or allowed_tools"
        )


def output_format(fmt: Any, path: str) -> tuple[dict[str, Any], Any]:
    """An output-format object (chat's `response_format`, Responses' `text.format`) and its type."""
    fmt = expect_object(fmt, path)
    kind = fmt.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise InvalidRequest("invalid_value", param=f"{path}.type", detail="expected text, json_object or json_schema")
    return fmt, kind


def _response_format(fmt: Any) -> None:
    if fmt is None:
        return
    fmt, kind = output_format(fmt, "response_format")
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if spec is None:
            raise InvalidRequest("missing_field", param="response_format.json_schema")
        json_schema_format(expect_object(spec, "response_format.json_schema"), "response_format.json_schema")


def json_schema_format(spec: dict[str, Any], path: str) -> None:
    """A json_schema output format's name and schema (chat nests them, the Responses API does not)."""
    name = spec.get("name")
    if name is None:
        raise InvalidRequest("missing_field", param=f"{path}.name")
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        raise InvalidRequest("invalid_tool_name", param=f"{path}.name")
    schema = spec.get("schema")
    if schema is None:
        raise InvalidRequest("missing_field", param=f"{path}.schema")
    expect_object(schema, f"{path}.schema")


def _stop(stop: Any) -> None:
    if stop is None or isinstance(stop, str):
        return
    if not isinstance(stop, list) or not all(isinstance(item, str) for item in stop):
        raise InvalidRequest("wrong_type", param="stop", expected="a string or an array of strings")


def _stream_options(options: Any) -> None:
    if options is None:
        return
    options = expect_object(options, "stream_options")
    include = options.get("include_usage")
    if include is not None and not isinstance(include, bool):
        raise InvalidRequest("wrong_type", param="stream_options.include_usage", expected="a boolean")


# --- the top-level fields, one rule each (`validate_chat_body` calls those the body has, not null) ---------

FieldCheck = Callable[[str, Any], None]


def _boolean(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidRequest("wrong_type", param=name, expected="a boolean")


def ranged(low: Bound, high: Bound, *, integer: bool) -> FieldCheck:
    """A field's check: a number from `low` to `high` (an integer where asked)."""

    def check(name: str, value: Any) -> None:
        expect_number(value, name, low, high, integer=integer)

    return check


def _seed(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest("wrong_type", param=name, expected="an integer")


def _tools(name: str, tools: Any) -> None:
    if not isinstance(tools, list):
        raise InvalidRequest("wrong_type", param=name, expected="an array")
    for index, tool in enumerate(tools):
        if not plainly_valid_tool(tool):  # the rest (or a fault): checked with the paths its error names
            validate_tool(tool, f"tools[{index}]")


def _text(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidRequest("wrong_type", param=name, expected="a string")


def _object(name: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise InvalidRequest("wrong_type", param=name, expected="an object")


_FIELD_CHECKS: Final[dict[str, FieldCheck]] = {
    **dict.fromkeys(BOOLEANS, _boolean),
    **{name: ranged(low, high, integer=False) for name, (low, high) in NUMBER_RANGES.items()},
    **{name: ranged(low, high, integer=True) for name, (low, high) in INTEGER_RANGES.items()},
    "seed": _seed,
    "stop": lambda _, value: _stop(value),
    "stream_options": lambda _, value: _stream_options(value),
    "tools": _tools,
    "tool_choice": lambda _, value: _tool_choice(value),
    "response_format": lambda _, value: _response_format(value),
    "user": _text,
    "reasoning_effort": _text,
    "metadata": _object,
}


# The body as /openapi.json publishes it: the tables above, so what is published is what is checked.
MESSAGE_SCHEMA: Final = obj(
    ("role",),
    properties={
        "role": enum(ROLES),
        "content": any_of(
            STRING,
            array(obj(("type",), properties={"type": enum(set().union(*PART_TYPES.values()))})),
            {"type": "null"},
        ),
        "name": STRING,
        "tool_calls": array(OBJECT),
        "tool_call_id": STRING,
    },
)
CHAT_BODY: Final = obj(
    ("model", "messages"),
    booleans=BOOLEANS,
    numbers=NUMBER_RANGES,
    integers=INTEGER_RANGES,
    strings=("user", "reasoning_effort"),
    properties={
        "model": MODEL,
        "messages": array(MESSAGE_SCHEMA, min_items=1),
        "seed": INTEGER,
        "stop": any_of(STRING, array(STRING), {"type": "null"}),
        "stream_options": OBJECT,
        "tools": array(obj(("type",), properties={"type": STRING})),
        "tool_choice": any_of(STRING, OBJECT),
        "response_format": obj(("type",), properties={"type": STRING}),
        "metadata": OBJECT,
    },
)
