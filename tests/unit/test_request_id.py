"""Request ids (observability/request_id.py)."""

from __future__ import annotations

import pytest

from babelgate.observability.request_id import RequestIds

request_id = RequestIds()


@pytest.mark.parametrize("value", [b"abc-123", b"req_1.2:3", b"x" * 128])
def test_sane_client_id_is_kept(value: bytes) -> None:
    assert request_id(value) == value


@pytest.mark.parametrize("value", [None, b"", b"x" * 129, b"has space", b"line\nbreak", b"<script>"])
def test_other_ids_are_replaced_by_24_hex_digits(value: bytes | None) -> None:
    generated = request_id(value)
    assert generated != value
    assert len(generated) == 24
    assert int(generated, 16) >= 0


def test_id_with_a_trailing_newline_is_replaced() -> None:
    assert request_id(b"abc\n") != b"abc\n"
