"""The log of refused callers: a line per client address and reason per interval, the refusals held back
counted on the next line, memory bounded, and never a key."""

from __future__ import annotations

import logging

import pytest

from babelgate.governance import refusals
from babelgate.governance.refusals import RefusalLog, presented_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "babelgate.access"]


def test_one_line_per_client_and_reason_an_interval_then_the_count_held_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="babelgate.access")
    clock = Clock()
    log = RefusalLog(interval=60, clock=clock)
    for _ in range(4):
        log.refused("10.0.0.1", 401, "invalid_api_key", "chat.completions", "no key")
    log.refused("10.0.0.1", 403, "model_not_allowed", "chat.completions", "key 0123456789ab")
    log.refused("10.0.0.2", 401, "invalid_api_key", "messages", "no key")
    assert _lines(caplog) == [
        "refused 10.0.0.1 on chat.completions: 401 invalid_api_key (no key)",
        "refused 10.0.0.1 on chat.completions: 403 model_not_allowed (key 0123456789ab)",
        "refused 10.0.0.2 on messages: 401 invalid_api_key (no key)",
    ]
    clock.now += 59
    log.refused("10.0.0.1", 401, "invalid_api_key", "chat.completions", "no key")
    assert len(_lines(caplog)) == 3
    clock.now += 1
    log.refused("10.0.0.1", 401, "invalid_api_key", "models", "no key")
    assert (
        _lines(caplog)[-1]
        == "refused 10.0.0.1 on models: 401 invalid_api_key (no key; 4 more refused since the last line)"
    )


def test_memory_is_bounded_and_what_is_forgotten_is_counted(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger="babelgate.access")
    monkeypatch.setattr(refusals, "REMEMBERED", 3)
    clock = Clock()
    log = RefusalLog(interval=60, clock=clock)
    for client in ("a", "b", "c"):
        log.refused(client, 401, "invalid_api_key", "models", "no key")
        log.refused(client, 401, "invalid_api_key", "models", "no key")
    log.refused("d", 401, "invalid_api_key", "models", "no key")  # all three recent: forgotten, their counts said
    assert _lines(caplog)[-2:] == [
        "3 refusals of 3 clients were never logged: forgotten to keep this log bounded",
        "refused d on models: 401 invalid_api_key (no key)",
    ]
    assert len(log._seen) == 1


def test_a_refused_key_is_named_by_its_id_or_fingerprint_never_itself() -> None:
    secret = b"sk-a-secret-that-was-wrong-0123456789"
    named = presented_key(None, b"Bearer " + secret)
    assert named.startswith("key fingerprint ") and len(named) == len("key fingerprint ") + 12
    assert secret.decode() not in named and secret.decode()[:12] not in named
    assert presented_key("0123456789ab", b"Bearer bg-0123456789abXYZ") == "key 0123456789ab"
    assert presented_key(None, None) == "no key"
