"""Self-tests of `tests/responses_spec.py`: hand-written minimal valid `/v1/responses` output passes both specs
(Open Responses and OpenAI), and broken variants are reported. Schema tests skip where the spec files are absent;
the SSE framing tests need no spec."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from tests.responses_spec import (
    assert_valid_events,
    assert_valid_response,
    compact_violations,
    create_request_violations,
    error_body_violations,
    event_violations,
    openai_event_types,
    ors_event_types,
    parse_sse,
    parse_sse_chunks,
    response_violations,
    websocket_create_violations,
    websocket_error_violations,
)

# ---------------------------------------------------------------------------------------------
# Hand-written examples: the smallest output that satisfies both specs.

MSG = "msg_0001"
FC = "fc_0001"
RS = "rs_0001"
USAGE = {
    "input_tokens": 12,
    "output_tokens": 3,
    "total_tokens": 15,
    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
    "output_tokens_details": {"reasoning_tokens": 0},
}
ZERO_USAGE = {
    "input_tokens": 0,
    "output_tokens": 0,
    "total_tokens": 0,
    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
    "output_tokens_details": {"reasoning_tokens": 0},
}
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "strict": False,
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(text: str | None, status: str = "completed") -> dict[str, Any]:
    return {
        "id": MSG,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [] if text is None else [text_part(text)],
    }


def function_call_item(arguments: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": FC,
        "type": "function_call",
        "call_id": "call_0001",
        "name": "get_weather",
        "arguments": arguments,
        "status": status,
    }


def reasoning_item(summary: str | None, status: str = "completed") -> dict[str, Any]:
    return {
        "id": RS,
        "type": "reasoning",
        "status": status,
        "summary": [] if summary is None else [{"type": "summary_text", "text": summary}],
    }


def response(output: list[dict[str, Any]] | None = None, status: str = "completed", **changes: Any) -> dict[str, Any]:
    """A response resource with every key ORS requires."""
    done = status != "in_progress"
    resource = {
        "id": "resp_0001",
        "object": "response",
        "created_at": 1767225600,
        "completed_at": 1767225601 if status == "completed" else None,
        "status": status,
        "incomplete_details": None,
        "model": "gpt-4o-mini",
        "previous_response_id": None,
        "instructions": None,
        "output": [message_item("Hello there!")] if output is None else output,
        "error": None,
        "tools": [],
        "tool_choice": "auto",
        "truncation": "disabled",
        "parallel_tool_calls": True,
        "text": {"format": {"type": "text"}},
        "top_p": 1.0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "top_logprobs": 0,
        "temperature": 1.0,
        "reasoning": None,
        # OpenAI's `Response.usage` is not nullable: an in-progress snapshot carries zeros rather than null.
        "usage": USAGE if done else ZERO_USAGE,
        "max_output_tokens": None,
        "max_tool_calls": None,
        "store": True,
        "background": False,
        "service_tier": "default",
        "metadata": {},
        "safety_identifier": None,
        "prompt_cache_key": None,
    }
    resource.update(changes)
    return resource


def text_stream() -> list[dict[str, Any]]:
    """One text answer, every event in the order Open Responses requires."""
    where = {"item_id": MSG, "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response([], "in_progress")},
        {"type": "response.in_progress", "response": response([], "in_progress")},
        {"type": "response.output_item.added", "output_index": 0, "item": message_item(None, "in_progress")},
        {"type": "response.content_part.added", **where, "part": text_part("")},
        {"type": "response.output_text.delta", **where, "delta": "Hello", "logprobs": []},
        {"type": "response.output_text.delta", **where, "delta": " there!", "logprobs": []},
        {"type": "response.output_text.done", **where, "text": "Hello there!", "logprobs": []},
        {"type": "response.content_part.done", **where, "part": text_part("Hello there!")},
        {"type": "response.output_item.done", "output_index": 0, "item": message_item("Hello there!")},
        {"type": "response.completed", "response": response()},
    ]
    return [{**event, "sequence_number": number} for number, event in enumerate(events)]


def function_call_stream() -> list[dict[str, Any]]:
    where = {"item_id": FC, "output_index": 0}
    arguments = '{"city":"Paris"}'
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response([], "in_progress", tools=[TOOL])},
        {"type": "response.in_progress", "response": response([], "in_progress", tools=[TOOL])},
        {"type": "response.output_item.added", "output_index": 0, "item": function_call_item("", "in_progress")},
        {"type": "response.function_call_arguments.delta", **where, "delta": '{"city":'},
        {"type": "response.function_call_arguments.delta", **where, "delta": '"Paris"}'},
        {"type": "response.function_call_arguments.done", **where, "name": "get_weather", "arguments": arguments},
        {"type": "response.output_item.done", "output_index": 0, "item": function_call_item(arguments)},
        {"type": "response.completed", "response": response([function_call_item(arguments)], tools=[TOOL])},
    ]
    return [{**event, "sequence_number": number} for number, event in enumerate(events)]


def reasoning_events() -> list[dict[str, Any]]:
    """A reasoning item's own events (ORS names raw reasoning `response.reasoning.*`, OpenAI does not know them)."""
    summary = {"item_id": RS, "output_index": 0, "summary_index": 0}
    raw = {"item_id": RS, "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.output_item.added", "output_index": 0, "item": reasoning_item(None, "in_progress")},
        {"type": "response.reasoning_summary_part.added", **summary, "part": {"type": "summary_text", "text": ""}},
        {"type": "response.reasoning_summary_text.delta", **summary, "delta": "Think"},
        {"type": "response.reasoning_summary_text.done", **summary, "text": "Think"},
        {"type": "response.reasoning_summary_part.done", **summary, "part": {"type": "summary_text", "text": "Think"}},
        {"type": "response.reasoning.delta", **raw, "delta": "hmm"},
        {"type": "response.reasoning.done", **raw, "text": "hmm"},
        {"type": "response.output_item.done", "output_index": 0, "item": reasoning_item("Think")},
    ]
    return [{**event, "sequence_number": number} for number, event in enumerate(events, start=2)]


def error_event() -> dict[str, Any]:
    """ORS nests the error, OpenAI's `ResponseErrorEvent` puts it at top level: an event carrying both satisfies
    both (neither forbids extra keys)."""
    return {
        "type": "error",
        "sequence_number": 2,
        "code": "server_error",
        "message": "Upstream failed.",
        "param": None,
        "error": {"type": "server_error", "code": "server_error", "message": "Upstream failed.", "param": None},
    }


def failed_event() -> dict[str, Any]:
    failed = response([], "failed", error={"code": "server_error", "message": "Upstream failed."})
    return {"type": "response.failed", "sequence_number": 3, "response": failed}


def incomplete_event() -> dict[str, Any]:
    incomplete = response(
        [message_item("Hello", "incomplete")],
        "incomplete",
        incomplete_details={"reason": "max_output_tokens"},
        max_output_tokens=2,
    )
    return {"type": "response.incomplete", "sequence_number": 9, "response": incomplete}


def websocket_error() -> dict[str, Any]:
    return {
        "type": "error",
        "status": 400,
        "error": {
            "type": "invalid_request_error",
            "code": "previous_response_not_found",
            "message": "Previous response with id 'resp_x' not found.",
            "param": "previous_response_id",
        },
    }


def compaction() -> dict[str, Any]:
    return {
        "id": "resp_0002",
        "object": "response.compaction",
        "created_at": 1767225600,
        "output": [
            {
                "id": "msg_0000",
                "type": "message",
                "role": "user",
                "status": "completed",
                "content": [{"type": "input_text", "text": "Build me a landing page."}],
            },
            {"id": "cmp_0001", "type": "compaction", "encrypted_content": "b64-opaque-summary"},
        ],
        "usage": USAGE,
    }


def sse(events: list[dict[str, Any]]) -> str:
    return "".join(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in events) + "data: [DONE]\n\n"


# ---------------------------------------------------------------------------------------------
# The valid examples pass.


@pytest.mark.parametrize(
    "resource",
    [
        pytest.param(response(), id="text"),
        pytest.param(response([function_call_item('{"city":"Paris"}')], tools=[TOOL]), id="function_call"),
        pytest.param(
            response([reasoning_item("Think"), message_item("Hi")], reasoning={"effort": "low", "summary": "auto"}),
            id="reasoning",
        ),
        pytest.param(response([], "in_progress"), id="in_progress"),
        pytest.param(failed_event()["response"], id="failed"),
        pytest.param(incomplete_event()["response"], id="incomplete"),
    ],
)
def test_valid_responses_pass(resource: dict[str, Any]) -> None:
    assert response_violations(resource) == []
    assert_valid_response(resource)


@pytest.mark.parametrize(
    "events",
    [
        pytest.param(text_stream(), id="text"),
        pytest.param(function_call_stream(), id="function_call"),
        pytest.param(reasoning_events(), id="reasoning"),
        pytest.param([error_event(), failed_event()], id="error"),
        pytest.param([incomplete_event()], id="incomplete"),
    ],
)
def test_valid_event_sequences_pass(events: list[dict[str, Any]]) -> None:
    for event in events:
        assert event_violations(event) == [], event["type"]
    assert_valid_events(events)


def test_other_valid_shapes_pass() -> None:
    assert websocket_error_violations(websocket_error()) == []
    assert compact_violations(compaction()) == []
    assert (
        error_body_violations(
            {
                "error": {
                    "message": "The model 'x' does not exist.",
                    "type": "invalid_request_error",
                    "param": "model",
                    "code": "model_not_found",
                }
            }
        )
        == []
    )
    request = {
        "model": "gpt-4o-mini",
        "input": [{"type": "message", "role": "user", "content": "Hi"}],
        "tools": [TOOL],
        "stream": True,
    }
    assert create_request_violations(request) == []
    websocket_request = {key: value for key, value in request.items() if key != "stream"}
    assert websocket_create_violations({"type": "response.create", **websocket_request}) == []


def test_event_type_tables() -> None:
    assert len(ors_event_types()) == 24
    assert ors_event_types() - openai_event_types() == {"response.reasoning.delta", "response.reasoning.done"}


# ---------------------------------------------------------------------------------------------
# Broken variants are reported.


def _without(resource: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in resource.items() if name != key}


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (_without(response(), "status"), ["ORS ResponseResource: <body>: 'status' is a required property"]),
        (_without(response(), "store"), ["ORS ResponseResource: <body>: 'store' is a required property"]),
        (
            _without(response(), "tools"),
            [
                "ORS ResponseResource: <body>: 'tools' is a required property",
                "OpenAI Response: <body>: 'tools' is a required property",
            ],
        ),
        (
            response(created_at="2026-01-01"),
            [
                "ORS ResponseResource: created_at: '2026-01-01' is not of type 'integer'",
                "OpenAI Response: created_at: '2026-01-01' is not of type 'number'",
            ],
        ),
        (response(usage=None), ["OpenAI Response: usage: None is not of type 'object'"]),
        (
            response(usage={**USAGE, "input_tokens_details": {"cached_tokens": 0}}),
            ["OpenAI Response: usage/input_tokens_details: 'cache_write_tokens' is a required property"],
        ),
        (
            response([{**message_item(None), "content": [{"type": "output_text", "text": "x", "annotations": []}]}]),
            ["OpenAI Response: output/0/content/0: 'logprobs' is a required property"],
        ),
        (
            response([_without(function_call_item("{}"), "status")]),
            ["ORS ResponseResource: output/0: 'status' is a required property"],
        ),
        (
            response([function_call_item("{}") | {"arguments": {"city": "Paris"}}]),
            [
                "ORS ResponseResource: output/0/arguments: {'city': 'Paris'} is not of type 'string'",
                "OpenAI Response: output/0/arguments: {'city': 'Paris'} is not of type 'string'",
            ],
        ),
        (
            response([message_item("x") | {"type": "assistant_message"}]),
            [
                "ORS ResponseResource: output/0: object of type 'assistant_message' "
                "matches none of the 5 oneOf alternatives",
                "OpenAI Response: output/0: object of type 'assistant_message' "
                "matches none of the 28 oneOf alternatives",
            ],
        ),
        (
            response([], "failed", error={"code": "upstream_error", "message": "x"}),
            ["OpenAI Response: error/code: 'upstream_error' is not one of"],
        ),
        (
            response(tools=[{"type": "function", "name": "f", "parameters": {}}]),
            [
                "ORS ResponseResource: tools/0: 'description' is a required property",
                "ORS ResponseResource: tools/0: 'strict' is a required property",
                "OpenAI Response: tools/0: 'strict' is a required property",
            ],
        ),
    ],
)
def test_broken_responses_are_reported(resource: dict[str, Any], expected: list[str]) -> None:
    found = response_violations(resource)
    assert len(found) == len(expected), found
    for line, start in zip(found, expected, strict=True):
        assert line.startswith(start), found
    with pytest.raises(AssertionError, match="response resource breaks the specs"):
        assert_valid_response(resource)


def _event(kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(event for event in text_stream() + function_call_stream() if event["type"] == kind))


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            {**_event("response.output_text.delta"), "logprobs": None},
            [
                "OpenAI ResponseTextDeltaEvent: logprobs: None is not of type 'array'",
                "ORS ResponseOutputTextDeltaStreamingEvent: logprobs: None is not of type 'array'",
            ],
        ),
        (
            _without(_event("response.output_text.delta"), "logprobs"),
            ["OpenAI ResponseTextDeltaEvent: <body>: 'logprobs' is a required property"],
        ),
        (
            _without(_event("response.output_text.delta"), "sequence_number"),
            [
                "ORS ResponseOutputTextDeltaStreamingEvent: <body>: 'sequence_number' is a required property",
                "OpenAI ResponseTextDeltaEvent: <body>: 'sequence_number' is a required property",
            ],
        ),
        (
            {**_event("response.output_text.delta"), "output_index": "0"},
            [
                "ORS ResponseOutputTextDeltaStreamingEvent: output_index: '0' is not of type 'integer'",
                "OpenAI ResponseTextDeltaEvent: output_index: '0' is not of type 'integer'",
            ],
        ),
        (
            _without(_event("response.function_call_arguments.done"), "name"),
            ["OpenAI ResponseFunctionCallArgumentsDoneEvent: <body>: 'name' is a required property"],
        ),
        (
            {**_event("response.created"), "response": _without(response([], "in_progress"), "usage")},
            ["ORS ResponseCreatedStreamingEvent: response: 'usage' is a required property"],
        ),
        (
            {"type": "response.output_text.added", "sequence_number": 1},
            ["ORS: event type 'response.output_text.added' is not an Open Responses streaming event"],
        ),
        (
            {
                "type": "response.reasoning_text.delta",
                "sequence_number": 1,
                "item_id": RS,
                "output_index": 0,
                "content_index": 0,
                "delta": "x",
            },
            ["ORS: event type 'response.reasoning_text.delta' is not an Open Responses streaming event"],
        ),
        (
            {"type": "error", "sequence_number": 1, "code": "server_error", "message": "x", "param": None},
            ["ORS ErrorStreamingEvent: <body>: 'error' is a required property"],
        ),
        (_without(error_event(), "code"), ["OpenAI ResponseErrorEvent: <body>: 'code' is a required property"]),
        (
            {**_event("response.content_part.added"), "part": {"type": "output_text", "text": ""}},
            [
                "ORS ResponseContentPartAddedStreamingEvent: part: 'annotations' is a required property",
                "OpenAI ResponseContentPartAddedEvent: part: 'annotations' is a required property",
                "OpenAI ResponseContentPartAddedEvent: part: 'logprobs' is a required property",
            ],
        ),
        ({"sequence_number": 1}, ["event: not an object with a string `type`"]),
    ],
)
def test_broken_events_are_reported(event: dict[str, Any], expected: list[str]) -> None:
    found = event_violations(event)
    assert len(found) == len(expected), found
    for start in expected:
        assert any(line.startswith(start) for line in found), (start, found)


def test_assert_valid_events_names_index_and_type() -> None:
    events = text_stream()
    del events[4]["delta"]
    with pytest.raises(AssertionError) as raised:
        assert_valid_events(events)
    assert (
        "#4 response.output_text.delta: ORS ResponseOutputTextDeltaStreamingEvent: <body>: 'delta' is a "
        "required property" in str(raised.value)
    )


def test_other_broken_shapes_are_reported() -> None:
    assert websocket_error_violations(_without(websocket_error(), "status")) == [
        "ORS WebSocketErrorEvent: <body>: 'status' is a required property"
    ]
    assert websocket_error_violations({**websocket_error(), "error": {"message": "x", "code": None}}) == [
        "ORS WebSocketErrorEvent: error/code: None is not of type 'string'",
        "OpenAI ResponseWsError: error: 'type' is a required property",
        "OpenAI ResponseWsError: error: 'param' is a required property",
    ]
    assert compact_violations({**compaction(), "object": "response"}) == [
        "ORS CompactResource: object: 'response' is not one of ['response.compaction']",
        "OpenAI CompactResource: object: 'response' is not one of ['response.compaction']",
    ]
    broken_item = compaction()
    del broken_item["output"][1]["encrypted_content"]
    assert [line.split(": ", 1)[1] for line in compact_violations(broken_item)] == [
        "output/1: 'encrypted_content' is a required property"
    ] * 2
    assert error_body_violations({"error": {"message": "x", "type": "server_error"}}) == [
        "OpenAI ErrorResponse: error: 'param' is a required property",
        "OpenAI ErrorResponse: error: 'code' is a required property",
    ]
    assert error_body_violations({"message": "x"}) == ["OpenAI ErrorResponse: <body>: 'error' is a required property"]
    assert create_request_violations({"model": "m", "input": 5}) == [
        "ORS CreateResponseBody: input: 5 matches none of the 2 oneOf alternatives"
    ]
    assert websocket_create_violations(
        {"type": "response.create", "model": "m", "input": "Hi", "stream": True, "background": False}
    ) == [
        "ORS WebSocketResponseCreateEvent: stream: must not be sent in a WebSocket response.create",
        "ORS WebSocketResponseCreateEvent: background: must not be sent in a WebSocket response.create",
    ]
    assert websocket_create_violations({"model": "m", "input": "Hi"}) == [
        "ORS WebSocketResponseCreateEvent: <body>: 'type' is a required property"
    ]


# ---------------------------------------------------------------------------------------------
# SSE framing (no spec needed).

A = {"type": "response.output_text.delta", "sequence_number": 0, "delta": "a"}
B = {"type": "response.output_text.done", "sequence_number": 1, "text": "a"}


def test_parse_sse_returns_the_events() -> None:
    assert parse_sse(sse([A, B])) == [A, B]
    assert parse_sse(f": keep-alive\n\nevent:{A['type']}\ndata:{json.dumps(A)}\n\n\ndata: [DONE]\n\n") == [A]
    assert parse_sse_chunks([sse([A]).removesuffix("data: [DONE]\n\n").encode(), "data: [DONE]\n\n"]) == [A]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (sse([A]).replace("\n", "\r\n"), "CR"),
        (sse([A]).replace("\n\n", "\r\n\r\n", 1), "CR"),
        (sse([A]).replace(f"event: {A['type']}", "event: response.output_text.done"), "differs from the data's type"),
        (sse([A]).replace(f"event: {A['type']}\n", ""), "has no event: line"),
        (
            f'event: {A["type"]}\ndata: {{"type": "{A["type"]}",\ndata: "sequence_number": 0}}\n\ndata: [DONE]\n\n',
            "2 data: lines",
        ),
        (f"event: {A['type']}\ndata: {json.dumps(A, indent=1)}\n\ndata: [DONE]\n\n", "unexpected"),
        (f"event: {A['type']}\ndata: {{not json\n\ndata: [DONE]\n\n", "not JSON"),
        (f"event: {A['type']}\ndata:\n\ndata: [DONE]\n\n", "empty data"),
        (f"id: 1\n{sse([A])}", "unexpected 'id' line"),
        (sse([A]).removesuffix("data: [DONE]\n\n"), "does not end with the terminal data: [DONE]"),
        (sse([A]).removesuffix("\n"), "ends inside an event"),
        (sse([A]).removesuffix("\n\n"), "not terminated"),
        (sse([A]) + sse([B]), "after data: [DONE]"),
        (sse([A]).replace("data: [DONE]", "event: done\ndata: [DONE]"), "terminator has an event: line"),
        (f"data: {json.dumps(A)}\nevent: {A['type']}\n\ndata: [DONE]\n\n", "event: line after the data: line"),
    ],
)
def test_parse_sse_refuses_breaches(body: str, message: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(message)):
        parse_sse(body)


def test_parse_sse_chunks_refuses_an_event_split_across_writes() -> None:
    body = sse([A])
    cut = body.index("data:") + 10
    with pytest.raises(AssertionError, match="event boundary"):
        parse_sse_chunks([body[:cut], body[cut:]])
