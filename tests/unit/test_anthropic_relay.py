"""The native Messages road's relay (providers/anthropic/relay.py): what it reads of each frame."""

from __future__ import annotations

from babelgate.providers.anthropic.relay import account, event_name
from babelgate.providers.base import CallNotes
from tests.fakes.anthropic_upstream import sse_frame, text_events, usage


def test_event_name_from_the_first_line_or_any() -> None:
    assert event_name(b"event: message_delta\ndata: {}\n\n") == b"message_delta"
    assert event_name(b"event:ping\ndata: {}\n\n") == b"ping"
    assert event_name(b"id: 7\nevent: error\ndata: {}\n\n") == b"error"
    assert event_name(b"data: {}\n\n") is None


def test_usage_and_finish_from_start_and_delta() -> None:
    events = text_events(["Hi"], input_tokens=20, output_tokens=6)
    notes = CallNotes()
    folded: dict[str, object] = {}
    for event in events:
        if event["type"] in ("message_start", "message_delta"):
            assert event_name(sse_frame(event)) == event["type"].encode()
            account(event, folded, notes)
    assert notes.usage is not None
    assert (notes.usage.prompt_tokens, notes.usage.completion_tokens) == (20, 6)
    assert notes.finish_reason == "stop"


def test_cache_counts_repeated_in_message_delta_win() -> None:
    notes = CallNotes()
    folded: dict[str, object] = {}
    account({"type": "message_start", "message": {"usage": usage(10, 1)}}, folded, notes)
    account(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 9, "cache_read_input_tokens": 30, "input_tokens": None},
        },
        folded,
        notes,
    )
    assert notes.usage is not None
    assert (notes.usage.prompt_tokens, notes.usage.cached_tokens, notes.usage.completion_tokens) == (40, 30, 9)
    assert notes.finish_reason == "tool_calls"


def test_a_whole_message() -> None:
    notes = CallNotes()
    message = {"type": "message", "stop_reason": "max_tokens", "usage": usage(5, 7)}
    account(message, {}, notes)
    assert notes.finish_reason == "length" and notes.usage is not None and notes.usage.total_tokens == 12
