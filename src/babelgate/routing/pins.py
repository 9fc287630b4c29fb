"""Where sessions are pinned: session → the deployment that last served it, until a TTL after its last
request (routing/affinity.py names sessions; router.py reads and writes pins).

Per instance by default, bounded (the least recently used pin goes first). `Pins.shared`, when set
(routing/shared.py, Redis), hears every new pin and every refresh, so that the other instances send
the session to the same deployment; what they publish comes back through `learn`. Nothing here waits:
the router reads local memory, and a change is handed to the shared side, which writes it in a task.

A pin's TTL slides: each request of the session extends it locally. It is published again only once
half the TTL the others last heard of has passed, so a busy session costs Redis one write per half TTL.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, Protocol

MAX_PINS: Final = 100_000  # sessions remembered per instance (about 300 bytes each)


class SharedPins(Protocol):
    def pin_changed(self, key: str, deployment: str, until: float) -> None:
        """Must not block: called in the request path."""
        ...


class Pins:
    def __init__(self, *, limit: int = MAX_PINS, clock: Callable[[], float] = time.time) -> None:
        # key → (deployment label, expires at, expiry the other instances last heard of); wall-clock seconds
        self._pins: OrderedDict[str, tuple[str, float, float]] = OrderedDict()
        self._limit = limit
        self._clock = clock
        self.shared: SharedPins | None = None

    def __len__(self) -> int:
        return len(self._pins)

    def get(self, key: str) -> str | None:
        """The deployment `key` is pinned to, or None (never pinned, or expired)."""
        entry = self._pins.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._pins[key]
            return None
        return entry[0]

    def keep(self, key: str, deployment: str, ttl: float) -> None:
        """`deployment` served the session: pinned (again) for `ttl` seconds from now."""
        now = self._clock()
        until = now + ttl
        entry = self._pins.get(key)
        publish = entry is None or entry[0] != deployment or entry[2] - now < ttl / 2
        heard = until if publish or entry is None else entry[2]
        self._pins[key] = (deployment, until, heard)
        self._pins.move_to_end(key)
        while len(self._pins) > self._limit:
            self._pins.popitem(last=False)
        if publish and self.shared is not None:
            self.shared.pin_changed(key, deployment, until)

    def learn(self, key: str, deployment: str, until: float) -> None:
        """What another instance pinned (routing/shared.py). A later expiry of the same pin wins; a
        different deployment replaces it (the other instance saw this one fail)."""
        if until <= self._clock():
            return
        entry = self._pins.get(key)
        if entry is not None and entry[0] == deployment and entry[1] >= until:
            return
        self._pins[key] = (deployment, until, until)
        self._pins.move_to_end(key)
        while len(self._pins) > self._limit:
            self._pins.popitem(last=False)
