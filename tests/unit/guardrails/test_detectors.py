"""The built-in detectors against labelled texts: what each must find (in several formats and places) and the
near misses it must not (checksums that fail, dates and versions that look like numbers, hashes that look like
keys)."""

from __future__ import annotations

import json

import pytest

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
