"""Secrets kept out of logs and relayed messages (observability/logging.py)."""

from __future__ import annotations

import logging

import pytest

from babelgate.observability.logging import REDACTED, Scrubber, ScrubbingFilter


def test_known_secret_is_replaced_wherever_it_appears() -> None:
    scrub = Scrubber(["local-key-42"])
    assert scrub("key local-key-42 and again local-key-42.") == f"key {REDACTED} and again {REDACTED}."


def test_longer_secret_containing_a_shorter_one_is_replaced_whole() -> None:
    scrub = Scrubber(["abcd", "abcdefgh"])
    assert scrub("x abcdefgh y abcd") == f"x {REDACTED} y {REDACTED}"


def test_secrets_shorter_than_four_characters_are_not_replaced() -> None:
    assert Scrubber(["abc", ""])("abc is fine") == "abc is fine"


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("key sk-abcdefgh1234 rejected", f"key {REDACTED} rejected"),
        ("sk-proj-AbC_dEf-12345678", REDACTED),
        ("sk-ant-api03-abcdefghijklmnop", REDACTED),
        ("AIzaSyA1234567890abcdefghijklmnop", REDACTED),
        ("Authorization: Bearer eyJhbGciOi.abc-def_123", f"Authorization: {REDACTED}"),
        ("sk-short", "sk-short"),
        ("task-force and desk-top", "task-force and desk-top"),
        ("plain text, nothing secret", "plain text, nothing secret"),
    ],
)
def test_key_shapes_are_caught_without_knowing_the_value(text: str, scrubbed: str) -> None:
    assert Scrubber()(text) == scrubbed


def test_filter_scrubs_the_formatted_record() -> None:
    record = logging.LogRecord(
        "babelgate", logging.INFO, __file__, 1, "upstream said %s", ("bad key my-secret-1",), None
    )
    assert ScrubbingFilter(Scrubber(["my-secret-1"])).filter(record) is True
    assert record.getMessage() == f"upstream said bad key {REDACTED}"
    assert record.args is None


def test_filter_leaves_clean_records_untouched() -> None:
    record = logging.LogRecord("babelgate", logging.INFO, __file__, 1, "%d requests", (3,), None)
    ScrubbingFilter(Scrubber(["my-secret-1"])).filter(record)
    assert (record.msg, record.args) == ("%d requests", (3,))
