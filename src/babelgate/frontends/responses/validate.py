"""Validation of a Responses create body before anything is translated (docs/decisions.md, "What the gateway checks").

It checks what the gateway reads to fold the request onto a chat request: `input` and its items,
tools, tool_choice, `text.format` and the types and ranges of the fields it maps. Errors name the
exact path (`input[2].content[0].image_url`). Built-in tools and features the gateway does not
translate are refused here by name, except on the native OpenAI road, which passes them on.
"""

from __future__ import annotations

from typing import Any, Final

from babelgate.errors import InvalidRequest
from babelgate.frontends.body_schema import MODEL, OBJECT, STRING, any_of, array, obj
from babelgate.frontends.openai_validation import (
    TOOL_NAME,
    Bound,
    FieldCheck,
    check_fields,
    expect_object,
    json_schema_format,
    json_schema_object,
    output_format,
    plainly_valid_function,
    ranged,
    require_model,
    tool_choice_mode,
)
from babelgate.frontends.responses.compaction import read_compaction
from babelgate.frontends.responses.mcp import validate_mcp_tool

JSON = dict[str, Any]

ROLES: Final = frozenset({"user", "assistant", "system", "developer"})
INPUT_PARTS: Final = frozenset({"input_text", "input_image", "input_file"})
# What each role may send, as far as the chat request it becomes allows (system prompts and tool
# results are text there).
TEXT_PARTS: Final = frozenset({"input_text"})
ROLE_PARTS: Final = {"user": INPUT_PARTS, "system": TEXT_PARTS, "developer": TEXT_PARTS}
IMAGE_DETAILS: Final = ("auto", "low", "high")
ASSISTANT_PARTS: Final = frozenset({"output_text", "refusal", "input_text"})
ITEM_TYPES: Final = frozenset(
    {
        "message",
        "function_call",
        "function_call_output",
        "reasoning",
        "compaction",
        # MCP items (mcp.py): what an earlier answer held, and the client's approvals.
        "mcp_list_tools",
        "mcp_call",
        "mcp_approval_request",
        "mcp_approval_response",
    }
)
NUMBERS: Final[dict[str, tuple[Bound, Bound]]] = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "presence_penalty": (-2, 2),
    "frequency_penalty": (-2, 2),
}
INTEGERS: Final[dict[str, tuple[int, int]]] = {
    "max_output_tokens": (1, 2**31 - 1),
    "top_logprobs": (0, 20),
    "max_tool_calls": (1, 2**31 - 1),
}
BOOLEANS: Final = ("stream", "store", "parallel_tool_calls", "background")
STRINGS: Final = (
    "instructions",
    "previous_response_id",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "service_tier",
    "truncation",
)
# Request fields that need server state the gateway does not have on a translated road: without it
# the answer would not be the one asked for. (`context_management` only trims what the model sees:
# it is dropped and reported, translate.py.)
UNSUPPORTED: Final = ("conversation", "prompt")


def validate_create_body(body: JSON, *, websocket: bool = False) -> None:
    """A create body (HTTP) or the body of a WebSocket `response.create` event."""
    require_model(body)
    check_fields(body, _FIELD_CHECKS)  # the top-level flags, texts and numbers
    if websocket:
        for name in ("stream", "stream_options", "background"):
            if name in body:
                raise InvalidRequest("invalid_value", param=name, detail="is not sent over WebSocket")
    metadata = body.get("metadata")
    if metadata is not None:
        metadata = expect_object(metadata, "metadata")
        for key, value in metadata.items():
            _string(value, f"metadata.{key}")
    reasoning = body.get("reasoning")
    if reasoning is not None:
        reasoning = expect_object(reasoning, "reasoning")
        _string(reasoning.get("effort"), "reasoning.effort")
    include = body.get("include")
    if include is not None and (not isinstance(include, list) or not all(isinstance(i, str) for i in include)):
        raise InvalidRequest("wrong_type", param="include", expected="an array of strings")
    text = body.get("text")
    if text is not None:
        _text_format(expect_object(text, "text").get("format"))
    validate_input(body.get("input"))


def validate_translatable(body: JSON) -> None:
    """What only the translated road refuses: the native OpenAI road passes these to OpenAI."""
    for name in UNSUPPORTED:
        if body.get(name) is not None:
            raise InvalidRequest("responses_unsupported", param=name, feature=name)
    if body.get("background") is True:
        raise InvalidRequest("responses_unsupported", param="background", feature="background mode")
    if body.get("top_logprobs"):
        raise InvalidRequest("responses_unsupported", param="top_logprobs", feature="top_logprobs")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise InvalidRequest("wrong_type", param="tools", expected="an array")
        for index, tool in enumerate(tools):
            # A function tool of the common shape passes without the paths; the rest (or a fault) is checked with them.
            if tool.__class__ is not dict or tool.get("type") != "function" or not plainly_valid_function(tool):
                _tool(tool, f"tools[{index}]")
    _tool_choice(body.get("tool_choice"))


def validate_input(value: Any) -> None:
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, list):
        raise InvalidRequest("wrong_type", param="input", expected="a string or an array of items")
    for index, item in enumerate(value):
        if not plainly_valid_item(item):  # the rest (or a fault): checked with the paths its error names
            validate_item(item, f"input[{index}]")


_TEXT_PART_TYPES: Final = frozenset({"input_text", "output_text"})


def plainly_valid_item(item: Any) -> bool:
    """True for an item of the common shapes that `validate_item` accepts: a message of text (a string, or
    text parts its role may send), a function call and its output as strings, a reasoning item. Codex CLI
    sends conversations of hundreds of these: checked without the path strings an error would need. False is
    no verdict: `validate_item` then checks it, with paths. Only ever narrower than `validate_item`
    (tests/unit/test_responses_validation_fast.py holds the two together)."""
    if item.__class__ is not dict:
        return False
    kind = item.get("type", "message" if "role" in item else None)
    if kind == "message":
        role = item.get("role")
        if role.__class__ is not str or role not in ROLES:
            return False
        content = item.get("content")
        if content.__class__ is str:
            return True
        if content.__class__ is not list:
            return False
        allowed = ASSISTANT_PARTS if role == "assistant" else ROLE_PARTS[role]
        for part in content:
            if part.__class__ is not dict:
                return False
            part_kind = part.get("type")
            if (
                part_kind.__class__ is not str
                or part_kind not in _TEXT_PART_TYPES
                or part_kind not in allowed
                or part.get("text").__class__ is not str
            ):
                return False
        return True
    if kind == "function_call":
        namespace = item.get("namespace")
        return (
            item.get("call_id").__class__ is str
            and item.get("name").__class__ is str
            and item.get("arguments").__class__ is str
            and (namespace is None or namespace.__class__ is str)
        )
    if kind == "function_call_output":
        return item.get("call_id").__class__ is str and item.get("output").__class__ is str
    if kind == "reasoning":
        encrypted = item.get("encrypted_content")
        return encrypted is None or encrypted.__class__ is str
    return False


def validate_item(item: Any, path: str) -> None:
    item = expect_object(item, path)
    kind = item.get("type", "message" if "role" in item else None)
    if kind == "item_reference":
        raise InvalidRequest("responses_unsupported", param=f"{path}.type", feature="item_reference")
    if not isinstance(kind, str) or kind not in ITEM_TYPES:
        raise InvalidRequest("invalid_value", param=f"{path}.type", detail=_one_of(ITEM_TYPES))
    if kind == "message":
        _message(item, path)
    elif kind == "function_call":
        for name in ("call_id", "name", "arguments"):
            _required_string(item, name, path)
        _string(item.get("namespace"), f"{path}.namespace")
    elif kind == "reasoning":
        _string(item.get("encrypted_content"), f"{path}.encrypted_content")
    elif kind == "function_call_output":
        _required_string(item, "call_id", path)
        output = item.get("output")
        if isinstance(output, list):
            for index, part in enumerate(output):
                _part(part, f"{path}.output[{index}]", TEXT_PARTS)
        elif not isinstance(output, str):
            raise InvalidRequest("wrong_type", param=f"{path}.output", expected="a string or an array of parts")
    elif kind == "mcp_approval_response":
        _required_string(item, "approval_request_id", path)
        if not isinstance(item.get("approve"), bool):
            raise InvalidRequest("wrong_type", param=f"{path}.approve", expected="a boolean")
    elif kind in ("mcp_call", "mcp_approval_request"):
        for name in ("server_label", "name", "arguments"):
            _required_string(item, name, path)
    elif kind == "mcp_list_tools":
        _required_string(item, "server_label", path)
    elif kind == "compaction":
        _required_string(item, "encrypted_content", path)
        read_compaction(item["encrypted_content"], param=f"{path}.encrypted_content")


def _message(item: JSON, path: str) -> None:
    role = item.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise InvalidRequest("invalid_value", param=f"{path}.role", detail=_one_of(ROLES))
    content = item.get("content")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise InvalidRequest("wrong_type", param=f"{path}.content", expected="a string or an array of parts")
    allowed = ASSISTANT_PARTS if role == "assistant" else ROLE_PARTS[role]
    for index, part in enumerate(content):
        _part(part, f"{path}.content[{index}]", allowed)


def _part(part: Any, path: str, allowed: frozenset[str]) -> None:
    part = expect_object(part, path)
    kind = part.get("type")
    if not isinstance(kind, str) or kind not in allowed:
        raise InvalidRequest("invalid_value", param=f"{path}.type", detail=_one_of(allowed))
    if kind in ("input_text", "output_text"):
        _required_string(part, "text", path)
    elif kind == "refusal":
        _required_string(part, "refusal", path)
    elif kind == "input_image":
        if part.get("image_url") is None:
            if part.get("file_id") is not None:
                raise InvalidRequest("responses_unsupported", param=f"{path}.file_id", feature="file ids")
            raise InvalidRequest("missing_field", param=f"{path}.image_url")
        url = part.get("image_url")
        _string(url, f"{path}.image_url")
        if not url.startswith(("http://", "https://", "data:")):
            raise InvalidRequest(
                "invalid_value", param=f"{path}.image_url", detail="expected an http(s) URL or a data: URI"
            )
        detail = part.get("detail")
        if detail is not None and detail not in IMAGE_DETAILS:
            raise InvalidRequest("invalid_value", param=f"{path}.detail", detail="expected auto, low or high")
    elif kind == "input_file":
        if part.get("file_url") is not None:
            raise InvalidRequest("responses_unsupported", param=f"{path}.file_url", feature="file URLs")
        if part.get("file_data") is None and part.get("file_id") is None:
            raise InvalidRequest("missing_field", param=f"{path}.file_data")
        for name in ("file_data", "file_id", "filename"):
            _string(part.get(name), f"{path}.{name}")


def _tool(tool: Any, path: str) -> None:
    """Function tools and namespaces of them are checked; any other type is a hosted tool, which the
    one call path maps to the provider's own or drops (tools.py)."""
    tool = expect_object(tool, path)
    kind = tool.get("type")
    if not isinstance(kind, str) or not kind:
        raise InvalidRequest("wrong_type", param=f"{path}.type", expected="a string")
    if kind == "function":
        _function_tool(tool, path)
    elif kind == "mcp":
        validate_mcp_tool(tool, path)
    elif kind == "namespace":
        name = tool.get("name")
        if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
            raise InvalidRequest("invalid_tool_name", param=f"{path}.name")
        _string(tool.get("description"), f"{path}.description")
        inner = tool.get("tools")
        if not isinstance(inner, list) or not inner:
            raise InvalidRequest("wrong_type", param=f"{path}.tools", expected="a non-empty array of function tools")
        for index, function in enumerate(inner):
            where = f"{path}.tools[{index}]"
            if expect_object(function, where).get("type") != "function":
                raise InvalidRequest("invalid_value", param=f"{where}.type", detail="expected function")
            _function_tool(function, where)


def _function_tool(tool: JSON, path: str) -> None:
    name = tool.get("name")
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        raise InvalidRequest("invalid_tool_name", param=f"{path}.name")
    _string(tool.get("description"), f"{path}.description")
    _boolean(tool.get("strict"), f"{path}.strict")
    parameters = tool.get("parameters")
    if parameters is not None:
        json_schema_object(parameters, f"{path}.parameters")


def _tool_choice(choice: Any) -> None:
    if tool_choice_mode(choice):
        return
    choice = expect_object(choice, "tool_choice")
    kind = choice.get("type")
    if kind == "function":
        _required_string(choice, "name", "tool_choice")
    elif kind == "allowed_tools":
        tools = choice.get("tools")
        if not isinstance(tools, list):
            raise InvalidRequest("wrong_type", param="tool_choice.tools", expected="an array")
        for index, tool in enumerate(tools):
            _required_string(expect_object(tool, f"tool_choice.tools[{index}]"), "name", f"tool_choice.tools[{index}]")
    else:
        raise InvalidRequest("responses_builtin_tool", param="tool_choice.type", tool=str(kind))


def _text_format(fmt: Any) -> None:
    if fmt is None:
        return
    fmt, kind = output_format(fmt, "text.format")
    if kind == "json_schema":
        json_schema_format(fmt, "text.format")
        _boolean(fmt.get("strict"), "text.format.strict")


def _string(value: Any, path: str) -> None:
    if value is not None and not isinstance(value, str):
        raise InvalidRequest("wrong_type", param=path, expected="a string")


def _required_string(container: JSON, key: str, path: str) -> None:
    if container.get(key) is None:
        raise InvalidRequest("missing_field", param=f"{path}.{key}")
    _string(container[key], f"{path}.{key}")


def _boolean(value: Any, path: str) -> None:
    if value is not None and not isinstance(value, bool):
        raise InvalidRequest("wrong_type", param=path, expected="a boolean")


def _flag(name: str, value: Any) -> None:
    _boolean(value, name)


def _text(name: str, value: Any) -> None:
    _string(value, name)


_FIELD_CHECKS: Final[dict[str, FieldCheck]] = {
    **dict.fromkeys(BOOLEANS, _flag),
    **dict.fromkeys(STRINGS, _text),
    **{name: ranged(low, high, integer=False) for name, (low, high) in NUMBERS.items()},
    **{name: ranged(low, high, integer=True) for name, (low, high) in INTEGERS.items()},
}


def _one_of(names: frozenset[str]) -> str:
    return f"expected one of {', '.join(sorted(names))}"


COMPACT_BODY: Final = obj(("model",), properties={"model": MODEL, "input": any_of(STRING, array(OBJECT))})
CREATE_BODY: Final = obj(
    ("model",),
    booleans=BOOLEANS,
    strings=STRINGS,
    numbers=NUMBERS,
    integers=INTEGERS,
    properties={
        "model": MODEL,
        "metadata": {"type": "object", "additionalProperties": STRING},
        "input": any_of(STRING, array(OBJECT)),
        "include": array(STRING),
        "reasoning": OBJECT,
        "text": OBJECT,
        "tools": array(obj(("type",), properties={"type": STRING})),
        "tool_choice": any_of(STRING, OBJECT),
    },
)
