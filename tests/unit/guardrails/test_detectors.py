"""The built-in detectors against labelled texts: what each must find (in several formats and places) and the
near misses it must not (checksums that fail, dates and versions that look like numbers, hashes that look like
keys)."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babelgate.guardrails.pii import ENTITIES, scanner

FOUND = {
    "email": ["ada@example.com", "first.last+tag@mail.co.uk", "X_Y-z@sub.domain.io"],
    "phone": [
        "+44 20 7946 0958",
        "+1 (415) 555-0132",
        "(415) 555-0132",
        "415-555-0132",
        "415.555.0132",
        "07700 900123",
        "06 12 34 56 78",
        "+49 30 901820",
        "+91 98765 43210",
    ],
    "credit_card": ["4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444", "378282246310005"],
    "iban": ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR14 2004 1010 0505 0001 3M02 606"],
    "ssn": ["123-45-6789", "078 05 1120"],
    "ip": ["192.168.1.10", "10.0.12.7", "2001:db8::8a2e:370:7334", "fe80::1"],
    "secret": [
        "sk-proj-A1b2C3d4E5f6G7h8I9j0A1b2C3d4E5f6",
        "sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_" + "a1B2" * 9,
        "github_pat_11ABCDEFG0123456789_abcdefghij",
        "glpat-abcdefghij0123456789",
        "xoxb-1234567890-abcdefghij",
        "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
        "AIzaSyA1234567890abcdefghijklmnopqrstuv",
        "hf_" + "abcdefghij" * 3 + "AB",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    ],
}
MISSED = {
    "email": ["user at example dot com", "@handle", "a@b"],
    "phone": ["2024-01-15", "15/01/2024", "15.01.2024", "12:30:45", "v1.2.3", "1990-2005", "1234567", "$1,299.00"],
    "credit_card": ["4111 1111 1111 1112", "1234 5678 9012 3456", "order 4111111111111"],
    "iban": ["DE89 3704 0044 0532 0130 01", "GB82WEST1234569876543", "XX00 1234 5678"],
    "ssn": ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000", "123-45-67890"],
    "ip": ["1.2.3", "1.2.3.4.5", "256.1.1.1", "12:30:45", "version 10.2.0.1234"],
    "secret": [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "550e8400-e29b-41d4-a716-446655440000",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "the sk- prefix marks OpenAI keys",
        "risk-free",
    ],
}
CONTEXTS = ["{}", "Reach me at {} today.", "({})", "line one\n{}\nline three", '{{"value": "{}"}}']


@pytest.mark.parametrize(("entity", "value"), [(e, v) for e, values in FOUND.items() for v in values])
@pytest.mark.parametrize("context", CONTEXTS)
def test_each_entity_is_found_whole_wherever_it_is(entity: str, value: str, context: str) -> None:
    if context.startswith('{"') and "\n" in value:
        value = json.dumps(value)[1:-1]  # a PEM block inside JSON text: its newlines escaped
    text = context.format(value)
    findings = scanner([entity]).find(text)
    assert [text[f.start : f.end] for f in findings] == [value], (entity, text, findings)
    assert all(f.entity == entity for f in findings)


@pytest.mark.parametrize(("entity", "value"), [(e, v) for e, values in MISSED.items() for v in values])
def test_near_misses_are_not_found(entity: str, value: str) -> None:
    text = f"Here: {value} (end)"
    assert scanner([entity]).find(text) == [], (entity, value)


def test_a_text_holds_every_entity_and_each_is_named() -> None:
    text = " | ".join(values[0] for values in FOUND.values())
    found = scanner(ENTITIES).find(text)
    assert [(f.entity, text[f.start : f.end]) for f in found] == [(e, values[0]) for e, values in FOUND.items()]


def test_a_private_key_without_its_end_line_is_found_to_the_end_of_the_text() -> None:
    text = "Here is my key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nthe rest"
    (found,) = scanner(["secret"]).find(text)
    assert text[found.start :] == text[text.index("-----BEGIN") :] and found.end == len(text)


def test_an_unknown_entity_is_refused() -> None:
    with pytest.raises(ValueError, match="passport"):
        scanner(["email", "passport"])


# The raw-bytes check of a JSON document (`clean_json`): when it says clean, no string of the document may hold a
# finding. Texts are made of the pieces that matter there: values and near misses, the characters that JSON
# escapes, the escapes' letters, and separators that can join or split a candidate.
PIECES = [
    *(value for values in FOUND.values() for value in values),
    *(value for values in MISSED.values() for value in values),
    *"\n\t\r\b\f\"\\/ -.:@()+_",
    "n", "t", "r", "b", "f", "u", "0041", "é", "sk-", "AKIA", "4111", "555", "0132", "DE89", "fe80", "::", "ab",
]  # fmt: skip
ALL = scanner(ENTITIES)


def _strings(document: object) -> list[str]:
    if isinstance(document, str):
        return [document]
    if isinstance(document, list):
        return [text for item in document for text in _strings(item)]
    if isinstance(document, dict):
        return [text for key, value in document.items() for text in [key, *_strings(value)]]
    return []


texts = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)
documents = st.recursive(
    texts | st.integers(-(10**12), 10**12) | st.none(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(documents, st.sampled_from(["orjson", "ascii", "compact", "escapes"]))
def test_a_document_whose_bytes_are_clean_holds_no_finding_in_any_string(document: object, writer: str) -> None:
    if writer == "orjson":
        raw = orjson.dumps(document)
    else:
        raw = json.dumps(document, separators=(",", ":") if writer == "compact" else None).encode()
    if writer == "escapes":  # what a client may write by hand: `\u0040` for `@`
        raw = raw.replace(b"@", b"\\u0040").replace(b"4", b"\\u0034")
    if ALL.clean_json(raw):
        assert all(ALL.find(text) == [] for text in _strings(document)), raw


@pytest.mark.parametrize(("entity", "value"), [(e, v) for e, values in FOUND.items() for v in values])
@pytest.mark.parametrize("before", ["", " ", "\n", "x\n", '"', "\\", "/", "\t"])
def test_a_document_holding_a_finding_is_never_clean(entity: str, value: str, before: str) -> None:
    text = f"{before}{value}{before[::-1]}"
    found = scanner([entity]).find(text)
    assert found or before not in ("", " ", "\n")  # these neighbours leave every value a finding
    document = {"messages": [{"role": "user", "content": text}], "n": 1}
    for raw in (orjson.dumps(document), json.dumps(document).encode()):
        assert not (found and scanner([entity]).clean_json(raw)), raw


@pytest.mark.parametrize(("entity", "value"), [(e, v) for e, values in MISSED.items() for v in values])
def test_a_document_holding_only_near_misses_is_clean(entity: str, value: str) -> None:
    """The point of the check: everyday documents are settled from their bytes."""
    document = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Here: {value} (end)"}]}
    assert scanner([entity]).clean_json(orjson.dumps(document)), value


@pytest.mark.parametrize(
    "text",
    [
        r"ada\u0040example.com",
        r"4111\u00201111 1111 1111",
        r"sk\u002dproj-A1b2C3d4E5f6G7h8I9j0A1b2C3d4E5f6",
        r"call \u002B44 20 7946 0958",
        r"\nsk-proj-A1b2C3d4E5f6G7h8I9j0A1b2C3d4E5f6",
        r"x\t4111 1111 1111 1111\r",
        r"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    ],
)
def test_escapes_next_to_a_finding_send_the_document_to_be_parsed(text: str) -> None:
    raw = b'{"messages":[{"role":"user","content":"' + text.encode() + b'"}]}'
    assert ALL.find(orjson.loads(raw)["messages"][0]["content"])  # the text as parsed holds a finding
    assert not ALL.clean_json(raw)
