"""Checks of Ollama request bodies, on the parsed JSON, naming Ollama's own paths (`messages[1].images[0]`,
`options.num_predict`).

What the gateway reads to route and translate is checked here (docs/decisions.md, "What the gateway checks"); the chat
body it translates into then passes the chat road's own validation, whose paths match Ollama's for messages
and tools because one Ollama message becomes exactly one chat message.
"""

from __future__ import annotations

from typing import Any, Final

from babelgate.errors import InvalidRequest
from babelgate.frontends.body_schema import BOOLEAN, INTEGER, MODEL, OBJECT, STRING, any_of, array, enum, number, obj
from babelgate.frontends.ollama.wire import ROLES
from babelgate.frontends.openai_validation import NUMBER_RANGES, expect_number, expect_object, require_model

_BOOLEANS: Final = ("stream", "raw", "logprobs", "truncate")
_STRINGS: Final = ("prompt", "suffix", "system", "template")
# Options read as numbers: OpenAI's ranges where the chat field has one, else any number.
_NUMBER_OPTIONS: Final = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "min_p", "repeat_penalty")
_INTEGER_OPTIONS: Final = ("seed", "top_k", "num_predict")
_MESSAGE_STRINGS: Final = ("content", "thinking", "tool_name", "tool_call_id")


def validate_chat(body: dict[str, Any]) -> None:
    _common(body)
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise InvalidRequest("wrong_type", param="tools", expected="an array")
    messages = body.get("messages")
    if messages is None:
        return
    if not isinstance(messages, list):
        raise InvalidRequest("wrong_type", param="messages", expected="an array")
    for index, message in enumerate(messages):
        _message(message, f"messages[{index}]")


def validate_generate(body: dict[str, Any]) -> None:
    _common(body)
    for name in _STRINGS:
        _optional(body.get(name), name, str, "a string")
    _images(body.get("images"), "images")
    context = body.get("context")
    if context is not None and (not isinstance(context, list) or not all(_is_int(t) for t in context)):
        raise InvalidRequest("wrong_type", param="context", expected="an array of integers")


def validate_embed(body: dict[str, Any], *, legacy: bool) -> None:
    require_model(body)
    _options(body.get("options"))
    if legacy:
        _optional(body.get("prompt"), "prompt", str, "a string")
        return
    value = body.get("input")
    if value is None:
        raise InvalidRequest("missing_field", param="input")
    if not isinstance(value, str) and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise InvalidRequest("wrong_type", param="input", expected="a string or an array of strings")
    _optional(body.get("truncate"), "truncate", bool, "a boolean")
    dimensions = body.get("dimensions")
    if dimensions is not None:
        expect_number(dimensions, "dimensions", 1, 2**16, integer=True)


def validate_show(body: dict[str, Any]) -> str:
    """The model to show; older clients name it `name`."""
    if body.get("model") is None and body.get("name") is not None:
        body = {**body, "model": body["name"]}
    return require_model(body)


def _common(body: dict[str, Any]) -> None:
    require_model(body)
    for name in _BOOLEANS:
        _optional(body.get(name), name, bool, "a boolean")
    think = body.get("think")
    if think is not None and not isinstance(think, bool | str):
        raise InvalidRequest("wrong_type", param="think", expected="a boolean or one of low, medium, high, max")
    fmt = body.get("format")
    if fmt is not None and fmt not in ("", "json") and not isinstance(fmt, dict):
        raise InvalidRequest("invalid_value", param="format", detail='expected "json" or a JSON schema object')
    top_logprobs = body.get("top_logprobs")
    if top_logprobs is not None:
        expect_number(top_logprobs, "top_logprobs", 0, 20, integer=True)
    _options(body.get("options"))


def _options(options: Any) -> None:
    if options is None:
        return
    expect_object(options, "options")
    for name in _NUMBER_OPTIONS:
        value = options.get(name)
        if value is not None:
            low, high = NUMBER_RANGES.get(name, (float("-inf"), float("inf")))
            expect_number(value, f"options.{name}", low, high, integer=False)
    for name in _INTEGER_OPTIONS:
        value = options.get(name)
        if value is not None and not _is_int(value):
            raise InvalidRequest("wrong_type", param=f"options.{name}", expected="an integer")
    top_k = options.get("top_k")
    if top_k is not None and top_k < 0:
        raise InvalidRequest("out_of_range", param="options.top_k", expected="a value of 0 or more")
    num_predict = options.get("num_predict")
    if num_predict == 0 or (num_predict is not None and num_predict < -2):
        # Ollama reads -1 as "no limit" and -2 as "until the context is full"; 0 would generate nothing.
        raise InvalidRequest("out_of_range", param="options.num_predict", expected="-1, -2 or a positive integer")
    stop = options.get("stop")
    if (
        stop is not None
        and not isinstance(stop, str)
        and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
    ):
        raise InvalidRequest("wrong_type", param="options.stop", expected="a string or an array of strings")


def _message(message: Any, path: str) -> None:
    expect_object(message, path)
    role = message.get("role")
    if role is None:
        raise InvalidRequest("missing_field", param=f"{path}.role")
    if not isinstance(role, str) or role not in ROLES:  # a list or an object is not hashable, let alone a role
        raise InvalidRequest("invalid_value", param=f"{path}.role", detail="expected system, user, assistant or tool")
    for name in _MESSAGE_STRINGS:
        _optional(message.get(name), f"{path}.{name}", str, "a string")
    _images(message.get("images"), f"{path}.images")
    calls = message.get("tool_calls")
    if calls is None:
        return
    if not isinstance(calls, list):
        raise InvalidRequest("wrong_type", param=f"{path}.tool_calls", expected="an array")
    for index, call in enumerate(calls):
        where = f"{path}.tool_calls[{index}]"
        call = expect_object(call, where)
        _optional(call.get("id"), f"{where}.id", str, "a string")
        function = expect_object(call.get("function"), f"{where}.function")
        function_name = function.get("name")
        if not isinstance(function_name, str) or not function_name:
            raise InvalidRequest("wrong_type", param=f"{where}.function.name", expected="a non-empty string")
        # Ollama's arguments are an object; a JSON string (the OpenAI habit) is accepted too.
        _optional(function.get("arguments"), f"{where}.function.arguments", dict | str, "a JSON object")


def _images(images: Any, path: str) -> None:
    if images is None:
        return
    if not isinstance(images, list):
        raise InvalidRequest("wrong_type", param=path, expected="an array of base64 strings")
    for index, image in enumerate(images):
        if not isinstance(image, str):
            raise InvalidRequest("wrong_type", param=f"{path}[{index}]", expected="a base64 string")


def _optional(value: Any, path: str, kind: Any, expected: str) -> None:
    if value is not None and (not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))):
        raise InvalidRequest("wrong_type", param=path, expected=expected)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# The bodies as /openapi.json publishes them, from the tables above.
OPTIONS_SCHEMA: Final = obj(
    properties={
        **{
            name: number(*NUMBER_RANGES[name]) if name in NUMBER_RANGES else {"type": "number"}
            for name in _NUMBER_OPTIONS
        },
        **{name: INTEGER for name in _INTEGER_OPTIONS},
    }
)
_COMMON: Final = {
    "model": MODEL,
    "options": OPTIONS_SCHEMA,
    "think": any_of(BOOLEAN, STRING),
    "format": any_of(enum(("", "json")), OBJECT),
    "top_logprobs": number(0, 20, integer=True),
}
CHAT_BODY: Final = obj(
    ("model",),
    booleans=_BOOLEANS,
    properties={
        **_COMMON,
        "tools": array(OBJECT),
        "messages": array(
            obj(("role",), strings=_MESSAGE_STRINGS, properties={"role": enum(ROLES), "images": array(STRING)})
        ),
    },
)
GENERATE_BODY: Final = obj(
    ("model",),
    booleans=_BOOLEANS,
    strings=_STRINGS,
    properties={**_COMMON, "images": array(STRING), "context": array(INTEGER)},
)
EMBED_BODY: Final = obj(
    ("model", "input"),
    properties={
        "model": MODEL,
        "options": OPTIONS_SCHEMA,
        "input": any_of(STRING, array(STRING)),
        "truncate": BOOLEAN,
        "dimensions": number(1, 2**16, integer=True),
    },
)
EMBEDDINGS_BODY: Final = obj(("model",), strings=("prompt",), properties={"model": MODEL, "options": OPTIONS_SCHEMA})
SHOW_BODY: Final = obj(("model",), properties={"model": MODEL})
