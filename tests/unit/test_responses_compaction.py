"""Compaction without a compacting provider (frontends/responses/compaction.py): the opaque item round-trips its
summary, anything else is refused, and a compacted window keeps only the user's messages before the item."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from babelgate.errors import InvalidRequest
from babelgate.frontends.responses.compaction import compacted_output, compaction_item, read_compaction
from babelgate.frontends.responses.translate import normalize_input
from babelgate.frontends.responses.validate import validate_input
from tests.fakes.openai_spec import schema_violations
from tests.responses_chat import chat_body
from tests.responses_spec import ORS_SPEC, compact_violations

JSON = dict[str, Any]
USAGE = {
    "input_tokens": 40,
    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
    "output_tokens": 8,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 48,
}


def content_of(payload: bytes) -> str:
    """An `encrypted_content` with this gateway's mark around `payload`."""
    return "bgc1." + base64.urlsafe_b64encode(payload).decode()


def user(item_id: str, text: str, **fields: Any) -> JSON:
    return {
        "id": item_id,
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_text", "text": text}],
        **fields,
    }


def conversation() -> list[JSON]:
    """A stored conversation: user turns, an assistant answer, a tool round trip, instructions-like messages."""
    return [
        {
            "id": "msg_sys",
            "type": "message",
            "role": "system",
            "status": "completed",
            "content": [{"type": "input_text", "text": "Be brief."}],
        },
        user("msg_u1", "Weather in Paris?"),
        {"id": "rs_1", "type": "reasoning", "summary": []},
        {
            "id": "fc_1",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
        {"id": "fco_1", "type": "function_call_output", "call_id": "call_1", "output": "18C"},
        {
            "id": "msg_a1",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "18C and sunny.", "annotations": []}],
        },
        {
            "id": "msg_dev",
            "type": "message",
            "role": "developer",
            "status": "completed",
            "content": [{"type": "input_text", "text": "Use Celsius."}],
        },
        user("msg_u2", "And tomorrow?"),
    ]


# -- the item -----------------------------------------------------------------------------------------------


def test_compaction_item_shape() -> None:
    item = compaction_item("Ada likes tea.")
    assert re.fullmatch(r"cmp_[0-9a-f]{32}", item["id"])
    assert {key: value for key, value in item.items() if key not in ("id", "encrypted_content")} == {
        "type": "compaction",
        "created_by": "babelgate",
    }
    assert item["encrypted_content"].startswith("bgc1.")
    assert "Ada" not in item["encrypted_content"]  # opaque, so that clients do not edit it


def test_compaction_items_have_distinct_ids() -> None:
    assert compaction_item("s")["id"] != compaction_item("s")["id"]


@pytest.mark.parametrize("summary", ["Ada likes tea.", "", 'Zeilen\nmit Ümlauten, emoji 🫖 and "quotes"', "x" * 5000])
def test_summary_round_trips_through_the_item(summary: str) -> None:
    assert read_compaction(compaction_item(summary)["encrypted_content"]) == (
        "Summary of the earlier conversation:\n" + summary
    )


def test_compaction_item_is_an_ors_compaction_body() -> None:
    assert schema_violations(compaction_item("Ada likes tea."), "CompactionBody", ORS_SPEC) == []


# -- refused content ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("gAAAAABpM0Yj-fake-openai-content=", id="foreign-openai"),
        pytest.param("", id="empty"),
        pytest.param("bgc1.", id="mark-only"),
        pytest.param("bgc2." + base64.urlsafe_b64encode(b'{"summary":"x"}').decode(), id="other-version"),
        pytest.param("bgc1.abc", id="bad-padding"),
        pytest.param("bgc1.!!!!", id="not-base64"),
        pytest.param("bgc1.ümlaut", id="not-ascii"),
        pytest.param(content_of(b"not json"), id="not-json"),
        pytest.param(content_of(b"\xff\xfe"), id="not-utf8"),
        pytest.param(content_of(b'["summary"]'), id="json-array"),
        pytest.param(content_of(b'"summary"'), id="json-string"),
        pytest.param(content_of(b"null"), id="json-null"),
        pytest.param(content_of(b"{}"), id="no-summary"),
        pytest.param(content_of(b'{"summary":5}'), id="summary-not-string"),
        pytest.param(content_of(b'{"summary":null}'), id="summary-null"),
    ],
)
def test_foreign_or_damaged_content_is_refused(content: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        read_compaction(content)
    assert (caught.value.message_key, caught.value.param) == ("invalid_compaction", "input")


def test_damaged_compaction_item_in_input_refuses_the_request() -> None:
    items = normalize_input([{"type": "compaction", "encrypted_content": "gAAAA-foreign"}])
    with pytest.raises(InvalidRequest) as caught:
        chat_body({"model": "gpt-test"}, [], items, [])
    assert caught.value.message_key == "invalid_compaction"


def test_damaged_compaction_item_is_named_by_its_path() -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_input(
            [
                {"type": "message", "role": "user", "content": "Hi"},
                {"type": "compaction", "encrypted_content": "gAAAA-foreign"},
            ]
        )
    assert caught.value.param == "input[1].encrypted_content"


# -- the compacted window -----------------------------------------------------------------------------------


def test_compacted_output_keeps_only_user_messages_then_the_item() -> None:
    output = compacted_output(conversation(), "Paris: 18C and sunny; the user wants Celsius.")
    assert output[:-1] == [user("msg_u1", "Weather in Paris?"), user("msg_u2", "And tomorrow?")]
    assert output[-1]["type"] == "compaction"
    assert read_compaction(output[-1]["encrypted_content"]).endswith("Paris: 18C and sunny; the user wants Celsius.")


def test_compacted_user_messages_get_an_id_and_a_completed_status() -> None:
    items = [
        {"type": "message", "role": "user", "content": "No id yet."},
        {"role": "user", "id": None, "status": "in_progress", "content": [{"type": "input_text", "text": "x"}]},
    ]
    kept = compacted_output(items, "s")[:-1]
    assert [item["status"] for item in kept] == ["completed", "completed"]
    assert all(re.fullmatch(r"msg_[0-9a-f]{32}", item["id"]) for item in kept)
    assert [item["content"] for item in kept] == ["No id yet.", [{"type": "input_text", "text": "x"}]]


def test_compacting_leaves_the_conversation_untouched() -> None:
    items = conversation()
    compacted_output(items, "s")
    assert items == conversation()


def test_a_previous_compaction_item_is_replaced_by_the_new_one() -> None:
    earlier = compaction_item("Older summary.")
    output = compacted_output([earlier, user("msg_u3", "Next?")], "Newer summary.")
    assert [item["type"] for item in output] == ["message", "compaction"]
    assert output[-1]["id"] != earlier["id"]
    assert read_compaction(output[-1]["encrypted_content"]).endswith("Newer summary.")


def test_conversation_without_user_messages_is_only_the_item() -> None:
    assert [item["type"] for item in compacted_output(conversation()[2:6], "s")] == ["compaction"]


def test_compacted_window_continues_as_a_chat_body() -> None:
    window = compacted_output(normalize_input([{"role": "user", "content": "Weather in Paris?"}]), "18C in Paris.")
    body, _ = chat_body({"model": "gpt-test"}, window, normalize_input("And tomorrow?"), [])
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
        {"role": "system", "content": "Summary of the earlier conversation:\n18C in Paris."},
        {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]},
    ]


def test_compact_resource_of_the_window_satisfies_both_specs() -> None:
    resource = {
        "id": "resp_test",
        "object": "response.compaction",
        "created_at": 1_767_225_600,
        "output": compacted_output(conversation(), "Paris: 18C."),
        "usage": USAGE,
    }
    assert compact_violations(resource) == []
