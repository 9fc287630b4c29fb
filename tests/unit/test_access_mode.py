"""The access mode (governance/access_mode.py): what makes a gateway open or closed, the line that says so,
when it is logged again, and the 401 of a gateway whose virtual keys are all revoked or expired."""

from __future__ import annotations

import logging
import time

import pytest

from babelgate.errors import AuthenticationFailed
from babelgate.governance.access_mode import AT_START, KEYS_CHANGED, RELOADED, AccessMode, ModeLog
from babelgate.governance.gateway_keys import GatewayKeys
from babelgate.governance.virtual_keys import KeyRing, VirtualKey
from babelgate.store.memory import MemoryResponseStore

STORE = "sqlite:/srv/state/babelgate.db"


def _ring(*keys: VirtualKey) -> KeyRing:
    ring = KeyRing(MemoryResponseStore())
    ring.keys = {key.id: key for key in keys}
    ring.loaded = True
    return ring


def _key(key_id: str, *, revoked: bool = False, expires_at: float | None = None) -> VirtualKey:
    return VirtualKey(
        id=key_id,
        salt="00",
        digest="00",
        created_at=0.0,
        revoked_at=1.0 if revoked else None,
        expires_at=expires_at,
    )


def test_the_lines_of_each_mode() -> None:
    assert AccessMode(0, 0, 0, 0, False).line(STORE, "127.0.0.1:8080") == (
        f"open on 127.0.0.1:8080: no keys configured (no server.api_keys, no virtual keys in {STORE})"
    )
    assert AccessMode(1, 2, 1, 0, True).line(STORE) == (
        f"keys required: 1 static key (server.api_keys), 2 virtual keys in {STORE}, JWT callers (auth.jwt); "
        "1 more revoked"
    )
    assert AccessMode(0, 0, 2, 1, False).kind == "no_live_keys"
    assert f"the virtual keys in {STORE} are all revoked or expired" in AccessMode(0, 0, 2, 1, False).line(STORE)
    assert AccessMode(0, 0, 0, 0, False, known=False).kind == "unknown"


def test_the_mode_counts_live_revoked_and_expired_keys() -> None:
    past, future = time.time() - 10, time.time() + 3600
    ring = _ring(
        _key("a" * 12), _key("b" * 12, revoked=True), _key("c" * 12, expires_at=past), _key("d" * 12, expires_at=future)
    )
    assert GatewayKeys(["sk-static"], ring).mode() == AccessMode(1, 2, 1, 1, False)
    assert GatewayKeys([], None, required=True).mode().kind == "keys_required"


def test_keys_all_revoked_or_expired_keep_the_gateway_closed_and_say_so() -> None:
    past = time.time() - 10
    revoked = GatewayKeys([], _ring(_key("a" * 12, revoked=True)))
    for presented in (None, b"Bearer sk-anything", b"Bearer bg-" + b"a" * 12 + b"x" * 32):
        with pytest.raises(AuthenticationFailed) as caught:
            revoked.identify(presented)
        assert caught.value.message_key == "keys_all_revoked" and caught.value.code == "invalid_api_key"
    mixed = GatewayKeys([], _ring(_key("a" * 12, revoked=True), _key("b" * 12, expires_at=past)))
    with pytest.raises(AuthenticationFailed) as caught:
        mixed.identify(None)
    assert caught.value.message_key == "keys_all_revoked_or_expired"
    # A static key or JWT callers could still open it: the usual refusal, which names no key's state.
    for keys in (
        GatewayKeys(["sk-static"], _ring(_key("a" * 12, revoked=True))),
        GatewayKeys([], _ring(_key("a" * 12, revoked=True)), required=True),
    ):
        with pytest.raises(AuthenticationFailed) as caught:
            keys.identify(None)
        assert caught.value.message_key == "invalid_api_key"


def test_the_mode_is_logged_when_its_kind_changes_and_on_every_reload(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="babelgate.access")
    modes = ModeLog()
    modes.note(AccessMode(0, 0, 0, 0, False, known=False), AT_START, STORE)  # not read yet: nothing said
    modes.note(AccessMode(0, 0, 0, 0, False), KEYS_CHANGED, STORE)
    modes.note(AccessMode(0, 0, 0, 0, False), KEYS_CHANGED, STORE)  # the same: nothing
    modes.note(AccessMode(0, 1, 0, 0, False), KEYS_CHANGED, STORE)
    modes.note(AccessMode(0, 2, 0, 0, False), KEYS_CHANGED, STORE)  # the counts alone: DEBUG
    modes.note(AccessMode(0, 0, 2, 0, False), KEYS_CHANGED, STORE)
    modes.note(AccessMode(0, 0, 2, 0, False), RELOADED, STORE)
    said = [(r.levelno, r.getMessage().split(" (")[-1]) for r in caplog.records if r.name == "babelgate.access"]
    assert said == [
        (logging.INFO, "at start)"),
        (logging.INFO, f"{KEYS_CHANGED})"),
        (logging.DEBUG, f"{KEYS_CHANGED})"),
        (logging.WARNING, f"{KEYS_CHANGED})"),
        (logging.WARNING, f"{RELOADED})"),
    ]
