"""A request's headers by name (`Call.header`): the first of a repeated header, as the scan before it answered."""

from __future__ import annotations

from babelgate.call import Call


def test_a_header_sent_twice_is_read_as_its_first() -> None:
    call = Call("chat.completions", b"id", [(b"x-api-key", b"first"), (b"accept", b"*/*"), (b"x-api-key", b"second")])
    assert call.header(b"x-api-key") == b"first"
    assert call.header(b"accept") == b"*/*"
    assert call.header(b"authorization") is None
