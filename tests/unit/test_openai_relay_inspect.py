"""The fast path's per-frame byte search (providers/openai/frames.py `_inspect`)."""

from __future__ import annotations

import pytest

from babelgate.errors import UpstreamProtocolError
from babelgate.providers.base import CallNotes
from babelgate.providers.openai.frames import _inspect, relay_read
from babelgate.schema.chat import Usage


def inspect(*frames: bytes) -> CallNotes:
    notes = CallNotes()
    for data in frames:
        _inspect(data, notes, "openai")
    return notes


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}', "stop"),
        (b'{"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}', "length"),
        (b'{"choices":[{"finish_reason" : "tool_calls"}]}', "tool_calls"),
        (b'{"choices":[{"finish_reason":   "content_filter"}]}', "content_filter"),
        (b'{"choices":[{"delta":{"content":"x"},"finish_reason":null}]}', None),
        (b'{"choices":[{"delta":{"content":"x"}}]}', None),
        # A quoted key inside content is escaped on the wire, so it is not mistaken for the real one.
        (b'{"choices":[{"delta":{"content":"say \\"finish_reason\\": \\"stop\\""},"finish_reason":null}]}', None),
    ],
)
def test_finish_reason_detection(data: bytes, reason: str | None) -> None:
    notes = inspect(data)
    assert notes.finish_reason == reason
    assert notes.usage is None


def test_finish_reason_is_kept_when_later_chunks_have_none() -> None:
    notes = inspect(b'{"choices":[{"finish_reason":"stop"}]}', b'{"choices":[],"usage":null}')
    assert notes.finish_reason == "stop"


@pytest.mark.parametrize("data", [b'{"usage":null, not json', b'{"usage": null, not json', b'{"usage" : null ,'])
def test_null_usage_is_not_parsed(data: bytes) -> None:
    notes = inspect(data)  # would raise UpstreamProtocolError if it were parsed
    assert notes.usage is None


@pytest.mark.parametrize(
    "data",
    [
        b'{"id":"c","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}',
        b'{"id": "c", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}}',
        b'{"usage" :  {"prompt_tokens":9,"completion_tokens":3}}',
    ],
)
def test_non_null_usage_is_parsed(data: bytes) -> None:
    assert inspect(data).usage == Usage(9, 3, 12)


def test_usage_details_are_parsed() -> None:
    data = (
        b'{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,'
        b'"prompt_tokens_details":{"cached_tokens":5},"completion_tokens_details":{"reasoning_tokens":2}}}'
    )
    usage = inspect(data).usage
    assert usage is not None
    assert (usage.cached_tokens, usage.reasoning_tokens) == (5, 2)


def test_finish_reason_and_usage_in_the_same_chunk() -> None:
    data = b'{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}'
    notes = inspect(data)
    assert notes.finish_reason == "stop"
    assert notes.usage == Usage(1, 2, 3)


def test_usage_is_not_cleared_by_a_later_null() -> None:
    notes = inspect(b'{"usage":{"prompt_tokens":1,"completion_tokens":2}}', b'{"usage":null}')
    assert notes.usage == Usage(1, 2, 3)


def test_non_null_usage_in_a_frame_that_is_not_json_raises() -> None:
    with pytest.raises(UpstreamProtocolError) as caught:
        inspect(b'{"usage":{"prompt_tokens":1} garbage')
    assert caught.value.params == {"provider": "openai", "detail": "a stream event is not JSON"}


def test_inspect_leaves_adjusted_and_completed_alone() -> None:
    notes = inspect(b'{"choices":[{"finish_reason":"stop"}],"usage":{"prompt_tokens":1}}')
    assert notes.adjusted == []
    assert notes.completed is False


# --- relay_read: one read's frames as the client gets them -------------------------------------------------

PLAIN = b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}\n\n'
FINISH = b'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}\n\n'
USAGE = b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n'
DONE = b"data: [DONE]\n\n"


def test_relay_read_hides_the_usage_it_asked_for_and_ends_at_done() -> None:
    notes = CallNotes()
    out, ended, error = relay_read([PLAIN, FINISH, USAGE, DONE, PLAIN], notes, "openai", str, True)
    assert error is None and ended and notes.completed
    # the usage chunk read, not relayed; every `"usage":null` cut; nothing after [DONE]
    assert out == PLAIN.replace(b',"usage":null', b"") + FINISH.replace(b',"usage":null', b"") + DONE
    assert notes.finish_reason == "stop"
    assert notes.usage == Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)


def test_relay_read_relays_usage_the_client_asked_for_and_reads_on_without_done() -> None:
    notes = CallNotes()
    out, ended, error = relay_read([b": keep-alive\n\n", PLAIN, USAGE], notes, "openai", str, False)
    assert (out, ended, error) == (b": keep-alive\n\n" + PLAIN + USAGE, False, None)
    assert not notes.completed and notes.usage is not None


def test_relay_read_hands_back_the_frames_before_an_error_event_and_the_error() -> None:
    error_frame = b'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n'
    out, ended, error = relay_read([PLAIN, error_frame, PLAIN], CallNotes(), "openai", str, False)
    assert out == PLAIN and not ended
    assert error is not None and "overloaded" in str(error)


def test_relay_read_raises_an_event_that_is_not_json() -> None:
    with pytest.raises(UpstreamProtocolError):
        relay_read([PLAIN, b"data: not json\n\n"], CallNotes(), "openai", str, False)


# OpenAI's usual chunk is told by its head and tail alone; other layouts of the same event go the general way.
# Both must give the client the same bytes.
OTHER_LAYOUTS = [
    b'data:{"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}\n\n',
    b'data: {"object":"chat.completion.chunk","id":"c","choices":[{"delta":{"content":"Hi"},'
    b'"finish_reason":null}],"usage":null}\n\n',
    b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}], "usage": null}\n\n',
]


@pytest.mark.parametrize("hide_usage", [True, False])
@pytest.mark.parametrize("frame", [PLAIN, *OTHER_LAYOUTS])
def test_relay_read_relays_a_plain_chunk_alike_in_every_layout(frame: bytes, hide_usage: bool) -> None:
    notes = CallNotes()
    out, ended, error = relay_read([frame], notes, "openai", str, hide_usage)
    cut = frame.replace(b',"usage":null', b"").replace(b', "usage": null', b"")
    assert (out, ended, error) == (cut if hide_usage else frame, False, None)
    assert notes.finish_reason is None and notes.usage is None and not notes.completed
