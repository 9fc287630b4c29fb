"""Reload: a bad config keeps the running one (config/reload.py)."""

from __future__ import annotations

import logging

import pytest

from babelgate.config import Config, ConfigError
from babelgate.config.reload import reload_once


def test_good_config_is_swapped_in(caplog: pytest.LogCaptureFixture) -> None:
    swapped: list[Config] = []
    new = Config()
    with caplog.at_level(logging.INFO, logger="babelgate.config"):
        assert reload_once(lambda: new, swapped.append) is True
    assert swapped == [new]
    assert caplog.messages == ["config reloaded"]


def test_bad_file_keeps_the_running_config(caplog: pytest.LogCaptureFixture) -> None:
    def load() -> Config:
        raise ConfigError("gw.yaml", [("server.port", "Input should be a valid integer")])

    swapped: list[Config] = []
    assert reload_once(load, swapped.append) is False
    assert swapped == []
    assert caplog.messages == [
        "config reload failed; keeping the running config:\ngw.yaml: server.port: Input should be a valid integer"
    ]


def test_config_that_does_not_build_keeps_the_running_one() -> None:
    def swap(config: Config) -> None:
        raise ValueError("aliases.a: target 'b' does not resolve: aliases form a cycle or a chain longer than 8")

    assert reload_once(Config, swap) is False
