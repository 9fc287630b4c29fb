"""SSE framing: the I/O-free decoder and the encoders (babelgate.streaming)."""

from __future__ import annotations

import itertools

import pytest

from babelgate.streaming import (
    SSE_DONE,
    SSEDecoder,
    SSEEvent,
    blank_line,
    encode_ndjson,
    encode_sse_event,
    encode_sse_json,
    frame_data,
    parse_frame,
)

SAMPLE = (
    b": keep-alive\n\n"
    b'data: {"a":1}\n\n'
    b"event: delta\nid: 7\ndata: line one\ndata: line two\n\n"
    b": comment inside a frame\ndata: h\xc3\xa9llo\n\n"
    b"data:no-space\n\n"
    b"data: [DONE]\n\n"
)
SAMPLE_EVENTS = [
    SSEEvent('{"a":1}'),
    SSEEvent("line one\nline two", event="delta", id="7"),
    SSEEvent("héllo"),
    SSEEvent("no-space"),
    SSEEvent("[DONE]"),
]
SAMPLE_FRAMES = [
    b": keep-alive\n\n",
    b'data: {"a":1}\n\n',
    b"event: delta\nid: 7\ndata: line one\ndata: line two\n\n",
    b": comment inside a frame\ndata: h\xc3\xa9llo\n\n",
    b"data:no-space\n\n",
    b"data: [DONE]\n\n",
]
LINE_ENDINGS = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}


def with_newline(data: bytes, newline: bytes) -> bytes:
    return data.replace(b"\n", newline)


def decode_in_two(data: bytes, split: int) -> list[SSEEvent]:
    decoder = SSEDecoder()
    return decoder.feed(data[:split]) + decoder.feed(data[split:]) + decoder.close()


@pytest.mark.parametrize("newline", LINE_ENDINGS.values(), ids=LINE_ENDINGS.keys())
def test_events_are_the_same_whatever_the_split_point(newline: bytes) -> None:
    data = with_newline(SAMPLE, newline)
    for split in range(len(data) + 1):
        assert decode_in_two(data, split) == SAMPLE_EVENTS, f"split at byte {split}"


@pytest.mark.parametrize("newline", LINE_ENDINGS.values(), ids=LINE_ENDINGS.keys())
def test_events_are_the_same_when_fed_byte_by_byte(newline: bytes) -> None:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for byte in with_newline(SAMPLE, newline):
        events += decoder.feed(bytes([byte]))
    assert events + decoder.close() == SAMPLE_EVENTS


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_frames_are_normalised_to_lf_at_every_split_point(newline: bytes) -> None:
    data = with_newline(SAMPLE, newline)
    for split in range(len(data) + 1):
        decoder = SSEDecoder()
        frames = decoder.feed_frames(data[:split]) + decoder.feed_frames(data[split:])
        assert frames == SAMPLE_FRAMES, f"split at byte {split}"
        assert decoder.pending == b""


def test_every_pair_of_split_points_gives_the_same_frames() -> None:
    data = with_newline(SAMPLE[:60], b"\r\n")
    expected = SSEDecoder().feed_frames(data)
    for first in range(len(data) + 1):
        for second in range(first, len(data) + 1):
            decoder = SSEDecoder()
            frames = (
                decoder.feed_frames(data[:first])
                + decoder.feed_frames(data[first:second])
                + decoder.feed_frames(data[second:])
            )
            assert frames == expected, (first, second)


def test_crlf_split_between_two_reads_is_one_line_ending() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n\r") == []
    assert decoder.feed(b"\n") == [SSEEvent("a")]
    assert decoder.pending == b""


def test_cr_held_at_the_end_of_a_read_is_a_line_ending_when_no_lf_follows() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\rdata: b\r\r") == [SSEEvent("a")]
    assert decoder.close() == [SSEEvent("b")]


def test_cr_followed_by_crlf_is_two_line_endings() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\r\n") == [SSEEvent("a")]


def test_lone_cr_line_endings() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\rdata: b\rdata: c\r\r: ping\r\rdata: d") == [SSEEvent("a"), SSEEvent("b\nc")]
    assert decoder.close() == [SSEEvent("d")]


def test_keep_alive_comments_are_frames_but_not_events() -> None:
    decoder = SSEDecoder()
    assert decoder.feed_frames(b": ping\n\n:\n\n") == [b": ping\n\n", b":\n\n"]
    assert SSEDecoder().feed(b": ping\n\n:\n\n") == []


def test_multi_line_data_is_joined_with_lf() -> None:
    assert SSEDecoder().feed(b'data: {\ndata:   "a": 1\ndata: }\n\n') == [SSEEvent('{\n  "a": 1\n}')]


def test_event_and_id_fields() -> None:
    events = SSEDecoder().feed(b"event: message_start\nid: 42\ndata: {}\n\nevent: ping\ndata: x\n\n")
    assert events == [SSEEvent("{}", event="message_start", id="42"), SSEEvent("x", event="ping")]


def test_only_one_space_after_the_colon_is_removed() -> None:
    assert SSEDecoder().feed(b"data:  two spaces\n\ndata:none\n\n") == [SSEEvent(" two spaces"), SSEEvent("none")]


def test_a_field_name_without_colon_has_an_empty_value() -> None:
    assert SSEDecoder().feed(b"data\n\n") == [SSEEvent("")]


def test_unknown_fields_are_ignored() -> None:
    assert SSEDecoder().feed(b"retry: 1000\nfoo: bar\ndata: x\n\nretry: 5\n\n") == [SSEEvent("x")]


def test_several_frames_in_one_read() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 1\n\ndata: 2\n\ndata: 3") == [SSEEvent("1"), SSEEvent("2")]
    assert decoder.pending == b"data: 3"
    assert decoder.close() == [SSEEvent("3")]


def test_extra_blank_lines_between_frames_give_no_events() -> None:
    assert SSEDecoder().feed(b"data: 1\n\n\n\n\ndata: 2\n\n") == [SSEEvent("1"), SSEEvent("2")]


def test_multibyte_utf8_split_across_reads() -> None:
    data = "data: 日本語 ✓\n\n".encode()
    for split in range(len(data) + 1):
        assert decode_in_two(data, split) == [SSEEvent("日本語 ✓")]


def test_close_returns_a_last_frame_without_blank_line_and_resets() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: last\n") == []
    assert decoder.close() == [SSEEvent("last")]
    assert decoder.pending == b""
    assert decoder.close() == []


def test_close_with_a_pending_cr() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r") == []
    assert decoder.close() == [SSEEvent("x")]
    # The held CR does not leak into the next stream.
    assert decoder.feed(b"\ndata: y\n\n") == [SSEEvent("y")]


def test_close_with_only_a_comment_or_newlines_is_empty() -> None:
    decoder = SSEDecoder()
    decoder.feed(b": bye")
    assert decoder.close() == []
    decoder.feed(b"\n")
    assert decoder.close() == []


def test_parse_frame_of_a_comment_only_frame_is_none() -> None:
    assert parse_frame(b": just a comment\n\n") is None
    assert parse_frame(b"id: 3\n\n") is None


@pytest.mark.parametrize(
    ("frame", "data"),
    [
        (b'data: {"x":1}\n\n', b'{"x":1}'),
        (b'data:{"x":1}\n\n', b'{"x":1}'),
        (b"data: [DONE]\n\n", b"[DONE]"),
        (b"data: a\ndata: b\n\n", b"a\nb"),
        (b"event: e\ndata: d\n\n", b"d"),
        (b"id: 1\ndata: d\n\n", b"d"),
        (b": ping\n\n", None),
        (b"\n\n", None),
        ("data: é\n\n".encode(), "é".encode()),
    ],
)
def test_frame_data(frame: bytes, data: bytes | None) -> None:
    assert frame_data(frame) == data


def test_encoders_write_exact_bytes() -> None:
    assert encode_sse_json({"a": [1, None], "b": "é"}) == b'data: {"a":[1,null],"b":"\xc3\xa9"}\n\n'
    assert encode_sse_event("message_stop", {"type": "message_stop"}) == (
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    assert encode_ndjson({"done": True}) == b'{"done":true}\n'
    assert SSE_DONE == b"data: [DONE]\n\n"


def test_encoded_frames_decode_back() -> None:
    stream = encode_sse_json({"k": "v\nw"}) + encode_sse_event("e", [1]) + SSE_DONE
    assert SSEDecoder().feed(stream) == [SSEEvent('{"k":"v\\nw"}'), SSEEvent("[1]", event="e"), SSEEvent("[DONE]")]


@pytest.mark.parametrize(
    ("frame", "event"),
    [
        # One `data: ` line takes the short road; the rest the line loop; both must agree on everything.
        (b'data: {"x":1}\n\n', SSEEvent('{"x":1}')),
        (b"data: \n\n", SSEEvent("")),
        (b"data:  two spaces\n\n", SSEEvent(" two spaces")),
        (b"data: \xc3\xa9\xff\n\n", SSEEvent("\u00e9\ufffd")),  # invalid UTF-8 is replaced, not fatal
        (b"data: a\ndata: b\n\n", SSEEvent("a\nb")),
        (b"data: a\n: comment\n\n", SSEEvent("a")),
        (b"event: e\ndata: d\n\n", SSEEvent("d", event="e")),
        (b"data: d\nid: 7\n\n", SSEEvent("d", id="7")),
        # An `event:` line and one `data:` line take the second short road.
        (b'event: content_block_delta\ndata: {"a":1}\n\n', SSEEvent('{"a":1}', event="content_block_delta")),
        (b"event: \xc3\xa9:x\ndata:  d: \xff\n\n", SSEEvent(" d: \ufffd", event="\u00e9:x")),
        (b"event: e\ndata: \n\n", SSEEvent("", event="e")),
        (b"event: e\ndata: a\ndata: b\n\n", SSEEvent("a\nb", event="e")),
        (b"event: e\ndata: d\nid: 7\n\n", SSEEvent("d", event="e", id="7")),
        (b"event: e\ndata:d\n\n", SSEEvent("d", event="e")),
        (b"event: e\n\n", SSEEvent("", event="e")),
        (b"event: e\n: comment\ndata: d\n\n", SSEEvent("d", event="e")),
    ],
)
def test_parse_frame_short_road_and_line_loop_agree(frame: bytes, event: SSEEvent) -> None:
    assert parse_frame(frame) == event


def test_a_large_frame_over_many_reads_is_one_frame() -> None:
    frame = b"data: " + b"x" * 300_000 + b"\n\n"
    decoder = SSEDecoder()
    frames = []
    for start in range(0, len(frame), 4096):
        frames += decoder.feed_frames(frame[start : start + 4096])
    assert frames == [frame]
    assert decoder.pending == b""


def test_a_blank_line_split_across_held_reads_ends_the_frame() -> None:
    decoder = SSEDecoder()
    assert decoder.feed_frames(b"data: a") == []
    assert decoder.feed_frames(b"bc\n") == []
    assert decoder.pending == b"data: abc\n"
    assert decoder.feed_frames(b"\ndata: d") == [b"data: abc\n\n"]
    assert decoder.pending == b"data: d"


def test_blank_line_finds_what_a_search_for_both_bytes_finds() -> None:
    # Every text of up to seven bytes of `a`, `\n` and `\r`, from every position and one past the end.
    texts = [bytes(letters) for size in range(8) for letters in itertools.product(b"a\n\r", repeat=size)]
    assert len(texts) == sum(3**size for size in range(8))
    for text in texts:
        for at in range(len(text) + 2):
            assert blank_line(text, at) == text.find(b"\n\n", at), (text, at)
