"""The log of refused callers (the 401s and 403s of the access checks): one WARNING line per client address
and reason per interval, with how many more were refused since the last line, so that an operator sees a
client failing without a line per request of a client that retries in a loop. A line never holds the key
presented: a known virtual key's id, or else the key's fingerprint (gateway_keys.fingerprint)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from babelgate.governance.gateway_keys import fingerprint

log = logging.getLogger("babelgate.access")
INTERVAL: Final = 60.0  # seconds between two lines of one client address and reason
# Client address and reason pairs remembered at most; past it, those whose interval is over are forgotten.
REMEMBERED: Final = 4096


class _Seen:
    __slots__ = ("at", "held")

    def __init__(self, at: float) -> None:
        self.at = at  # when its last line was written
        self.held = 0  # refusals since, not written


class RefusalLog:
    """One per gateway (its runtimes share it across reloads): what was refused, by client and reason."""

    __slots__ = ("_seen", "clock", "interval")

    def __init__(self, interval: float = INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._seen: dict[tuple[str, str], _Seen] = {}

    def refused(self, client: str, status: int, reason: str, route: str, key: str) -> None:
        """A refusal of `client` (its address) for `reason` (an error code) on `route`; `key`: `presented_key`'s
        description of what it sent."""
        now = self.clock()
        seen = self._seen.get((client, reason))
        if seen is not None and now - seen.at < self.interval:
            seen.held += 1
            return
        held = seen.held if seen is not None else 0
        if seen is None:
            if len(self._seen) >= REMEMBERED:
                self._forget(now)
            seen = self._seen[(client, reason)] = _Seen(now)
        seen.at, seen.held = now, 0
        more = f"; {held} more refused since the last line" if held else ""
        log.warning("refused %s on %s: %s %s (%s%s)", client, route or "-", status, reason, key, more)

    def _forget(self, now: float) -> None:
        """Drops the pairs whose interval is over, saying in one line how many refusals of theirs went unlogged."""
        over = [pair for pair, seen in self._seen.items() if now - seen.at >= self.interval]
        unlogged = sum(self._seen[pair].held for pair in over)
        for pair in over:
            del self._seen[pair]
        if len(self._seen) >= REMEMBERED:  # every pair is recent: a flood of addresses; start again
            unlogged += sum(seen.held for seen in self._seen.values())
            over += list(self._seen)
            self._seen.clear()
        if unlogged:
            log.warning(
                "%s refusals of %s clients were never logged: forgotten to keep this log bounded", unlogged, len(over)
            )


def presented_key(key_id: str | None, authorization: bytes | None) -> str:
    """What a refused request sent, in words fit for a log: a known key's id, else the fingerprint of the
    key (never the key), else that it sent none."""
    if key_id:
        return f"key {key_id}"
    if authorization is None:
        return "no key"
    token = authorization[7:].strip() if authorization[:7].lower() == b"bearer " else authorization
    return f"key fingerprint {fingerprint(token)}"
