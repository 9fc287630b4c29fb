"""Validation of Chat Completions bodies (frontends/openai_validation.py): every check and its `param` path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from babelgate.errors import InvalidRequest
from babelgate.frontends.openai_validation import validate_chat_body

Body = dict[str, Any]


def base() -> Body:
    return {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/cat.png"}}]},
        ],
    }


def raises(body: Body) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        validate_chat_body(body)
    return caught.value


def with_field(**fields: Any) -> Body:
    return {**base(), **fields}


def with_message(message: Any, index: int = 2) -> Body:
    body = base()
    body["messages"][index] = message
    return body


def with_part(part: Any, role: str = "user") -> Body:
    return with_message({"role": role, "content": [{"type": "text", "text": "look"}, part]})


TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "d",
        "parameters": {"type": "object", "properties": {}},
        "strict": True,
    },
}


def with_tool(tool: Any) -> Body:
    return with_field(tools=[TOOL, tool])


def without(path: tuple[Any, ...]) -> Callable[[Body], Body]:
    def edit(body: Body) -> Body:
        body = copy.deepcopy(body)
        target = body
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return body

    return edit


# (id, body, message key, param)
INVALID: list[tuple[str, Body, str, str]] = [
    ("model missing", without(("model",))(base()), "missing_field", "model"),
    ("model null", with_field(model=None), "missing_field", "model"),
    ("model empty", with_field(model=""), "wrong_type", "model"),
    ("model not a string", with_field(model=4), "wrong_type", "model"),
    ("messages missing", without(("messages",))(base()), "missing_field", "messages"),
    ("messages empty", with_field(messages=[]), "empty_messages", "messages"),
    ("messages an object", with_field(messages={"role": "user"}), "empty_messages", "messages"),
    ("message not an object", with_message("hi"), "wrong_type", "messages[2]"),
    ("role missing", with_message({"content": "x"}), "missing_field", "messages[2].role"),
    ("role unknown", with_message({"role": "bot", "content": "x"}), "invalid_value", "messages[2].role"),
    ("user content missing", with_message({"role": "user"}), "missing_field", "messages[2].content"),
    (
        "tool content null",
        with_message({"role": "tool", "content": None, "tool_call_id": "c"}),
        "missing_field",
        "messages[2].content",
    ),
    ("content a number", with_message({"role": "user", "content": 3}), "wrong_type", "messages[2].content"),
    (
        "content an object",
        with_message({"role": "user", "content": {"type": "text"}}),
        "wrong_type",
        "messages[2].content",
    ),
    ("name not a string", with_message({"role": "user", "content": "x", "name": 1}), "wrong_type", "messages[2].name"),
    (
        "tool message without tool_call_id",
        with_message({"role": "tool", "content": "x"}),
        "missing_field",
        "messages[2].tool_call_id",
    ),
    (
        "tool_call_id not a string",
        with_message({"role": "tool", "content": "x", "tool_call_id": 5}),
        "wrong_type",
        "messages[2].tool_call_id",
    ),
    ("part not an object", with_part("text"), "wrong_type", "messages[2].content[1]"),
    ("part type missing", with_part({"text": "x"}), "missing_field", "messages[2].content[1].type"),
    ("part type unknown", with_part({"type": "video", "video": {}}), "invalid_value", "messages[2].content[1].type"),
    (
        "image in a system message",
        with_part({"type": "image_url", "image_url": {"url": "https://x"}}, "system"),
        "invalid_value",
        "messages[2].content[1].type",
    ),
    (
        "image in an assistant message",
        with_part({"type": "image_url", "image_url": {"url": "https://x"}}, "assistant"),
        "invalid_value",
        "messages[2].content[1].type",
    ),
    (
        "refusal in a user message",
        with_part({"type": "refusal", "refusal": "no"}),
        "invalid_value",
        "messages[2].content[1].type",
    ),
    ("text part without text", with_part({"type": "text"}), "missing_field", "messages[2].content[1].text"),
    ("text part text a number", with_part({"type": "text", "text": 1}), "wrong_type", "messages[2].content[1].text"),
    (
        "refusal part without refusal",
        with_part({"type": "refusal"}, "assistant"),
        "missing_field",
        "messages[2].content[1].refusal",
    ),
    ("image_url missing", with_part({"type": "image_url"}), "missing_field", "messages[2].content[1].image_url"),
    (
        "image_url a string",
        with_part({"type": "image_url", "image_url": "https://x"}),
        "wrong_type",
        "messages[2].content[1].image_url",
    ),
    (
        "image url missing",
        with_part({"type": "image_url", "image_url": {"detail": "low"}}),
        "missing_field",
        "messages[2].content[1].image_url.url",
    ),
    (
        "image url a number",
        with_part({"type": "image_url", "image_url": {"url": 1}}),
        "wrong_type",
        "messages[2].content[1].image_url.url",
    ),
    (
        "image url a file path",
        with_part({"type": "image_url", "image_url": {"url": "/etc/passwd"}}),
        "invalid_value",
        "messages[2].content[1].image_url.url",
    ),
    (
        "image url ftp",
        with_part({"type": "image_url", "image_url": {"url": "ftp://x/a.png"}}),
        "invalid_value",
        "messages[2].content[1].image_url.url",
    ),
    (
        "image detail unknown",
        with_part({"type": "image_url", "image_url": {"url": "https://x", "detail": "max"}}),
        "invalid_value",
        "messages[2].content[1].image_url.detail",
    ),
    ("input_audio missing", with_part({"type": "input_audio"}), "wrong_type", "messages[2].content[1].input_audio"),
    (
        "input_audio data missing",
        with_part({"type": "input_audio", "input_audio": {"format": "wav"}}),
        "missing_field",
        "messages[2].content[1].input_audio.data",
    ),
    (
        "input_audio format missing",
        with_part({"type": "input_audio", "input_audio": {"data": "AA=="}}),
        "missing_field",
        "messages[2].content[1].input_audio.format",
    ),
    ("file missing", with_part({"type": "file"}), "wrong_type", "messages[2].content[1].file"),
    (
        "file without data or id",
        with_part({"type": "file", "file": {"filename": "a.pdf"}}),
        "missing_field",
        "messages[2].content[1].file.file_data",
    ),
    (
        "file_id a number",
        with_part({"type": "file", "file": {"file_id": 3}}),
        "wrong_type",
        "messages[2].content[1].file.file_id",
    ),
    (
        "tool_calls on a user message",
        with_message({"role": "user", "content": "x", "tool_calls": []}),
        "invalid_value",
        "messages[2].tool_calls",
    ),
    (
        "tool_calls an object",
        with_message({"role": "assistant", "content": None, "tool_calls": {}}),
        "wrong_type",
        "messages[2].tool_calls",
    ),
    (
        "tool call without id",
        with_message(
            {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]}
        ),
        "missing_field",
        "messages[2].tool_calls[0].id",
    ),
    (
        "tool call without function",
        with_message({"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}),
        "wrong_type",
        "messages[2].tool_calls[0].function",
    ),
    (
        "tool call arguments an object",
        with_message(
            {
                "role": "assistant",
                "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}],
            }
        ),
        "wrong_type",
        "messages[2].tool_calls[0].function.arguments",
    ),
    (
        "tool call without name",
        with_message({"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}),
        "missing_field",
        "messages[2].tool_calls[0].function.name",
    ),
    (
        "custom tool call without input",
        with_message({"role": "assistant", "tool_calls": [{"id": "c", "type": "custom", "custom": {"name": "g"}}]}),
        "missing_field",
        "messages[2].tool_calls[0].custom.input",
    ),
    (
        "tool call type unknown",
        with_message({"role": "assistant", "tool_calls": [{"id": "c", "type": "mcp", "mcp": {}}]}),
        "invalid_value",
        "messages[2].tool_calls[0].type",
    ),
    ("stream a string", with_field(stream="yes"), "wrong_type", "stream"),
    ("stream a number", with_field(stream=1), "wrong_type", "stream"),
    ("logprobs a string", with_field(logprobs="true"), "wrong_type", "logprobs"),
    ("parallel_tool_calls a number", with_field(parallel_tool_calls=0), "wrong_type", "parallel_tool_calls"),
    ("store a string", with_field(store="no"), "wrong_type", "store"),
    ("temperature too high", with_field(temperature=2.01), "out_of_range", "temperature"),
    ("temperature negative", with_field(temperature=-0.1), "out_of_range", "temperature"),
    ("temperature a string", with_field(temperature="0.5"), "wrong_type", "temperature"),
    ("temperature a boolean", with_field(temperature=True), "wrong_type", "temperature"),
    ("top_p above 1", with_field(top_p=1.5), "out_of_range", "top_p"),
    ("presence_penalty below -2", with_field(presence_penalty=-3), "out_of_range", "presence_penalty"),
    ("frequency_penalty above 2", with_field(frequency_penalty=2.5), "out_of_range", "frequency_penalty"),
    ("n zero", with_field(n=0), "out_of_range", "n"),
    ("n above 128", with_field(n=129), "out_of_range", "n"),
    ("n a float", with_field(n=1.0), "wrong_type", "n"),
    ("max_tokens zero", with_field(max_tokens=0), "out_of_range", "max_tokens"),
    ("max_tokens negative", with_field(max_tokens=-1), "out_of_range", "max_tokens"),
    ("max_tokens a string", with_field(max_tokens="100"), "wrong_type", "max_tokens"),
    ("max_completion_tokens too big", with_field(max_completion_tokens=2**31), "out_of_range", "max_completion_tokens"),
    ("top_logprobs 21", with_field(top_logprobs=21), "out_of_range", "top_logprobs"),
    ("seed a float", with_field(seed=1.5), "wrong_type", "seed"),
    ("seed a boolean", with_field(seed=False), "wrong_type", "seed"),
    ("stop a number", with_field(stop=5), "wrong_type", "stop"),
    ("stop with a number", with_field(stop=["a", 1]), "wrong_type", "stop"),
    ("stream_options a list", with_field(stream_options=[]), "wrong_type", "stream_options"),
    (
        "include_usage a string",
        with_field(stream=True, stream_options={"include_usage": "yes"}),
        "wrong_type",
        "stream_options.include_usage",
    ),
    ("tools an object", with_field(tools={"type": "function"}), "wrong_type", "tools"),
    ("tool not an object", with_tool("get_weather"), "wrong_type", "tools[1]"),
    ("tool type missing", with_tool({"function": {"name": "f"}}), "wrong_type", "tools[1].type"),
    ("tool type not a string", with_tool({"type": ["function"]}), "wrong_type", "tools[1].type"),
    ("tool function missing", with_tool({"type": "function"}), "wrong_type", "tools[1].function"),
    (
        "tool name missing",
        with_tool({"type": "function", "function": {}}),
        "invalid_tool_name",
        "tools[1].function.name",
    ),
    (
        "tool name with a space",
        with_tool({"type": "function", "function": {"name": "get weather"}}),
        "invalid_tool_name",
        "tools[1].function.name",
    ),
    (
        "tool name with a dot",
        with_tool({"type": "function", "function": {"name": "a.b"}}),
        "invalid_tool_name",
        "tools[1].function.name",
    ),
    (
        "tool name too long",
        with_tool({"type": "function", "function": {"name": "x" * 65}}),
        "invalid_tool_name",
        "tools[1].function.name",
    ),
    (
        "custom tool name empty",
        with_tool({"type": "custom", "custom": {"name": ""}}),
        "invalid_tool_name",
        "tools[1].custom.name",
    ),
    (
        "tool description a number",
        with_tool({"type": "function", "function": {"name": "f", "description": 1}}),
        "wrong_type",
        "tools[1].function.description",
    ),
    (
        "tool parameters not an object schema",
        with_tool({"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}),
        "invalid_value",
        "tools[1].function.parameters.type",
    ),
    (
        "tool parameters a list",
        with_tool({"type": "function", "function": {"name": "f", "parameters": []}}),
        "wrong_type",
        "tools[1].function.parameters",
    ),
    (
        "tool properties a list",
        with_tool({"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": []}}}),
        "wrong_type",
        "tools[1].function.parameters.properties",
    ),
    (
        "tool strict a string",
        with_tool({"type": "function", "function": {"name": "f", "strict": "true"}}),
        "wrong_type",
        "tools[1].function.strict",
    ),
    ("tool_choice unknown string", with_field(tool_choice="always"), "invalid_value", "tool_choice"),
    ("tool_choice a number", with_field(tool_choice=1), "wrong_type", "tool_choice"),
    (
        "tool_choice type unknown",
        with_field(tool_choice={"type": "tool", "name": "f"}),
        "invalid_value",
        "tool_choice.type",
    ),
    (
        "tool_choice function missing",
        with_field(tool_choice={"type": "function"}),
        "wrong_type",
        "tool_choice.function",
    ),
    (
        "tool_choice function name missing",
        with_field(tool_choice={"type": "function", "function": {}}),
        "missing_field",
        "tool_choice.function.name",
    ),
    ("response_format a string", with_field(response_format="json"), "wrong_type", "response_format"),
    (
        "response_format type unknown",
        with_field(response_format={"type": "xml"}),
        "invalid_value",
        "response_format.type",
    ),
    (
        "json_schema missing",
        with_field(response_format={"type": "json_schema"}),
        "missing_field",
        "response_format.json_schema",
    ),
    (
        "json_schema a list",
        with_field(response_format={"type": "json_schema", "json_schema": []}),
        "wrong_type",
        "response_format.json_schema",
    ),
    (
        "json_schema name missing",
        with_field(response_format={"type": "json_schema", "json_schema": {"schema": {}}}),
        "missing_field",
        "response_format.json_schema.name",
    ),
    (
        "json_schema name invalid",
        with_field(response_format={"type": "json_schema", "json_schema": {"name": "my schema", "schema": {}}}),
        "invalid_tool_name",
        "response_format.json_schema.name",
    ),
    (
        "json_schema schema missing",
        with_field(response_format={"type": "json_schema", "json_schema": {"name": "s"}}),
        "missing_field",
        "response_format.json_schema.schema",
    ),
    (
        "json_schema schema a string",
        with_field(response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": "{}"}}),
        "wrong_type",
        "response_format.json_schema.schema",
    ),
    ("user a number", with_field(user=42), "wrong_type", "user"),
    ("reasoning_effort a number", with_field(reasoning_effort=1), "wrong_type", "reasoning_effort"),
    ("metadata a list", with_field(metadata=["a"]), "wrong_type", "metadata"),
]


@pytest.mark.parametrize(("body", "key", "param"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_invalid_body_names_the_exact_param(body: Body, key: str, param: str) -> None:
    error = raises(body)
    assert (error.message_key, error.param) == (key, param)
    assert (error.status, error.type) == (400, "invalid_request_error")


def test_wrong_type_says_what_was_expected() -> None:
    assert raises(with_field(stream="yes")).params == {"expected": "a boolean"}
    assert raises(with_field(n="2")).params == {"expected": "an integer"}
    assert raises(with_field(top_p="1")).params == {"expected": "a number"}


def test_out_of_range_says_the_range() -> None:
    assert raises(with_field(temperature=3)).params == {"expected": "a value from 0 to 2"}
    assert raises(with_field(max_tokens=0)).params == {"expected": "a value from 1 to 2147483647"}


def test_unknown_role_is_named_in_the_detail() -> None:
    assert raises(with_message({"role": "bot", "content": "x"})).params == {
        "detail": "'bot' is not one of assistant, developer, function, system, tool, user"
    }


def test_the_first_problem_is_reported() -> None:
    body = with_field(stream="yes", temperature=9)
    body["messages"][0] = {"role": "nobody"}
    assert raises(body).param == "messages[0].role"


VALID: list[tuple[str, Body]] = [
    ("minimal", {"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
    (
        "everything typed",
        with_field(
            stream=True,
            stream_options={"include_usage": True},
            logprobs=True,
            top_logprobs=20,
            parallel_tool_calls=False,
            store=False,
            temperature=0,
            top_p=1,
            presence_penalty=-2,
            frequency_penalty=2,
            n=128,
            max_tokens=1,
            max_completion_tokens=2**31 - 1,
            seed=-5,
            stop="END",
            user="u",
            reasoning_effort="high",
            metadata={"a": "b"},
        ),
    ),
    ("numbers at the top of their ranges", with_field(temperature=2, top_p=0, presence_penalty=2, n=1, top_logprobs=0)),
    (
        "null optional fields",
        with_field(
            stream=None,
            temperature=None,
            tools=None,
            tool_choice=None,
            response_format=None,
            stop=None,
            seed=None,
            metadata=None,
        ),
    ),
    ("stop list", with_field(stop=["a", "b"])),
    (
        "tools and named tool_choice",
        with_field(
            tools=[
                TOOL,
                {"type": "custom", "custom": {"name": "sql-1", "description": "SQL"}},
                {"type": "function", "function": {"name": "A" * 64}},
            ],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        ),
    ),
    ("custom tool_choice", with_field(tool_choice={"type": "custom", "custom": {"name": "sql"}})),
    (
        "allowed_tools tool_choice",
        with_field(tool_choice={"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}),
    ),
    ("string tool_choice", with_field(tool_choice="required")),
    ("tool parameters without type", with_tool({"type": "function", "function": {"name": "f", "parameters": {}}})),
    (
        "images",
        with_message(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "compare"},
                    {"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "high"}},
                    {"type": "image_url", "image_url": {"url": "http://x/b.png", "detail": "auto"}},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
                ],
            }
        ),
    ),
    (
        "audio and files",
        with_message(
            {
                "role": "user",
                "content": [
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                    {
                        "type": "file",
                        "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"},
                    },
                    {"type": "file", "file": {"file_id": "file-1"}},
                ],
            }
        ),
    ),
    ("json_object", with_field(response_format={"type": "json_object"})),
    ("text format", with_field(response_format={"type": "text"})),
    (
        "json_schema",
        with_field(
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": "answer_v2",
                    "strict": True,
                    "schema": {
                        "type": "object",
                        "properties": {"a": {"type": "string"}},
                        "required": ["a"],
                        "additionalProperties": False,
                    },
                },
            }
        ),
    ),
    (
        "tool conversation",
        {
            "model": "m",
            "messages": [
                {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
                {"role": "user", "content": "Weather in Paris?", "name": "alice"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        },
                        {"id": "call_2", "function": {"name": "get_time", "arguments": "{}"}},
                        {"id": "call_3", "type": "custom", "custom": {"name": "sql", "input": "SELECT 1"}},
                    ],
                },
                {"role": "tool", "content": "18°C", "tool_call_id": "call_1"},
                {"role": "tool", "content": [{"type": "text", "text": "12:00"}], "tool_call_id": "call_2"},
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "It is"}, {"type": "refusal", "refusal": "no"}],
                },
                {"role": "assistant"},
            ],
        },
    ),
    (
        "unknown fields pass through",
        with_field(
            service_tier="flex",
            prediction={"type": "content", "content": "x"},
            modalities=["text"],
            x_custom={"anything": [1]},
        ),
    ),
]


@pytest.mark.parametrize("body", [case[1] for case in VALID], ids=[case[0] for case in VALID])
def test_valid_body_is_accepted(body: Body) -> None:
    before = copy.deepcopy(body)
    validate_chat_body(body)
    assert body == before  # validation never edits the body


@pytest.mark.parametrize(
    "body",
    [
        with_tool({"type": "function", "function": {"name": "get_weather\n"}}),
        with_field(response_format={"type": "json_schema", "json_schema": {"name": "answer\n", "schema": {}}}),
    ],
    ids=["tool name", "json_schema name"],
)
def test_name_with_a_trailing_newline_is_refused(body: Body) -> None:
    assert raises(body).message_key == "invalid_tool_name"
