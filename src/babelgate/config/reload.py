"""Reload on SIGHUP: load the config again and swap it in; a bad file keeps the old config."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from babelgate.config.load import ConfigError
from babelgate.config.models import Config

log = logging.getLogger("babelgate.config")


def reload_once(load: Callable[[], Config], swap: Callable[[Config], None]) -> bool:
    try:
        config = load()
        swap(config)
    except (ConfigError, ValueError) as exc:
        log.error("config reload failed; keeping the running config:\n%s", exc)
        return False
    log.info("config reloaded")
    return True


def install_reload_signal(load: Callable[[], Config], swap: Callable[[Config], None]) -> None:
    """Call from inside the running loop (the app's lifespan startup)."""
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload_once, load, swap)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no SIGHUP
        log.debug("SIGHUP reload is not available here")
