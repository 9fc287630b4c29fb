"""Validation of a Responses create body (frontends/responses/validate.py): every refused shape names its exact
path, and mutated bodies never get past validation, translation and the chat road's checks with anything but a
GatewayError."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from babelgate.errors import GatewayError, InvalidRequest
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.frontends.responses.compaction import compaction_item
from babelgate.frontends.responses.translate import normalize_input
from babelgate.frontends.responses.validate import validate_create_body, validate_translatable
from babelgate.providers.openai.translate import request_from_wire
from tests.mutations import mutate, paths
from tests.responses_chat import chat_body

JSON = dict[str, Any]
IMAGE = {"type": "input_image", "image_url": "https://x.test/a.png"}
TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
VALID: JSON = {
    "model": "gpt-test",
    "instructions": "Be brief.",
    "input": [
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "What is this?"},
                {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "low"},
                {"type": "input_file", "file_data": "data:application/pdf;base64,AAAA", "filename": "a.pdf"},
            ],
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Checking.", "annotations": []}],
        },
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": [{"type": "input_text", "text": "18C"}]},
        {"type": "reasoning", "summary": []},
        compaction_item("Ada likes tea."),
        {"role": "developer", "content": "Answer in French."},
    ],
    "tools": [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather",
            "strict": True,
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ],
    "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "get_weather"}]},
    "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}},
    "temperature": 0.5,
    "top_p": 0.9,
    "max_output_tokens": 10,
    "reasoning": {"effort": "low"},
    "metadata": {"team": "a"},
    "store": False,
    "parallel_tool_calls": True,
    "stream": True,
}


def with_input(*items: Any) -> JSON:
    return {"model": "gpt-test", "input": list(items)}


def user(*parts: JSON) -> JSON:
    return {"type": "message", "role": "user", "content": list(parts)}


def refusal(body: JSON, *, websocket: bool = False) -> InvalidRequest:
    """The InvalidRequest validate_create_body then validate_translatable raise for `body`."""
    with pytest.raises(InvalidRequest) as caught:
        validate_create_body(body, websocket=websocket)
        validate_translatable(body)
    return caught.value


def prepare(body: JSON) -> None:
    """What turn.prepare does to a create body before it reaches a provider (less the model's defaults)."""
    validate_create_body(body)
    validate_translatable(body)
    chat, _ = chat_body(body, [], normalize_input(body.get("input")), [])
    validate_chat_body(chat)
    request_from_wire(chat)


# -- accepted -----------------------------------------------------------------------------------------------


def test_the_full_body_passes_every_check() -> None:
    prepare(copy.deepcopy(VALID))


def test_string_input_and_no_input_are_valid() -> None:
    validate_create_body({"model": "gpt-test", "input": "Hi"})
    validate_create_body({"model": "gpt-test"})


def test_websocket_body_without_http_only_fields_is_valid() -> None:
    validate_create_body({key: value for key, value in VALID.items() if key != "stream"}, websocket=True)


def test_builtin_tools_pass_the_create_body_check_for_the_native_road() -> None:
    body = {
        "model": "gpt-test",
        "input": "Hi",
        "tools": [{"type": "web_search"}],
        "tool_choice": {"type": "web_search_preview"},
        "background": True,
        "conversation": "conv_1",
    }
    validate_create_body(body)


@pytest.mark.parametrize(
    "changes",
    [{"top_logprobs": 0}, {"background": False}, {"tool_choice": "required"}, {"tools": []}, {"conversation": None}],
)
def test_harmless_values_of_translated_road_fields_pass(changes: JSON) -> None:
    validate_translatable({"model": "gpt-test", **changes})


# -- refused, with the exact path ---------------------------------------------------------------------------

REFUSED: list[Any] = [
    # input and its items
    pytest.param({"model": "gpt-test", "input": 5}, "input", "wrong_type", id="input-not-string-or-array"),
    pytest.param(with_input("Hi"), "input[0]", "wrong_type", id="item-not-object"),
    pytest.param(with_input({"type": "banana"}), "input[0].type", "invalid_value", id="unknown-item-type"),
    pytest.param(with_input({"content": "Hi"}), "input[0].type", "invalid_value", id="item-without-type-or-role"),
    pytest.param(
        with_input({"type": "item_reference", "id": "msg_1"}),
        "input[0].type",
        "responses_unsupported",
        id="item_reference",
    ),
    pytest.param(
        with_input(user(), {"type": "function_call", "name": "f", "arguments": "{}"}),
        "input[1].call_id",
        "missing_field",
        id="function_call-without-call_id",
    ),
    pytest.param(
        with_input({"type": "function_call", "call_id": "c", "name": "f"}),
        "input[0].arguments",
        "missing_field",
        id="function_call-without-arguments",
    ),
    pytest.param(
        with_input({"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}),
        "input[0].arguments",
        "wrong_type",
        id="function_call-arguments-not-string",
    ),
    pytest.param(
        with_input({"type": "function_call_output", "output": "x"}),
        "input[0].call_id",
        "missing_field",
        id="function_call_output-without-call_id",
    ),
    pytest.param(
        with_input({"type": "function_call_output", "call_id": "c", "output": 5}),
        "input[0].output",
        "wrong_type",
        id="function_call_output-output-not-string-or-array",
    ),
    pytest.param(
        with_input({"type": "function_call_output", "call_id": "c", "output": [{"type": "refusal"}]}),
        "input[0].output[0].type",
        "invalid_value",
        id="function_call_output-bad-part",
    ),
    pytest.param(
        with_input({"type": "compaction"}),
        "input[0].encrypted_content",
        "missing_field",
        id="compaction-without-content",
    ),
    pytest.param(
        with_input({"type": "message", "role": "tool", "content": "x"}),
        "input[0].role",
        "invalid_value",
        id="message-role-tool",
    ),
    pytest.param(
        with_input({"type": "message", "role": "user", "content": 5}),
        "input[0].content",
        "wrong_type",
        id="message-content-not-string-or-array",
    ),
    # parts, per role
    pytest.param(
        with_input(user({"type": "output_text", "text": "x"})),
        "input[0].content[0].type",
        "invalid_value",
        id="user-output_text",
    ),
    pytest.param(
        with_input(user({"type": "refusal", "refusal": "x"})),
        "input[0].content[0].type",
        "invalid_value",
        id="user-refusal",
    ),
    pytest.param(
        with_input({"type": "message", "role": "assistant", "content": [IMAGE]}),
        "input[0].content[0].type",
        "invalid_value",
        id="assistant-input_image",
    ),
    pytest.param(
        with_input({"type": "message", "role": "system", "content": [{"type": "output_text", "text": "x"}]}),
        "input[0].content[0].type",
        "invalid_value",
        id="system-output_text",
    ),
    pytest.param(
        with_input(user({"type": "input_text"})),
        "input[0].content[0].text",
        "missing_field",
        id="input_text-without-text",
    ),
    pytest.param(
        with_input(user({"type": "input_text", "text": "x"}, {"type": "input_image"})),
        "input[0].content[1].image_url",
        "missing_field",
        id="input_image-without-image_url",
    ),
    pytest.param(
        with_input(user({"type": "input_image", "file_id": "file-1"})),
        "input[0].content[0].file_id",
        "responses_unsupported",
        id="input_image-by-file_id",
    ),
    pytest.param(
        with_input(user({"type": "input_image", "image_url": {"url": "https://x.test/a.png"}})),
        "input[0].content[0].image_url",
        "wrong_type",
        id="input_image-chat-style-object",
    ),
    pytest.param(
        with_input(user({"type": "input_file", "file_url": "https://x.test/a.pdf"})),
        "input[0].content[0].file_url",
        "responses_unsupported",
        id="input_file-file_url",
    ),
    pytest.param(
        with_input(user({"type": "input_file", "filename": "a.pdf"})),
        "input[0].content[0].file_data",
        "missing_field",
        id="input_file-without-data",
    ),
    # tools and tool_choice (the translated road)
    pytest.param(
        {"model": "gpt-test", "tools": [{"type": 7}]}, "tools[0].type", "wrong_type", id="tool-type-not-string"
    ),
    pytest.param(
        {"model": "gpt-test", "tools": [{"type": "namespace", "name": "a b", "tools": [TOOL]}]},
        "tools[0].name",
        "invalid_tool_name",
        id="namespace-name",
    ),
    pytest.param(
        {"model": "gpt-test", "tools": [{"type": "namespace", "name": "ns", "tools": []}]},
        "tools[0].tools",
        "wrong_type",
        id="namespace-empty",
    ),
    pytest.param(
        {"model": "gpt-test", "tools": [{"type": "namespace", "name": "ns", "tools": [{"type": "web_search"}]}]},
        "tools[0].tools[0].type",
        "invalid_value",
        id="namespace-of-hosted-tool",
    ),
    pytest.param(
        {"model": "gpt-test", "tools": [{"type": "namespace", "name": "ns", "tools": [{"type": "function"}]}]},
        "tools[0].tools[0].name",
        "invalid_tool_name",
        id="namespace-function-without-name",
    ),
    pytest.param({"model": "gpt-test", "tools": {"type": "function"}}, "tools", "wrong_type", id="tools-not-array"),
    pytest.param(
        {"model": "gpt-test", "tools": [{"type": "function", "name": "get weather"}]},
        "tools[0].name",
        "invalid_tool_name",
        id="tool-name-with-space",
    ),
    pytest.param(
        {"model": "gpt-test", "tools": [{"type": "function"}]},
        "tools[0].name",
        "invalid_tool_name",
        id="tool-without-name",
    ),
    pytest.param(
        {"model": "gpt-test", "tools": [TOOL | {"parameters": "{}"}]},
        "tools[0].parameters",
        "wrong_type",
        id="tool-parameters-not-object",
    ),
    pytest.param(
        {"model": "gpt-test", "tools": [TOOL | {"strict": "yes"}]},
        "tools[0].strict",
        "wrong_type",
        id="tool-strict-not-boolean",
    ),
    pytest.param(
        {"model": "gpt-test", "tool_choice": {"type": "web_search_preview"}},
        "tool_choice.type",
        "responses_builtin_tool",
        id="tool_choice-builtin",
    ),
    pytest.param(
        {"model": "gpt-test", "tool_choice": "sometimes"},
        "tool_choice",
        "invalid_value",
        id="tool_choice-unknown-string",
    ),
    pytest.param(
        {"model": "gpt-test", "tool_choice": {"type": "function"}},
        "tool_choice.name",
        "missing_field",
        id="tool_choice-function-without-name",
    ),
    pytest.param(
        {"model": "gpt-test", "tool_choice": {"type": "allowed_tools", "mode": "auto"}},
        "tool_choice.tools",
        "wrong_type",
        id="tool_choice-allowed_tools-without-tools",
    ),
    pytest.param(
        {"model": "gpt-test", "tool_choice": {"type": "allowed_tools", "tools": [{"type": "function"}]}},
        "tool_choice.tools[0].name",
        "missing_field",
        id="tool_choice-allowed_tools-without-name",
    ),
    # text.format
    pytest.param(
        {"model": "gpt-test", "text": {"format": {"type": "json_schema", "schema": {"type": "object"}}}},
        "text.format.name",
        "missing_field",
        id="json_schema-without-name",
    ),
    pytest.param(
        {"model": "gpt-test", "text": {"format": {"type": "json_schema", "name": "out"}}},
        "text.format.schema",
        "missing_field",
        id="json_schema-without-schema",
    ),
    pytest.param(
        {"model": "gpt-test", "text": {"format": {"type": "json_schema", "name": "a b", "schema": {}}}},
        "text.format.name",
        "invalid_tool_name",
        id="json_schema-bad-name",
    ),
    pytest.param(
        {"model": "gpt-test", "text": {"format": {"type": "json_schema", "name": "a", "schema": "{}"}}},
        "text.format.schema",
        "wrong_type",
        id="json_schema-schema-not-object",
    ),
    pytest.param(
        {"model": "gpt-test", "text": {"format": {"type": "xml"}}},
        "text.format.type",
        "invalid_value",
        id="format-unknown-type",
    ),
    pytest.param({"model": "gpt-test", "text": "json"}, "text", "wrong_type", id="text-not-object"),
    # scalars
    pytest.param({"input": "Hi"}, "model", "missing_field", id="model-missing"),
    pytest.param({"model": 5}, "model", "wrong_type", id="model-not-string"),
    pytest.param({"model": "gpt-test", "temperature": 2.5}, "temperature", "out_of_range", id="temperature-high"),
    pytest.param({"model": "gpt-test", "top_p": -0.1}, "top_p", "out_of_range", id="top_p-negative"),
    pytest.param({"model": "gpt-test", "temperature": "hot"}, "temperature", "wrong_type", id="temperature-string"),
    pytest.param(
        {"model": "gpt-test", "max_output_tokens": 0}, "max_output_tokens", "out_of_range", id="max_output_tokens-zero"
    ),
    pytest.param(
        {"model": "gpt-test", "max_output_tokens": 1.5}, "max_output_tokens", "wrong_type", id="max_output_tokens-float"
    ),
    pytest.param({"model": "gpt-test", "top_logprobs": 21}, "top_logprobs", "out_of_range", id="top_logprobs-high"),
    pytest.param({"model": "gpt-test", "stream": "yes"}, "stream", "wrong_type", id="stream-not-boolean"),
    pytest.param({"model": "gpt-test", "store": 1}, "store", "wrong_type", id="store-not-boolean"),
    pytest.param(
        {"model": "gpt-test", "instructions": ["Be brief."]}, "instructions", "wrong_type", id="instructions-not-string"
    ),
    pytest.param(
        {"model": "gpt-test", "metadata": {"team": 1}}, "metadata.team", "wrong_type", id="metadata-value-not-string"
    ),
    pytest.param({"model": "gpt-test", "metadata": ["team"]}, "metadata", "wrong_type", id="metadata-not-object"),
    pytest.param(
        {"model": "gpt-test", "reasoning": {"effort": 1}},
        "reasoning.effort",
        "wrong_type",
        id="reasoning-effort-not-string",
    ),
    # features the translated road does not have
    pytest.param(
        {"model": "gpt-test", "background": True}, "background", "responses_unsupported", id="background-true"
    ),
    pytest.param(
        {"model": "gpt-test", "conversation": "conv_1"}, "conversation", "responses_unsupported", id="conversation"
    ),
    pytest.param({"model": "gpt-test", "prompt": {"id": "pmpt_1"}}, "prompt", "responses_unsupported", id="prompt"),
    pytest.param(
        {"model": "gpt-test", "top_logprobs": 2}, "top_logprobs", "responses_unsupported", id="top_logprobs-positive"
    ),
]


@pytest.mark.parametrize(("body", "param", "key"), REFUSED)
def test_refused_shape_names_its_path(body: JSON, param: str, key: str) -> None:
    error = refusal(body)
    assert (error.param, error.message_key) == (param, key)


@pytest.mark.parametrize("field", ["stream", "stream_options", "background"])
def test_websocket_body_with_an_http_only_field_is_refused(field: str) -> None:
    value = {"stream": True, "stream_options": {"include_usage": True}, "background": False}[field]
    error = refusal({"model": "gpt-test", "input": "Hi", field: value}, websocket=True)
    assert (error.param, error.message_key) == (field, "invalid_value")


def test_the_first_bad_item_is_named_by_its_index() -> None:
    body = with_input(
        user({"type": "input_text", "text": "ok"}),
        user({"type": "input_text", "text": "ok"}),
        user({"type": "input_text", "text": "ok"}, {"type": "input_file", "file_url": "u"}),
    )
    assert refusal(body).param == "input[2].content[1].file_url"


# -- bugs ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (with_input({"type": ["message"], "role": "user", "content": "Hi"}), "input[0].type"),
        (with_input({"type": "message", "role": {"name": "user"}, "content": "Hi"}), "input[0].role"),
        (with_input(user({"type": ["input_text"], "text": "Hi"})), "input[0].content[0].type"),
    ],
    ids=["item-type-list", "role-object", "part-type-list"],
)
def test_unhashable_type_or_role_is_refused_not_crashed(body: JSON, param: str) -> None:
    assert refusal(body).param == param


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (with_input(user({"type": "input_image", "image_url": "a.png"})), "input[0].content[0].image_url"),
        (
            with_input(user({"type": "input_image", "image_url": "https://x.test/a.png", "detail": "ultra"})),
            "input[0].content[0].detail",
        ),
        (
            {"model": "gpt-test", "input": "Hi", "tools": [TOOL | {"parameters": {"type": "string"}}]},
            "tools[0].parameters.type",
        ),
        (with_input({"type": "message", "role": "system", "content": [IMAGE]}), "input[0].content[0].type"),
        (
            with_input(
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c", "output": [IMAGE]},
            ),
            "input[1].output[0].type",
        ),
    ],
    ids=[
        "image_url-not-a-url",
        "image-detail-unknown",
        "tool-parameters-not-object-schema",
        "image-in-system",
        "image-in-function_call_output",
    ],
)
def test_what_the_chat_road_refuses_is_refused_at_the_responses_path(body: JSON, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        prepare({**body, "instructions": "Be brief."})
    assert caught.value.param == param


# -- mutation fuzz ------------------------------------------------------------------------------------------

ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    2.5,
    1e300,
    "",
    "x",
    [],
    [None],
    {},
    {"type": None},
    [{"type": "text"}],
    {"type": "message"},
    {"type": "function_call"},
    {"type": "input_image"},
]


@pytest.mark.parametrize("seed", range(8))
def test_mutated_bodies_never_crash_the_translated_road(seed: int) -> None:
    rng = random.Random(seed)
    places = paths(VALID)
    refused = 0
    for _ in range(400):
        body = VALID
        for _ in range(rng.randint(1, 3)):
            path, value = rng.choice(places), rng.choice(ODD_VALUES)
            body = mutate(body, path, value)
        try:
            prepare(body)
        except GatewayError as error:
            assert isinstance(error, InvalidRequest), f"{error!r} for {body}"
            assert error.param, f"an InvalidRequest without param for {body}"
            refused += 1
    assert 0 < refused < 400  # the mutations reach both outcomes


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"temperature": 5, "store": "yes"}, "temperature", "out_of_range"),
        ({"store": "yes", "temperature": 5}, "store", "wrong_type"),
        ({"instructions": 3, "max_output_tokens": 0}, "instructions", "wrong_type"),
        ({"max_output_tokens": 0, "stream": None}, "max_output_tokens", "out_of_range"),  # null: not sent
    ],
)
def test_the_create_bodys_top_level_fields_are_checked_in_the_order_the_body_has_them(
    body: dict[str, Any], param: str, code: str
) -> None:
    """One walk over the fields the body has (`check_fields`): of two wrong fields the body's first is named."""
    with pytest.raises(InvalidRequest) as refused:
        validate_create_body({"model": "m", "input": "Hi", **body})
    assert (refused.value.param, refused.value.message_key) == (param, code)
