"""Gateway API keys (governance/gateway_keys.py)."""

from __future__ import annotations

import hashlib

import pytest

from babelgate.errors import AuthenticationFailed
from babelgate.governance.gateway_keys import GatewayKeys

KEYS = GatewayKeys(["key-one", "key-two"])


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def test_without_keys_everyone_is_let_in_anonymously() -> None:
    keys = GatewayKeys([])
    assert keys.enabled is False
    assert keys.authenticate(None) is None
    assert keys.authenticate(b"Bearer anything") is None


def test_empty_keys_are_ignored() -> None:
    assert GatewayKeys(["", ""]).enabled is False


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (b"Bearer key-one", "key-one"),
        (b"Bearer key-two", "key-two"),
        (b"bearer key-one", "key-one"),
        (b"BEARER key-two", "key-two"),
        (b"Bearer key-one  ", "key-one"),
        (b"Bearer  key-one", "key-one"),
    ],
)
def test_valid_key_gives_its_short_hash(header: bytes, key: str) -> None:
    assert KEYS.enabled is True
    assert KEYS.authenticate(header) == key_id(key)


def test_key_id_is_a_12_hex_digit_hash_and_not_the_key() -> None:
    identifier = KEYS.authenticate(b"Bearer key-one")
    assert identifier is not None
    assert len(identifier) == 12
    assert int(identifier, 16) >= 0
    assert "key" not in identifier


@pytest.mark.parametrize(
    "header",
    [
        None,
        b"",
        b"key-one",
        b"Bearer",
        b"Bearer ",
        b"Bearer key-three",
        b"Bearer key-on",
        b"Bearer key-one-x",
        b"Basic a2V5LW9uZQ==",
        b"Token key-one",
        b"Bearer KEY-ONE",
        b"Bearerkey-one",
    ],
)
def test_missing_or_wrong_key_is_refused(header: bytes | None) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        KEYS.authenticate(header)
    error = caught.value
    assert (error.status, error.type, error.code) == (401, "authentication_error", "invalid_api_key")


def test_non_ascii_keys() -> None:
    keys = GatewayKeys(["schlüssel"])
    assert keys.authenticate("Bearer schlüssel".encode()) == key_id("schlüssel")
