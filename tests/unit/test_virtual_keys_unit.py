"""Virtual keys' pure parts: fields, secrets, patterns, and the master key's configuration."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from babelgate.config import ConfigError, load_config
from babelgate.errors import AuthenticationFailed, InvalidRequest
from babelgate.governance.virtual_keys import KeyRing, checked_fields
from babelgate.providers import PROVIDER_TYPES
from babelgate.store.memory import MemoryResponseStore


def test_fields_are_checked_and_named() -> None:
    assert checked_fields(
        {"models": ["gpt-*"], "rpm": 5, "budget_period": "month", "expires_at": "2030-01-01T00:00:00Z"}, creating=True
    ) == {"models": ("gpt-*",), "rpm": 5, "budget_period": "month", "expires_at": 1893456000.0}
    for fields, param in (
        ({"rpm": 0}, "rpm"),
        ({"rpm": True}, "rpm"),
        ({"models": "gpt-*"}, "models"),
        ({"budget_period": "year"}, "budget_period"),
        ({"expires_at": "soon"}, "expires_at"),
        ({"secret": "x"}, "secret"),
        ({"budget_usd": -1}, "budget_usd"),
    ):
        with pytest.raises(InvalidRequest) as caught:
            checked_fields(fields, creating=True)
        assert caught.value.param == param


async def test_a_key_opens_only_with_its_own_secret_and_keeps_no_secret() -> None:
    store = MemoryResponseStore()
    ring = KeyRing(store)
    key, secret = await ring.create({"models": ["gpt-4o*", "team-*"]})
    assert ring.authenticate(secret) == key
    assert key.allows("gpt-4o-mini") and key.allows("team-large") and not key.allows("claude-3")
    stored = (await store.documents("virtual_key"))[key.id]
    assert secret.encode() not in stored and secret[3:].encode() not in stored
    last = "y" if secret.endswith("x") else "x"  # another last character (a random secret may end in x)
    for wrong in (secret[:-1] + last, "bg-" + key.id + "0" * 32, "bg-unknown"):
        with pytest.raises(AuthenticationFailed):
            ring.authenticate(wrong)
    await ring.revoke(key.id)
    with pytest.raises(AuthenticationFailed):
        ring.authenticate(secret)


async def test_a_secret_checked_once_opens_its_key_only_while_the_key_keeps_its_digest() -> None:
    """KeyRing remembers the secrets it checked (no SHA-256 per request); a key replaced under the same id
    (another salt and digest, as a store restored or edited elsewhere gives) refuses the old secret."""
    ring = KeyRing(MemoryResponseStore())
    key, secret = await ring.create({})
    assert ring.authenticate(secret) == key
    assert ring.authenticate(secret) == key  # remembered
    replaced = dataclasses.replace(key, salt="00" * 16, digest="0" * 64)
    ring.keys[key.id] = replaced
    with pytest.raises(AuthenticationFailed):
        ring.authenticate(secret)
    ring.keys[key.id] = key
    assert ring.authenticate(secret) == key
    wrong = secret[:-1] + ("y" if secret.endswith("x") else "x")
    with pytest.raises(AuthenticationFailed):
        ring.authenticate(wrong)  # a remembered secret opens nothing for another


def test_the_master_key_comes_from_an_env_reference_or_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("server: {master_key: env:MASTER}\n")
    config = load_config(path, {"MASTER": "m" * 32}, available_types=PROVIDER_TYPES)
    assert config.server.master_key == "m" * 32 and "m" * 32 not in repr(config)
    assert load_config(None, {"BABELGATE_MASTER_KEY": "k" * 20}, available_types=PROVIDER_TYPES).server.master_key
    path.write_text("server: {master_key: literal-master-key-0000}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {}, available_types=PROVIDER_TYPES)
    assert "server.master_key: must be an 'env:VAR_NAME' reference" in str(caught.value)


async def _until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not check():  # noqa: ASYNC110 (a store's count, no event to wait on)
            await asyncio.sleep(0.005)


class _FlakyStore(MemoryResponseStore):
    """A store whose reads fail while `down`."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.reads = 0

    async def document_version(self, kind: str) -> int:
        self.reads += 1
        if self.down:
            raise ConnectionRefusedError("the database is down")
        return await super().document_version(kind)


async def test_a_store_outage_is_logged_once_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="babelgate")
    store = _FlakyStore()
    writer, reader = KeyRing(store), KeyRing(store, poll=0.005)
    reader.start()
    store.down = True
    await _until(lambda: store.reads >= 20)  # the poller keeps trying through the outage (twice a second in production)
    store.down = False
    key, _ = await writer.create({})
    await _until(lambda: key.id in reader.keys)
    await reader.close()
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("babelgate")]
    assert said == [
        (
            "WARNING",
            "could not read virtual keys from the store (ConnectionRefusedError: the database "
            "is down); keeping the ones read before until it answers",
        ),
        ("INFO", "virtual keys are read from the store again"),
    ]
    assert not any(r.exc_info for r in caplog.records)


async def test_requests_do_not_each_wait_on_a_store_known_to_be_down() -> None:
    """Before the first read, a request reads the keys itself; once that failed, the next requests
    are refused at once (503, a master key being set) and the poller alone tries the store."""
    from babelgate import create_app, pipeline
    from babelgate.errors import GatewayError

    config = load_config(
        None,
        {
            "BABELGATE_MASTER_KEY": "master-key-for-the-unit-test-0123",
            "BABELGATE_STORE_URL": "memory",
            "OLLAMA_BASE_URL": "http://127.0.0.1:9",
        },
        available_types=PROVIDER_TYPES,
    )
    gateway = create_app(config)
    store = _FlakyStore()
    store.down = True
    runtime = dataclasses.replace(gateway.runtime, key_ring=KeyRing(store))
    for _ in range(3):
        with pytest.raises(GatewayError) as refused:
            await pipeline.keys_ready(runtime)
        assert refused.value.status == 503
    assert store.reads == 1
    await gateway.aclose()
