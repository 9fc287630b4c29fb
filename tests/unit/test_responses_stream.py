"""Canonical chunks → Responses events (frontends/responses/stream.py), golden: the exact event sequence and its
places (sequence_number, output_index, content_index, item ids), checked against both specs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from babelgate.frontends.responses.resource import ResponseShell
from babelgate.frontends.responses.stream import ResponsesStreamEncoder
from babelgate.schema.chat import FinishReason, Usage
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta, ToolCallDelta
from tests.responses_spec import event_violations

JSON = dict[str, Any]
CREATED, IN_PROGRESS, COMPLETED = "response.created", "response.in_progress", "response.completed"
ITEM_ADDED, ITEM_DONE = "response.output_item.added", "response.output_item.done"
PART_ADDED, PART_DONE = "response.content_part.added", "response.content_part.done"
TEXT_DELTA, TEXT_DONE = "response.output_text.delta", "response.output_text.done"
ARGS_DELTA, ARGS_DONE = "response.function_call_arguments.delta", "response.function_call_arguments.done"
# OpenAI `ResponseErrorCode`, the closed set `response.error.code` takes.
OPENAI_ERROR_CODES = frozenset(
    {
        "server_error",
        "rate_limit_exceeded",
        "invalid_prompt",
        "data_residency_mismatch",
        "bio_policy",
        "vector_store_timeout",
        "invalid_image",
        "invalid_image_format",
        "invalid_base64_image",
        "invalid_image_url",
        "image_too_large",
        "image_too_small",
        "image_parse_error",
        "image_content_policy_violation",
        "invalid_image_mode",
        "image_file_too_large",
        "unsupported_image_media_type",
        "empty_image_file",
        "failed_to_download_image",
        "image_file_not_found",
    }
)
UPSTREAM_TIMEOUT = {"message": "The upstream timed out.", "type": "timeout", "param": None, "code": "upstream_timeout"}
USAGE = Usage(prompt_tokens=12, completion_tokens=5, total_tokens=17, cached_tokens=4, reasoning_tokens=2)
WIRE_USAGE = {
    "input_tokens": 12,
    "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
    "output_tokens": 5,
    "output_tokens_details": {"reasoning_tokens": 2},
    "total_tokens": 17,
}
# Accepted divergences (not the gateway's to fix): real OpenAI sends `usage: null` in the in-progress snapshots
# although its spec says object, and ORS only allows `schema: null` in an echoed json_schema text.format.
_SNAPSHOT_USAGE = re.compile(r"OpenAI Response(Created|InProgress)Event: response/usage: None is not of type 'object'")
_ORS_SCHEMA_NULL = re.compile(r"ORS \w+: response/text/format/schema: ")


def encoder(**body: Any) -> ResponsesStreamEncoder:
    return ResponsesStreamEncoder(
        ResponseShell.for_request("resp_test", "gpt-test", {"model": "gpt-test", **body}, store=True)
    )


def chunk(*, finish: FinishReason | None = None, **delta: Any) -> ChatChunk:
    return ChatChunk(
        id="chatcmpl-1", created=1_700_000_000, model="gpt-test", choices=[ChunkChoice(0, Delta(**delta), finish)]
    )


def usage_chunk(usage: Usage = USAGE) -> ChatChunk:
    return ChatChunk(id="chatcmpl-1", created=1_700_000_000, model="gpt-test", choices=[], usage=usage)


def calls(*deltas: ToolCallDelta, finish: FinishReason | None = None) -> ChatChunk:
    return chunk(tool_calls=list(deltas), finish=finish)


def stream(*chunks: ChatChunk, **body: Any) -> tuple[ResponsesStreamEncoder, list[JSON]]:
    """start, feed every chunk, finish: the encoder and every event, in order."""
    encoding = encoder(**body)
    events = encoding.start_events()
    for item in chunks:
        events += encoding.events(item)
    return encoding, events + encoding.finish_events()


def failed_stream(
    *chunks: ChatChunk,
    status: int = 504,
    error: JSON = UPSTREAM_TIMEOUT,
) -> tuple[ResponsesStreamEncoder, list[JSON]]:
    """start, feed every chunk, then the upstream failure (`status`, OpenAI error object) that ends it."""
    encoding = encoder()
    events = encoding.start_events()
    for item in chunks:
        events += encoding.events(item)
    return encoding, events + encoding.fail_events(status, error)


def types(events: list[JSON]) -> list[str]:
    return [event["type"] for event in events]


def of_type(events: list[JSON], kind: str) -> list[JSON]:
    return [event for event in events if event["type"] == kind]


def spec_problems(events: list[JSON]) -> list[str]:
    """Every event's violations of both specs, less the accepted divergences."""
    return [
        f"#{index} {event['type']}: {line}"
        for index, event in enumerate(events)
        for line in event_violations(event)
        if not _SNAPSHOT_USAGE.fullmatch(line) and not _ORS_SCHEMA_NULL.match(line)
    ]


def assert_consistent(events: list[JSON]) -> None:
    """What every sequence must satisfy: sequence numbers 0, 1, 2…; each item opens once at a new output_index,
    every event about it names its id and index, it closes once; the terminal resource's output is exactly the
    closed items, in output_index order; nothing follows the terminal event."""
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    assert types(events)[:2] == [CREATED, IN_PROGRESS]
    assert events[-1]["type"] in (COMPLETED, "response.incomplete", "response.failed")
    opened = {event["output_index"]: event["item"] for event in of_type(events, ITEM_ADDED)}
    assert sorted(opened) == list(range(len(opened))), "output indexes are not 0, 1, 2…"
    assert len(opened) == len(of_type(events, ITEM_ADDED)), "an output_index was opened twice"
    for event in events:
        if "item_id" in event:
            assert opened[event["output_index"]]["id"] == event["item_id"], f"item id mismatch in {event}"
    done = of_type(events, ITEM_DONE)
    assert [event["output_index"] for event in done] == sorted(event["output_index"] for event in done)
    for event in done:
        assert event["item"]["id"] == opened[event["output_index"]]["id"]
        assert event["item"]["type"] == opened[event["output_index"]]["type"]
    assert events[-1]["response"]["output"] == [event["item"] for event in done]


def masked(item: JSON) -> JSON:
    """`item` with its generated id checked and replaced by its prefix and `*`."""
    assert re.fullmatch(r"(msg|fc|rs)_[0-9a-f]{32}", item["id"]), item["id"]
    return {**item, "id": item["id"].split("_")[0] + "_*"}


# -- text ---------------------------------------------------------------------------------------------------


def test_plain_text_sequence() -> None:
    _, events = stream(
        chunk(role="assistant", content=""), chunk(content="Hel"), chunk(content="lo!", finish="stop"), usage_chunk()
    )
    assert types(events) == [
        CREATED,
        IN_PROGRESS,
        ITEM_ADDED,
        PART_ADDED,
        TEXT_DELTA,
        TEXT_DELTA,
        TEXT_DONE,
        PART_DONE,
        ITEM_DONE,
        COMPLETED,
    ]
    assert_consistent(events)
    assert spec_problems(events) == []


def test_plain_text_golden_fields() -> None:
    _, events = stream(chunk(content="Hel"), chunk(content="lo!", finish="stop"), usage_chunk())
    added, part_added, delta_1, delta_2, text_done, part_done, item_done = events[2:9]
    place = {"item_id": added["item"]["id"], "output_index": 0, "content_index": 0}
    assert masked(added["item"]) == {
        "id": "msg_*",
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    assert part_added == {
        "type": PART_ADDED,
        "sequence_number": 3,
        **place,
        "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []},
    }
    assert delta_1 == {"type": TEXT_DELTA, "sequence_number": 4, **place, "delta": "Hel", "logprobs": []}
    assert delta_2["delta"] == "lo!"
    assert text_done == {"type": TEXT_DONE, "sequence_number": 6, **place, "text": "Hello!", "logprobs": []}
    assert part_done == {
        "type": PART_DONE,
        "sequence_number": 7,
        **place,
        "part": {"type": "output_text", "text": "Hello!", "annotations": [], "logprobs": []},
    }
    assert masked(item_done["item"]) == {
        "id": "msg_*",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Hello!", "annotations": [], "logprobs": []}],
    }


def test_snapshots_are_in_progress_and_empty() -> None:
    _, events = stream(chunk(content="x"))
    for event in events[:2]:
        snapshot = event["response"]
        assert (snapshot["id"], snapshot["status"], snapshot["output"], snapshot["usage"]) == (
            "resp_test",
            "in_progress",
            [],
            None,
        )
        assert (snapshot["completed_at"], snapshot["error"], snapshot["incomplete_details"]) == (None, None, None)


def test_completed_resource_carries_status_output_text_and_usage() -> None:
    encoding, events = stream(chunk(content="Hi"), chunk(finish="stop"), usage_chunk())
    final = events[-1]["response"]
    assert (final["status"], final["output_text"], final["usage"], final["error"]) == (
        "completed",
        "Hi",
        WIRE_USAGE,
        None,
    )
    assert isinstance(final["completed_at"], int)
    assert encoding.final is final


def test_role_only_chunks_and_other_choices_emit_nothing() -> None:
    encoding = encoder()
    encoding.start_events()
    other = ChatChunk(id="c", created=0, model="m", choices=[ChunkChoice(1, Delta(content="other choice"))])
    assert encoding.events(chunk(role="assistant", content="")) == []
    assert encoding.events(other) == []
    assert encoding.events(usage_chunk()) == []


# -- tool calls ---------------------------------------------------------------------------------------------


def test_text_then_tool_call_closes_the_message_first() -> None:
    _, events = stream(
        chunk(content="Let me check."),
        calls(ToolCallDelta(0, id="call_1", name="get_weather", arguments='{"city":')),
        calls(ToolCallDelta(0, arguments='"Paris"}'), finish="tool_calls"),
        usage_chunk(),
    )
    assert types(events) == [
        CREATED,
        IN_PROGRESS,
        ITEM_ADDED,
        PART_ADDED,
        TEXT_DELTA,
        TEXT_DONE,
        PART_DONE,
        ITEM_DONE,
        ITEM_ADDED,
        ARGS_DELTA,
        ARGS_DELTA,
        ARGS_DONE,
        ITEM_DONE,
        COMPLETED,
    ]
    assert_consistent(events)
    assert spec_problems(events) == []
    call_added, args_done, call_done = events[8], events[11], events[12]
    assert call_added["output_index"] == 1
    assert masked(call_added["item"]) == {
        "id": "fc_*",
        "type": "function_call",
        "status": "in_progress",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": "",
    }
    assert args_done == {
        "type": ARGS_DONE,
        "sequence_number": 11,
        "item_id": call_added["item"]["id"],
        "output_index": 1,
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }
    assert masked(call_done["item"]) == {
        "id": "fc_*",
        "type": "function_call",
        "status": "completed",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }
    assert events[-1]["response"]["status"] == "completed"


def test_parallel_tool_calls_streamed_one_after_the_other() -> None:
    _, events = stream(
        calls(ToolCallDelta(0, id="call_a", name="f", arguments='{"n":')),
        calls(ToolCallDelta(0, arguments="1}")),
        calls(ToolCallDelta(1, id="call_b", name="g", arguments='{"n":2}')),
        chunk(finish="tool_calls"),
        usage_chunk(),
    )
    assert types(events) == [
        CREATED,
        IN_PROGRESS,
        ITEM_ADDED,
        ARGS_DELTA,
        ARGS_DELTA,
        ITEM_ADDED,
        ARGS_DELTA,
        ARGS_DONE,
        ITEM_DONE,
        ARGS_DONE,
        ITEM_DONE,
        COMPLETED,
    ]
    assert_consistent(events)
    assert spec_problems(events) == []
    output = events[-1]["response"]["output"]
    assert [(item["call_id"], item["name"], item["arguments"]) for item in output] == [
        ("call_a", "f", '{"n":1}'),
        ("call_b", "g", '{"n":2}'),
    ]


def test_parallel_tool_calls_with_interleaved_deltas() -> None:
    _, events = stream(
        calls(ToolCallDelta(0, id="call_a", name="f"), ToolCallDelta(1, id="call_b", name="g")),
        calls(ToolCallDelta(1, arguments='{"b"')),
        calls(ToolCallDelta(0, arguments='{"a"')),
        calls(ToolCallDelta(0, arguments=":1}"), ToolCallDelta(1, arguments=":2}")),
        chunk(finish="tool_calls"),
        usage_chunk(),
    )
    assert_consistent(events)
    assert spec_problems(events) == []
    first, second = (event["item"] for event in of_type(events, ITEM_ADDED))
    deltas = [(event["item_id"], event["output_index"], event["delta"]) for event in of_type(events, ARGS_DELTA)]
    assert deltas == [
        (second["id"], 1, '{"b"'),
        (first["id"], 0, '{"a"'),
        (first["id"], 0, ":1}"),
        (second["id"], 1, ":2}"),
    ]
    assert [(event["item_id"], event["arguments"]) for event in of_type(events, ARGS_DONE)] == [
        (first["id"], '{"a":1}'),
        (second["id"], '{"b":2}'),
    ]
    assert [item["call_id"] for item in events[-1]["response"]["output"]] == ["call_a", "call_b"]


def test_tool_call_whose_first_delta_has_no_arguments() -> None:
    _, events = stream(
        calls(ToolCallDelta(0, id="call_1", name="noop")),
        calls(ToolCallDelta(0, arguments="{}")),
        chunk(finish="tool_calls"),
        usage_chunk(),
    )
    assert types(events) == [CREATED, IN_PROGRESS, ITEM_ADDED, ARGS_DELTA, ARGS_DONE, ITEM_DONE, COMPLETED]
    assert events[2]["item"]["arguments"] == ""
    assert events[3]["delta"] == "{}"
    assert_consistent(events)
    assert spec_problems(events) == []


def test_tool_call_without_any_arguments_is_done_with_empty_arguments() -> None:
    _, events = stream(calls(ToolCallDelta(0, id="call_1", name="noop"), finish="tool_calls"), usage_chunk())
    assert types(events) == [CREATED, IN_PROGRESS, ITEM_ADDED, ARGS_DONE, ITEM_DONE, COMPLETED]
    assert events[3]["arguments"] == ""
    assert_consistent(events)
    assert spec_problems(events) == []


def test_text_after_a_tool_call_opens_a_new_message() -> None:
    _, events = stream(
        chunk(content="A"),
        calls(ToolCallDelta(0, id="call_1", name="f", arguments="{}")),
        chunk(content="B"),
        usage_chunk(),
    )
    assert_consistent(events)
    assert spec_problems(events) == []
    assert [item["type"] for item in events[-1]["response"]["output"]] == ["message", "function_call", "message"]


# -- reasoning and refusal ----------------------------------------------------------------------------------


def test_reasoning_then_text() -> None:
    _, events = stream(
        chunk(reasoning_content="Think"), chunk(reasoning_content="ing."), chunk(content="Answer."), usage_chunk()
    )
    assert types(events) == [
        CREATED,
        IN_PROGRESS,
        ITEM_ADDED,
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        ITEM_DONE,
        ITEM_ADDED,
        PART_ADDED,
        TEXT_DELTA,
        TEXT_DONE,
        PART_DONE,
        ITEM_DONE,
        COMPLETED,
    ]
    assert_consistent(events)
    assert spec_problems(events) == []
    reasoning_id = events[2]["item"]["id"]
    assert masked(events[2]["item"]) == {"id": "rs_*", "type": "reasoning", "summary": []}
    assert events[3] == {
        "type": "response.reasoning_summary_part.added",
        "sequence_number": 3,
        "item_id": reasoning_id,
        "output_index": 0,
        "summary_index": 0,
        "part": {"type": "summary_text", "text": ""},
    }
    assert events[6]["text"] == "Thinking."
    assert events[7]["part"] == {"type": "summary_text", "text": "Thinking."}
    assert masked(events[8]["item"]) == {
        "id": "rs_*",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Thinking."}],
    }
    assert events[9]["output_index"] == 1


def test_reasoning_then_tool_call() -> None:
    _, events = stream(
        chunk(reasoning_content="Use the tool."),
        calls(ToolCallDelta(0, id="call_1", name="f", arguments="{}")),
        usage_chunk(),
    )
    assert_consistent(events)
    assert spec_problems(events) == []
    assert [item["type"] for item in events[-1]["response"]["output"]] == ["reasoning", "function_call"]


def test_refusal() -> None:
    _, events = stream(chunk(refusal="I can't "), chunk(refusal="help.", finish="stop"), usage_chunk())
    assert types(events) == [
        CREATED,
        IN_PROGRESS,
        ITEM_ADDED,
        PART_ADDED,
        "response.refusal.delta",
        "response.refusal.delta",
        "response.refusal.done",
        PART_DONE,
        ITEM_DONE,
        COMPLETED,
    ]
    assert_consistent(events)
    assert spec_problems(events) == []
    assert events[3]["part"] == {"type": "refusal", "refusal": ""}
    assert events[6]["refusal"] == "I can't help."
    assert events[7]["part"] == {"type": "refusal", "refusal": "I can't help."}
    assert events[-1]["response"]["output"][0]["content"] == [{"type": "refusal", "refusal": "I can't help."}]


def test_text_then_refusal_are_two_parts_of_one_message() -> None:
    _, events = stream(chunk(content="Partly: "), chunk(refusal="no."), usage_chunk())
    assert_consistent(events)
    assert spec_problems(events) == []
    # Which part each event is about (not the interleaving: both parts close when the message does).
    assert sorted((event["content_index"], event["type"]) for event in events if "content_index" in event) == [
        (0, PART_ADDED),
        (0, PART_DONE),
        (0, TEXT_DELTA),
        (0, TEXT_DONE),
        (1, PART_ADDED),
        (1, PART_DONE),
        (1, "response.refusal.delta"),
        (1, "response.refusal.done"),
    ]
    assert len(of_type(events, ITEM_ADDED)) == 1
    assert events[-1]["response"]["output"][0]["content"] == [
        {"type": "output_text", "text": "Partly: ", "annotations": [], "logprobs": []},
        {"type": "refusal", "refusal": "no."},
    ]


# -- endings ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("finish", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")])
def test_truncated_answer_ends_incomplete(finish: FinishReason, reason: str) -> None:
    _, events = stream(chunk(content="Once upon"), chunk(finish=finish), usage_chunk())
    assert types(events)[-2:] == [ITEM_DONE, "response.incomplete"]
    assert_consistent(events)
    assert spec_problems(events) == []
    final = events[-1]["response"]
    assert (final["status"], final["incomplete_details"], final["completed_at"]) == (
        "incomplete",
        {"reason": reason},
        None,
    )
    assert final["output"][0]["content"][0]["text"] == "Once upon"


def test_usage_chunk_becomes_the_final_usage() -> None:
    _, events = stream(chunk(content="x", finish="stop"), usage_chunk(Usage(7, 2, 0)))
    assert events[-1]["response"]["usage"] == {
        "input_tokens": 7,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 2,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 9,
    }


def test_empty_stream_is_created_in_progress_completed() -> None:
    _, events = stream()
    assert types(events) == [CREATED, IN_PROGRESS, COMPLETED]
    assert_consistent(events)
    assert (events[-1]["response"]["status"], events[-1]["response"]["output"]) == ("completed", [])


# -- failure ------------------------------------------------------------------------------------------------


def test_failure_after_text_ends_with_error_then_failed() -> None:
    encoding, events = failed_stream(chunk(content="Hel"))
    assert types(events) == [CREATED, IN_PROGRESS, ITEM_ADDED, PART_ADDED, TEXT_DELTA, "error", "response.failed"]
    assert [event["sequence_number"] for event in events] == list(range(7))
    final = events[6]["response"]
    assert (final["status"], final["error"], final["completed_at"]) == (
        "failed",
        {"code": "server_error", "message": "The upstream timed out."},
        None,
    )
    # The open message never completed: it is not part of the failed resource's output.
    assert final["output"] == []
    assert encoding.final is final


def test_error_event_carries_the_error_nested_and_at_top_level() -> None:
    _, events = failed_stream(chunk(content="Hel"))
    assert events[5] == {
        "type": "error",
        "sequence_number": 5,
        "code": "upstream_timeout",
        "message": "The upstream timed out.",
        "param": None,
        "error": UPSTREAM_TIMEOUT,
    }


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (429, "rate_limit_exceeded"),
        (400, "invalid_prompt"),
        (404, "invalid_prompt"),
        (500, "server_error"),
        (502, "server_error"),
        (504, "server_error"),
    ],
)
def test_failed_response_error_code_is_from_openais_closed_set(status: int, code: str) -> None:
    _, events = failed_stream(chunk(content="Hel"), status=status)
    assert events[-1]["response"]["error"]["code"] == code
    assert code in OPENAI_ERROR_CODES


def test_failure_keeps_items_closed_before_it() -> None:
    _, events = failed_stream(chunk(reasoning_content="Hmm."), chunk(content="Hel"))
    assert [item["type"] for item in events[-1]["response"]["output"]] == ["reasoning"]
    assert [event["output_index"] for event in of_type(events, ITEM_DONE)] == [0]
    assert of_type(events, ITEM_ADDED)[1]["output_index"] == 1


def test_failure_events_satisfy_both_specs() -> None:
    # Usage before the failure isolates the failure's own shapes from the null-usage case below.
    _, events = failed_stream(usage_chunk(), chunk(content="Hel"))
    assert spec_problems(events) == []


@pytest.mark.parametrize("ending", ["finish", "fail"])
def test_terminal_resource_without_upstream_usage_satisfies_both_specs(ending: str) -> None:
    _, events = stream(chunk(content="Hi")) if ending == "finish" else failed_stream(chunk(content="Hi"))
    assert spec_problems(events) == []


# -- echoed settings ----------------------------------------------------------------------------------------

JSON_SCHEMA_FORMAT = {
    "type": "json_schema",
    "name": "city",
    "description": "A city",
    "strict": True,
    "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
}


def test_events_of_a_request_with_tools_and_a_json_schema_format_satisfy_both_specs() -> None:
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    _, events = stream(
        chunk(content='{"name":"Paris"}'),
        usage_chunk(),
        tools=[tool],
        text={"format": JSON_SCHEMA_FORMAT},
        metadata={"team": "a"},
        reasoning={"effort": "low"},
    )
    assert spec_problems(events) == []
    assert events[-1]["response"]["text"] == {"format": JSON_SCHEMA_FORMAT}


def test_echoed_json_schema_format_always_has_strict() -> None:
    fmt = {"type": "json_schema", "name": "city", "schema": {"type": "object"}}
    _, events = stream(chunk(content="{}"), usage_chunk(), text={"format": fmt})
    assert isinstance(events[-1]["response"]["text"]["format"].get("strict"), bool)
