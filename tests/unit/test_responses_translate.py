"""Responses ⇄ chat, golden (frontends/responses/translate.py): input items as stored, the chat request a
create body means (written as a chat body by the OpenAI codec, which reads it back as the same request), the
output items of a chat answer, and the status a finish reason gives."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from babelgate.errors import InvalidRequest
from babelgate.frontends.responses.compaction import compaction_item
from babelgate.frontends.responses.resource import ResponseShell
from babelgate.frontends.responses.translate import chat_request, normalize_input, outcome, output_items
from babelgate.frontends.responses.wire import usage_to_wire
from babelgate.schema.chat import (
    AssistantMessage,
    ChatResponse,
    Choice,
    FinishReason,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
    Usage,
)
from tests.responses_chat import chat_body
from tests.responses_spec import response_violations

JSON = dict[str, Any]
ID = re.compile(r"(msg|fc|fco|rs|cmp)_[0-9a-f]{32}")


def ids_masked(items: list[JSON]) -> list[JSON]:
    """`items` with every generated id checked and replaced by its prefix and `*` (`msg_*`)."""
    masked = []
    for item in items:
        assert ID.fullmatch(item["id"]), f"not a generated item id: {item['id']!r}"
        masked.append({**item, "id": item["id"].split("_")[0] + "_*"})
    return masked


def chat(input_: Any, conversation: list[JSON] | None = None, **fields: Any) -> JSON:
    """The chat request for a create body with `input_` and `fields`, continuing `conversation`, as a chat body."""
    body = {"model": "gpt-test", "input": input_, **fields}
    return chat_body(body, conversation or [], normalize_input(input_), [])[0]


def user(text: str) -> JSON:
    return {"type": "message", "role": "user", "content": text}


def call(call_id: str, name: str = "get_weather", arguments: str = '{"city":"Paris"}') -> JSON:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}


def call_output(call_id: str, output: Any = "18C") -> JSON:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def chat_call(call_id: str, name: str = "get_weather", arguments: str = '{"city":"Paris"}') -> JSON:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def chat_user(text: str) -> JSON:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def answer(message: AssistantMessage, finish: FinishReason | None = "stop") -> ChatResponse:
    return ChatResponse(
        id="chatcmpl-1",
        created=1_700_000_000,
        model="gpt-test",
        choices=[Choice(0, message, finish)],
        usage=Usage(12, 3, 15),
    )


# -- normalize_input ----------------------------------------------------------------------------------------


def test_string_input_is_one_user_message_with_an_input_text_part() -> None:
    assert ids_masked(normalize_input("Hi")) == [
        {
            "id": "msg_*",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_text", "text": "Hi"}],
        },
    ]


def test_no_input_is_no_items() -> None:
    assert normalize_input(None) == []
    assert normalize_input([]) == []


@pytest.mark.parametrize("role", ["user", "system", "developer"])
def test_string_content_of_an_input_role_becomes_an_input_text_part(role: str) -> None:
    [item] = normalize_input([{"role": role, "content": "Be brief."}])
    assert ids_masked([item]) == [
        {
            "id": "msg_*",
            "type": "message",
            "role": role,
            "status": "completed",
            "content": [{"type": "input_text", "text": "Be brief."}],
        }
    ]


def test_string_content_of_an_assistant_message_becomes_an_output_text_part() -> None:
    [item] = normalize_input([{"type": "message", "role": "assistant", "content": "Sunny."}])
    assert [(part["type"], part["text"]) for part in item["content"]] == [("output_text", "Sunny.")]
    assert item["role"] == "assistant"
    assert item["status"] == "completed"


def test_assistant_output_text_part_made_from_a_string_has_annotations() -> None:
    [item] = normalize_input([{"type": "message", "role": "assistant", "content": "Sunny."}])
    assert item["content"] == [{"type": "output_text", "text": "Sunny.", "annotations": [], "logprobs": []}]


def test_every_item_gets_an_id_with_the_prefix_of_its_type() -> None:
    compaction = {key: value for key, value in compaction_item("Ada likes tea.").items() if key != "id"}
    items = normalize_input(
        [user("Hi"), call("call_1"), call_output("call_1"), {"type": "reasoning", "summary": []}, compaction]
    )
    assert [item["id"].split("_")[0] for item in ids_masked(items)] == ["msg", "fc", "fco", "rs", "cmp"]
    assert len({item["id"] for item in items}) == 5


def test_an_item_sent_with_a_null_id_gets_one() -> None:
    [item] = normalize_input([{"id": None, "type": "message", "role": "user", "content": "Hi"}])
    assert ID.fullmatch(item["id"] or "")


def test_ids_and_status_the_client_sent_are_kept() -> None:
    [item] = normalize_input(
        [
            {
                "id": "msg_client",
                "type": "message",
                "role": "assistant",
                "status": "incomplete",
                "content": [{"type": "output_text", "text": "Half", "annotations": []}],
            }
        ]
    )
    assert item == {
        "id": "msg_client",
        "type": "message",
        "role": "assistant",
        "status": "incomplete",
        "content": [{"type": "output_text", "text": "Half", "annotations": []}],
    }


def test_an_item_with_a_role_and_no_type_is_a_message() -> None:
    [item] = normalize_input([{"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}])
    assert item["type"] == "message"
    assert item["id"].startswith("msg_")


def test_function_call_items_are_kept_as_sent_plus_an_id_and_status() -> None:
    items = normalize_input([call("call_1"), call_output("call_1")])
    assert ids_masked(items) == [
        {
            "id": "fc_*",
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
            "status": "completed",
        },
        {"id": "fco_*", "type": "function_call_output", "call_id": "call_1", "output": "18C", "status": "completed"},
    ]


def test_function_call_items_get_a_completed_status() -> None:
    items = normalize_input([call("call_1"), call_output("call_1")])
    assert [item.get("status") for item in items] == ["completed", "completed"]


def test_normalizing_leaves_the_request_untouched() -> None:
    request = [{"type": "message", "role": "user", "content": "Hi"}, call("call_1")]
    before = copy.deepcopy(request)
    normalize_input(request)
    assert request == before


# -- chat_body: messages ------------------------------------------------------------------------------------


def test_instructions_become_the_leading_system_message() -> None:
    assert chat("Hi", instructions="Be brief.")["messages"] == [
        {"role": "system", "content": "Be brief."},
        chat_user("Hi"),
    ]


def test_instructions_are_not_items_and_apply_to_this_turn_only() -> None:
    reply = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "Hello.", "annotations": []}],
    }
    earlier = [*normalize_input("Hi"), reply]
    stored = copy.deepcopy(earlier)
    items = normalize_input("And now?")
    body, _ = chat_body({"model": "gpt-test", "instructions": "Answer in French."}, earlier, items, [])
    assert all(item.get("role") != "system" for item in items)
    assert body["messages"] == [
        {"role": "system", "content": "Answer in French."},
        chat_user("Hi"),
        {"role": "assistant", "content": "Hello."},
        chat_user("And now?"),
    ]
    assert earlier == stored


def test_conversation_comes_before_this_turns_input() -> None:
    earlier = normalize_input([user("One"), user("Two")])
    assert chat([user("Three")], earlier)["messages"] == [chat_user("One"), chat_user("Two"), chat_user("Three")]


def test_continuation_by_function_call_output_only() -> None:
    earlier = [
        *normalize_input("Weather?"),
        {
            "id": "fc_1",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
    ]
    assert chat([call_output("call_1")], earlier)["messages"] == [
        chat_user("Weather?"),
        {"role": "assistant", "content": None, "tool_calls": [chat_call("call_1")]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    ]


def test_adjacent_function_calls_are_one_assistant_message() -> None:
    messages = chat(
        [
            user("Weather?"),
            call("call_1"),
            call("call_2", arguments='{"city":"Rome"}'),
            call_output("call_1"),
            call_output("call_2", "25C"),
        ]
    )["messages"]
    assert messages == [
        chat_user("Weather?"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [chat_call("call_1"), chat_call("call_2", arguments='{"city":"Rome"}')],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "25C"},
    ]


def test_function_calls_after_assistant_text_join_that_message() -> None:
    messages = chat(
        [
            user("Weather?"),
            {"type": "message", "role": "assistant", "content": "Let me check."},
            call("call_1"),
            call("call_2"),
            call_output("call_1"),
            call_output("call_2"),
        ]
    )["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [chat_call("call_1"), chat_call("call_2")],
    }
    assert [message["role"] for message in messages] == ["user", "assistant", "tool", "tool"]


def test_function_calls_separated_by_their_outputs_are_separate_turns() -> None:
    messages = chat([user("Go"), call("call_1"), call_output("call_1"), call("call_2"), call_output("call_2")])
    assert [(m["role"], [c["id"] for c in m.get("tool_calls") or ()]) for m in messages["messages"]] == [
        ("user", []),
        ("assistant", ["call_1"]),
        ("tool", []),
        ("assistant", ["call_2"]),
        ("tool", []),
    ]


def test_reasoning_items_are_dropped_and_do_not_split_a_turn() -> None:
    messages = chat(
        [
            user("Go"),
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "message", "role": "assistant", "content": "Calling."},
            {"type": "reasoning", "id": "rs_2", "summary": [{"type": "summary_text", "text": "hm"}]},
            call("call_1"),
            call_output("call_1"),
        ]
    )["messages"]
    assert messages == [
        chat_user("Go"),
        {"role": "assistant", "content": "Calling.", "tool_calls": [chat_call("call_1")]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    ]


def test_function_call_output_list_of_text_parts_is_joined() -> None:
    output = [{"type": "input_text", "text": "18"}, {"type": "input_text", "text": "C"}]
    assert chat([call("call_1"), call_output("call_1", output)])["messages"][1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "18C",
    }


def test_function_call_output_list_with_an_image_stays_a_list_of_parts() -> None:
    # The Responses validation takes text outputs only (chat's tool messages hold text); the decoder still
    # keeps what it is given rather than lose it.
    output = [{"type": "input_text", "text": "Chart:"}, {"type": "input_image", "image_url": "https://x.test/c.png"}]
    items = normalize_input([call("call_1"), call_output("call_1", output)])
    request = chat_request({"model": "gpt-test"}, [], items, [])[0]
    assert request.messages[1] == Message(
        "tool", [TextPart("Chart:"), ImagePart("https://x.test/c.png", "auto")], tool_call_id="call_1"
    )


def test_input_image_becomes_an_image_url_part_with_detail_auto_by_default() -> None:
    content = [
        {"type": "input_text", "text": "What is it?"},
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
        {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "low"},
    ]
    assert chat([{"role": "user", "content": content}])["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is it?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "auto"}},
                {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "low"}},
            ],
        }
    ]


def test_input_file_becomes_a_file_part() -> None:
    content = [
        {"type": "input_file", "file_data": "data:application/pdf;base64,AAAA", "filename": "a.pdf"},
        {"type": "input_file", "file_id": "file-1"},
    ]
    assert chat([{"role": "user", "content": content}])["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,AAAA", "filename": "a.pdf"}},
                {"type": "file", "file": {"file_id": "file-1"}},
            ],
        }
    ]


def test_assistant_parts_fold_into_text_and_refusal() -> None:
    content = [
        {"type": "output_text", "text": "I can", "annotations": []},
        {"type": "output_text", "text": "not.", "annotations": []},
        {"type": "refusal", "refusal": "Not allowed."},
    ]
    assert chat([user("Q"), {"type": "message", "role": "assistant", "content": content}])["messages"][1] == {
        "role": "assistant",
        "content": "I cannot.",
        "refusal": "Not allowed.",
    }


def test_assistant_message_with_only_a_refusal_has_no_content() -> None:
    content = [{"type": "refusal", "refusal": "No."}]
    assert chat([user("Q"), {"type": "message", "role": "assistant", "content": content}])["messages"][1] == {
        "role": "assistant",
        "content": None,
        "refusal": "No.",
    }


def test_compaction_item_becomes_a_system_message_with_the_summary() -> None:
    assert chat([compaction_item("Ada likes tea."), user("What does Ada like?")])["messages"] == [
        {"role": "system", "content": "Summary of the earlier conversation:\nAda likes tea."},
        chat_user("What does Ada like?"),
    ]


# -- chat_body: refusals ------------------------------------------------------------------------------------


def test_function_call_output_without_its_call_is_refused_naming_its_call_id() -> None:
    with pytest.raises(InvalidRequest) as caught:
        chat([user("Hi"), call("call_1"), call_output("call_1"), call_output("call_9")])
    assert (caught.value.message_key, caught.value.param) == ("unmatched_tool_output", "input[3].call_id")
    assert caught.value.params == {"call_id": "call_9"}


def test_function_call_output_answering_a_call_of_the_conversation_is_accepted() -> None:
    earlier = normalize_input([user("Hi"), call("call_1")])
    assert chat([call_output("call_1")], earlier)["messages"][-1]["tool_call_id"] == "call_1"


@pytest.mark.parametrize("input_", [None, []], ids=["absent", "empty"])
def test_no_conversation_and_no_input_is_refused(input_: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        chat(input_)
    assert (caught.value.message_key, caught.value.param) == ("empty_input", "input")


def test_input_of_reasoning_items_only_is_empty() -> None:
    with pytest.raises(InvalidRequest) as caught:
        chat([{"type": "reasoning", "summary": []}])
    assert caught.value.param == "input"


# -- chat_body: settings ------------------------------------------------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "strict": True,
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def test_every_mapped_setting_golden() -> None:
    body = {
        "model": "gpt-test",
        "input": "Hi",
        "instructions": "Be brief.",
        "tools": [WEATHER_TOOL, {"type": "function", "name": "noop"}],
        "tool_choice": "required",
        "text": {"format": {"type": "json_object"}, "verbosity": "low"},
        "max_output_tokens": 64,
        "reasoning": {"effort": "high", "summary": "auto"},
        "temperature": 0.2,
        "top_p": 0.9,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.5,
        "parallel_tool_calls": False,
        "user": "u-1",
        "safety_identifier": "s-1",
        "prompt_cache_key": "k-1",
        "service_tier": "flex",
        # Not sent upstream: Responses-only settings and ones the gateway itself serves.
        "metadata": {"team": "a"},
        "store": False,
        "stream": True,
        "truncation": "disabled",
        "top_logprobs": 0,
        "max_tool_calls": 3,
        "previous_response_id": None,
        "include": ["reasoning.encrypted_content"],
    }
    assert chat_body(body, [], normalize_input("Hi"), [])[0] == {
        "model": "gpt-test",
        "messages": [{"role": "system", "content": "Be brief."}, chat_user("Hi")],
        "temperature": 0.2,
        "top_p": 0.9,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.5,
        "parallel_tool_calls": False,
        "user": "u-1",
        "safety_identifier": "s-1",
        "prompt_cache_key": "k-1",
        "service_tier": "flex",
        "max_tokens": 64,
        "reasoning_effort": "high",
        "response_format": {"type": "json_object"},
        "verbosity": "low",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "strict": True,
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
                },
            },
            {"type": "function", "function": {"name": "noop"}},
        ],
        "tool_choice": "required",
    }


def test_metadata_is_not_sent_upstream() -> None:
    assert "metadata" not in chat("Hi", metadata={"team": "a"})


def test_minimal_body_sends_only_model_and_messages() -> None:
    assert chat("Hi") == {"model": "gpt-test", "messages": [chat_user("Hi")]}


def test_falsy_settings_are_still_sent() -> None:
    body = chat("Hi", temperature=0, top_p=0, parallel_tool_calls=False)
    assert (body["temperature"], body["top_p"], body["parallel_tool_calls"]) == (0, 0, False)


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ({"type": "function", "name": "get_weather"}, {"type": "function", "function": {"name": "get_weather"}}),
        (
            {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "get_weather"}]},
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [{"type": "function", "function": {"name": "get_weather"}}],
                },
            },
        ),
        (
            {"type": "allowed_tools", "tools": [{"type": "function", "name": "a"}, {"type": "function", "name": "b"}]},
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "auto",
                    "tools": [
                        {"type": "function", "function": {"name": "a"}},
                        {"type": "function", "function": {"name": "b"}},
                    ],
                },
            },
        ),
    ],
    ids=["auto", "none", "function", "allowed_tools", "allowed_tools-default-mode"],
)
def test_tool_choice(choice: Any, expected: Any) -> None:
    assert chat("Hi", tools=[WEATHER_TOOL], tool_choice=choice)["tool_choice"] == expected


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ({"type": "text"}, {"type": "text"}),
        ({"type": "json_object"}, {"type": "json_object"}),
        (
            {"type": "json_schema", "name": "city", "schema": {"type": "object"}},
            {"type": "json_schema", "json_schema": {"name": "city", "schema": {"type": "object"}}},
        ),
        (
            {
                "type": "json_schema",
                "name": "city",
                "description": "A city",
                "schema": {"type": "object"},
                "strict": False,
            },
            {
                "type": "json_schema",
                "json_schema": {"name": "city", "schema": {"type": "object"}, "strict": False, "description": "A city"},
            },
        ),
    ],
    ids=["text", "json_object", "json_schema", "json_schema-full"],
)
def test_text_format_becomes_response_format(fmt: JSON, expected: JSON) -> None:
    assert chat("Hi", text={"format": fmt})["response_format"] == expected


def test_text_without_format_sends_no_response_format() -> None:
    assert "response_format" not in chat("Hi", text={"verbosity": "high"})


def test_reasoning_without_effort_sends_no_reasoning_effort() -> None:
    assert "reasoning_effort" not in chat("Hi", reasoning={"summary": "auto"})


# -- output_items and outcome -------------------------------------------------------------------------------


def test_answer_items_are_reasoning_then_message_then_calls() -> None:
    message = AssistantMessage(
        content="Checking both.",
        reasoning_content="Two cities.",
        tool_calls=[
            ToolCall("call_1", "get_weather", '{"city":"Paris"}'),
            ToolCall("call_2", "get_weather", '{"city":"Rome"}'),
        ],
    )
    assert ids_masked(output_items(answer(message, "tool_calls"))) == [
        {"id": "rs_*", "type": "reasoning", "summary": [{"type": "summary_text", "text": "Two cities."}]},
        {
            "id": "msg_*",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Checking both.", "annotations": [], "logprobs": []}],
        },
        {
            "id": "fc_*",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
        {
            "id": "fc_*",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_2",
            "name": "get_weather",
            "arguments": '{"city":"Rome"}',
        },
    ]


def test_answer_item_ids_are_distinct() -> None:
    message = AssistantMessage(content="x", tool_calls=[ToolCall("c1", "f", "{}"), ToolCall("c2", "f", "{}")])
    ids = [item["id"] for item in output_items(answer(message))]
    assert len(set(ids)) == len(ids) == 3


def test_refusal_is_a_refusal_part_of_the_message() -> None:
    assert ids_masked(output_items(answer(AssistantMessage(refusal="I can't help with that.")))) == [
        {
            "id": "msg_*",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "refusal", "refusal": "I can't help with that."}],
        },
    ]


def test_text_and_refusal_are_two_parts_in_that_order() -> None:
    [item] = output_items(answer(AssistantMessage(content="Partly:", refusal="no more.")))
    assert [part["type"] for part in item["content"]] == ["output_text", "refusal"]


def test_tool_calls_alone_make_no_message() -> None:
    items = output_items(answer(AssistantMessage(content=None, tool_calls=[ToolCall("c1", "f", "{}")])))
    assert [item["type"] for item in items] == ["function_call"]


@pytest.mark.parametrize("content", [None, ""], ids=["none", "empty"])
def test_empty_answer_has_no_items(content: str | None) -> None:
    assert output_items(answer(AssistantMessage(content=content))) == []


def test_answer_without_choices_has_no_items() -> None:
    assert output_items(ChatResponse(id="c", created=0, model="m", choices=[])) == []


def test_answer_resource_satisfies_both_specs() -> None:
    message = AssistantMessage(
        content="Sunny.",
        reasoning_content="Look it up.",
        tool_calls=[ToolCall("call_1", "get_weather", '{"city":"Paris"}')],
    )
    shell = ResponseShell.for_request(
        "resp_test", "gpt-test", {"model": "gpt-test", "tools": [WEATHER_TOOL]}, store=True
    )
    resource = shell.resource("completed", output_items(answer(message)), usage=usage_to_wire(Usage(12, 3, 15)))
    assert response_violations(resource) == []
    assert resource["output_text"] == "Sunny."


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("stop", ("completed", None)),
        ("tool_calls", ("completed", None)),
        (None, ("completed", None)),
        ("length", ("incomplete", {"reason": "max_output_tokens"})),
        ("content_filter", ("incomplete", {"reason": "content_filter"})),
    ],
)
def test_outcome_of_a_finish_reason(finish: str | None, expected: tuple[str, JSON | None]) -> None:
    assert outcome(finish) == expected
