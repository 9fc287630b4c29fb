"""TextPieces: the pieces of a streamed text, joined when read (babelgate.frontends.text_pieces)."""

from __future__ import annotations

from babelgate.frontends.text_pieces import TextPieces


def test_empty_text() -> None:
    assert TextPieces().text() == ""


def test_pieces_join_in_order_and_reading_twice_gives_the_same_text() -> None:
    pieces = TextPieces()
    for piece in ("Hel", "", "lo ", "wörld", '{"a": 1}'):
        pieces.add(piece)
    assert pieces.text() == 'Hello wörld{"a": 1}'
    assert pieces.text() == 'Hello wörld{"a": 1}'


def test_pieces_added_after_a_read_follow_the_text_read() -> None:
    pieces = TextPieces()
    pieces.add("a")
    pieces.add("b")
    assert pieces.text() == "ab"
    pieces.add("c")
    assert pieces.text() == "abc"


def test_a_long_stream_of_pieces_is_joined_whole() -> None:
    pieces = TextPieces()
    for index in range(20_000):
        pieces.add(f" w{index}")
    text = pieces.text()
    assert text.startswith(" w0 w1 ") and text.endswith(" w19999")
    assert len(text) == sum(len(f" w{index}") for index in range(20_000))
