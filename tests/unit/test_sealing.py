"""Sealing (sealing.py): what a Sealer seals opens with its key only, untouched; everything else —
tampered, truncated, another key or purpose, garbage — opens to None, never an exception. And where
the key comes from: config, environment, or the store."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from pathlib import Path

import pytest

from babelgate.app import Gateway
from babelgate.config import Config, load_config
from babelgate.config.load import ConfigError
from babelgate.providers import PROVIDER_TYPES
from babelgate.sealing import KEY_BYTES, PREFIX, Sealer, SealerSource, new_key, parse_key, parse_keys
from babelgate.store.memory import MemoryResponseStore
from babelgate.store.sqlite import SQLiteResponseStore

PURPOSE = b"babelgate test v1"
KEY, OTHER = bytes(range(32)), bytes(range(1, 33))
PAYLOAD = {"provider": "anthropic", "text": "Think.", "details": [{"signature": "Eq" * 40}]}


def sealer(key: bytes = KEY, **kwargs: object) -> Sealer:
    return Sealer(key, purpose=PURPOSE, **kwargs)  # type: ignore[arg-type]


def test_round_trip_small_and_large() -> None:
    for payload in (PAYLOAD, {"text": "x" * 200_000, "details": [{"signature": "s" * 50_000}]}):
        token = sealer().seal(payload)
        assert token.startswith(PREFIX)
        assert sealer().open(token) == payload


def test_large_payloads_are_compressed_inside() -> None:
    token = sealer().seal({"text": "the same words again " * 2000})
    assert len(token) < 2000


def test_every_token_is_different() -> None:
    assert sealer().seal(PAYLOAD) != sealer().seal(PAYLOAD)  # a fresh nonce each time


def test_changing_any_byte_breaks_the_seal() -> None:
    token = sealer().seal(PAYLOAD)
    raw = bytearray(base64.urlsafe_b64decode(token[len(PREFIX) :] + "=" * (-len(token) % 4)))
    for position in range(len(raw)):
        tampered = bytearray(raw)
        tampered[position] ^= 0x01
        forged = PREFIX + base64.urlsafe_b64encode(bytes(tampered)).decode().rstrip("=")
        assert sealer().open(forged) is None, position


def test_a_truncated_or_extended_token_does_not_open() -> None:
    token = sealer().seal(PAYLOAD)
    for end in range(len(token)):
        assert sealer().open(token[:end]) is None, end
    for suffix in ("A", "AAAA", "=", "==", "\n", " ", "!", "."):
        assert sealer().open(token + suffix) is None, suffix
    middle = len(token) // 2
    for inserted in ("\n", " ", "!", "="):  # characters a lenient base64 decoder would skip
        assert sealer().open(token[:middle] + inserted + token[middle:]) is None, inserted
    assert sealer().open("bg2." + token[len(PREFIX) :]) is None  # another version
    assert sealer().open(" " + token) is None


def test_only_the_exact_text_seal_wrote_opens() -> None:
    """Spare bits in the last base64 character: other texts that a decoder reads as the same bytes."""

    def decoded(body: str) -> bytes:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))

    token = next(t for t in (sealer().seal(PAYLOAD) for _ in range(100)) if len(t) % 4 != len(PREFIX) % 4)
    body = token[len(PREFIX) :]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    same_bytes = [body[:-1] + c for c in alphabet if c != body[-1] and decoded(body[:-1] + c) == decoded(body)]
    assert same_bytes  # the decoder accepts them …
    assert all(sealer().open(PREFIX + other) is None for other in same_bytes)  # … seal never wrote them


@pytest.mark.parametrize(
    "token",
    [
        "",
        "bg1.",
        "bg1.!!!",
        "bg1.AAAA",
        "bg2." + "A" * 80,
        "gAAAAABf-fernet-token",
        "bg1." + "A" * 80,
        "bg1." + "_" * 1001,
        "x" * 10_000,
        "bg1.=====",
        "bg1.\u00e9\u00e9",
        "bg1.\x00\x00\x00",
        "BG1." + "A" * 80,
        "bg1." + "A" * 1_000_000,
        "bg1.a.b.c",
        "bg1.\ud800",
        "bg1." + "+/" * 40,
        "null",
        "{}",
        "[]",
    ],
)
def test_garbage_opens_to_none(token: str) -> None:
    assert sealer().open(token) is None


@pytest.mark.parametrize("value", [None, 1, b"bg1.AAAA", ["bg1."], {"token": "bg1."}])
def test_json_that_is_not_a_string_opens_to_none(value: object) -> None:
    assert sealer().open(value) is None  # type: ignore[arg-type]


def test_another_key_or_purpose_does_not_open_it() -> None:
    token = sealer().seal(PAYLOAD)
    assert sealer(OTHER).open(token) is None
    assert Sealer(KEY, purpose=b"another purpose").open(token) is None


def test_an_old_key_still_opens_after_rotation() -> None:
    old_token = sealer(OTHER).seal(PAYLOAD)
    rotated = sealer(KEY, old_keys=(OTHER,))
    assert rotated.open(old_token) == PAYLOAD
    assert sealer(KEY).open(rotated.seal(PAYLOAD)) == PAYLOAD  # sealing uses the new key


def test_rotation_keys_are_written_new_first_separated_by_commas() -> None:
    assert parse_keys(f"{KEY.hex()}, {base64.b64encode(OTHER).decode()}") == (KEY, OTHER)
    assert parse_keys(KEY.hex()) == (KEY,)
    with pytest.raises(ValueError, match="key 2 of 2"):
        parse_keys(f"{KEY.hex()},short")
    with pytest.raises(ValueError, match="key 1 of 2"):
        parse_keys(f",{KEY.hex()}")


def test_keys_are_read_as_hex_or_base64() -> None:
    assert parse_key(KEY.hex()) == KEY
    assert parse_key(base64.b64encode(KEY).decode()) == KEY
    assert parse_key(base64.urlsafe_b64encode(KEY).decode().rstrip("=")) == KEY
    assert len(new_key()) == KEY_BYTES
    for bad in ("", "short", "zz" * 32, base64.b64encode(b"x" * 16).decode()):
        with pytest.raises(ValueError) as caught:
            parse_key(bad)
        assert bad not in str(caught.value) or not bad


def test_the_key_comes_from_the_environment_or_a_file_reference(tmp_path: Path) -> None:
    environ = {"BABELGATE_REASONING_KEY": KEY.hex()}
    assert load_config(None, environ, available_types=PROVIDER_TYPES).responses.reasoning_key == KEY.hex()
    path = tmp_path / "c.yaml"
    path.write_text("responses:\n  reasoning_key: env:MY_KEY\n")
    assert load_config(path, {"MY_KEY": KEY.hex()}, available_types=PROVIDER_TYPES).responses.reasoning_key == KEY.hex()


def test_a_literal_or_malformed_key_is_a_config_error_that_does_not_quote_it(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"responses:\n  reasoning_key: {KEY.hex()}\n")
    with pytest.raises(ConfigError) as literal:
        load_config(path, {}, available_types=PROVIDER_TYPES)
    assert "env:" in str(literal.value) and KEY.hex() not in str(literal.value)
    with pytest.raises(ConfigError) as malformed:
        load_config(None, {"BABELGATE_REASONING_KEY": "not-a-key-at-all"}, available_types=PROVIDER_TYPES)
    assert "responses.reasoning_key" in str(malformed.value) and "not-a-key-at-all" not in str(malformed.value)


def test_a_bad_key_names_the_variable_that_held_it(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("responses:\n  reasoning_key: env:MY_KEY\n")
    with pytest.raises(ConfigError) as bad:
        load_config(path, {"MY_KEY": f"{KEY.hex()},{'ab' * 8}"}, available_types=PROVIDER_TYPES)
    assert str(bad.value).startswith(f"{path}: responses.reasoning_key: MY_KEY: key 2 of 2: expected 32 bytes")
    with pytest.raises(ConfigError) as unset:
        load_config(path, {}, available_types=PROVIDER_TYPES)
    assert "environment variable MY_KEY is not set" in str(unset.value)
    with pytest.raises(ConfigError) as from_environment:
        load_config(None, {"BABELGATE_REASONING_KEY": "0" * 63}, available_types=PROVIDER_TYPES)
    assert "BABELGATE_REASONING_KEY: expected 32 bytes" in str(from_environment.value)


def test_the_file_wins_over_the_environment_variable(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("responses:\n  reasoning_key: env:MY_KEY\n")
    environ = {"MY_KEY": KEY.hex(), "BABELGATE_REASONING_KEY": OTHER.hex()}
    assert load_config(path, environ, available_types=PROVIDER_TYPES).responses.reasoning_key == KEY.hex()


def test_the_key_is_not_in_the_config_repr() -> None:
    config = Config.model_validate({"responses": {"reasoning_key": KEY.hex()}})
    assert KEY.hex() not in repr(config) and KEY.hex() not in str(config)


async def test_configured_rotation_keys_open_old_tokens_and_seal_with_the_new_one() -> None:
    old_token = sealer(OTHER).seal(PAYLOAD)
    source = SealerSource(MemoryResponseStore(), f"{KEY.hex()},{OTHER.hex()}", purpose=PURPOSE, secret_name="unused")
    rotated = await source.get()
    assert rotated.open(old_token) == PAYLOAD
    assert sealer(KEY).open(rotated.seal(PAYLOAD)) == PAYLOAD


class CountingStore:
    """A store whose `secret` counts its callers and can be told to fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.failing = False
        self.kept: bytes | None = None

    async def secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        self.calls += 1
        await asyncio.sleep(0)  # let the other first requests arrive while the store is asked
        if self.failing:
            raise OSError("the database is down")
        if self.kept is None:
            self.kept = make()
        return self.kept


async def test_the_store_is_asked_once_even_by_first_requests_arriving_together() -> None:
    store = CountingStore()
    source = SealerSource(store, None, purpose=PURPOSE, secret_name="reasoning_key")
    sealers = await asyncio.gather(*(source.get() for _ in range(5)))
    assert store.calls == 1 and all(one is sealers[0] for one in sealers)
    assert await source.get() is sealers[0] and store.calls == 1


async def test_a_store_failure_is_raised_and_not_kept() -> None:
    store = CountingStore()
    store.failing = True
    source = SealerSource(store, None, purpose=PURPOSE, secret_name="reasoning_key")
    with pytest.raises(OSError):
        await source.get()
    store.failing = False
    assert (await source.get()).open((await source.get()).seal(PAYLOAD)) == PAYLOAD
    assert store.calls == 2


def memory_config(**responses: object) -> Config:
    return Config.model_validate({"store": {"url": "memory"}, "responses": responses})


async def test_a_gateway_without_lifespan_seals_with_its_store_key_and_keeps_it_over_reloads() -> None:
    gateway = Gateway(memory_config())
    try:
        first = await gateway.runtime.reasoning_sealer.get()
        token = first.seal(PAYLOAD)
        gateway.swap(memory_config(retention=60))  # a reload that changes neither key nor store
        assert await gateway.runtime.reasoning_sealer.get() is first
        gateway.swap(memory_config(reasoning_key=KEY.hex()))  # a configured key replaces the store's
        assert (await gateway.runtime.reasoning_sealer.get()).open(token) is None
        gateway.swap(memory_config())  # back to the store's key, which the store still keeps
        assert (await gateway.runtime.reasoning_sealer.get()).open(token) == PAYLOAD
        gateway.swap(Config.model_validate({"store": {"url": "memory:"}}))  # another store: another key
        assert (await gateway.runtime.reasoning_sealer.get()).open(token) is None
    finally:
        await gateway.aclose()


async def test_without_a_configured_key_the_store_keeps_one_for_every_instance(tmp_path: Path) -> None:
    stores = [SQLiteResponseStore(tmp_path / "state.db") for _ in range(2)]
    try:
        sources = [SealerSource(store, None, purpose=PURPOSE, secret_name="reasoning_key") for store in stores]
        token = (await sources[0].get()).seal(PAYLOAD)
        assert (await sources[1].get()).open(token) == PAYLOAD
    finally:
        for store in stores:
            await store.close()


async def test_a_configured_key_needs_no_store() -> None:
    source = SealerSource(MemoryResponseStore(), KEY.hex(), purpose=PURPOSE, secret_name="unused")
    assert (await source.get()).open(sealer().seal(PAYLOAD)) == PAYLOAD
    assert source.same_source(source._store, KEY.hex()) and not source.same_source(source._store, None)
