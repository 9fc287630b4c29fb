"""The cyclic garbage collector, paced by the clock instead of by allocation counts (`babelgate serve`).

CPython starts a young collection when tracked objects made outnumber those freed by 700. A gateway
holding thousands of streams frees about as many objects as it makes (each stream's awaitables are
replaced at every chunk), so that count rises slowly while the youngest generation fills with every
stream's current awaitables. With 5,000 streams open (bench/many_streams.py), each young collection
walked 20,000-50,000 objects and paused the loop for 7-26 ms every half second, each middle one for
35-46 ms, and the full ones while streams were opening for 100-330 ms: the whole tail of a new
stream's time to first token (docs/reliability.md). Paced by the clock, a pass only ever finds what
the last few milliseconds left alive, whatever the number of streams.

Full passes (the only ones that find cycles among long-lived objects) take time in proportion to
everything alive: 370 ms with 5,000 streams open, and, with the streams held, they found nothing. So
they run when they may be worth it: when the process's resident memory has doubled since the last
one (cycles that nobody collects show as growth; so does a ramp of new streams), and otherwise every
ten minutes. (By its own rule CPython ran ten of them, up to 330 ms each, while 5,000 streams opened.)
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from typing import Final

log = logging.getLogger("babelgate.collector")

YOUNG_EVERY: Final = 0.01  # seconds between passes over the youngest generation
MIDDLE_EVERY: Final = 5  # every this many young passes, the middle generation instead
FULL_WHEN_GROWN: Final = 2.0  # a full pass once resident memory is this many times what it was after the last
FULL_AT_LEAST_EVERY: Final = 600.0  # seconds
MEMORY_EVERY: Final = 100  # young passes between two looks at resident memory
_STATM: Final = "/proc/self/statm"


class PacedCollector:
    """Turns CPython's automatic collection off and runs it on the loop's clock; `stop` gives it back."""

    def __init__(
        self,
        *,
        young_every: float = YOUNG_EVERY,
        middle_every: int = MIDDLE_EVERY,
        full_every: float = FULL_AT_LEAST_EVERY,
        full_when_grown: float = FULL_WHEN_GROWN,
    ) -> None:
        self._young_every = young_every
        self._middle_every = middle_every
        self._full_every = full_every
        self._full_when_grown = full_when_grown
        self._passes = 0
        self._next_full = 0.0
        self._memory_after_full: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._turned_off = False
        self.full_passes = 0

    @property
    def running(self) -> bool:
        return self._timer is not None

    def start(self) -> None:
        """On the running loop. A process whose collector is already off (its owner's choice) is left alone."""
        if self._timer is not None or not gc.isenabled():
            return
        gc.disable()
        self._turned_off = True
        self._loop = asyncio.get_running_loop()
        self._after_full()
        self._timer = self._loop.call_later(self._young_every, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._turned_off:
            self._turned_off = False
            gc.enable()

    def _tick(self) -> None:
        self._passes += 1
        if self._passes % MEMORY_EVERY == 0 and self._full_due():
            began = time.monotonic()
            gc.collect()
            self.full_passes += 1
            log.debug("full collection: %.1f ms", (time.monotonic() - began) * 1000)
            self._after_full()
        else:
            gc.collect(1 if self._passes % self._middle_every == 0 else 0)
        assert self._loop is not None
        self._timer = self._loop.call_later(self._young_every, self._tick)

    def _full_due(self) -> bool:
        if time.monotonic() >= self._next_full:
            return True
        after = self._memory_after_full
        return after is not None and (resident_bytes() or 0) >= after * self._full_when_grown

    def _after_full(self) -> None:
        self._next_full = time.monotonic() + self._full_every
        self._memory_after_full = resident_bytes()


def resident_bytes() -> int | None:
    """The process's resident memory, where the system tells it cheaply (Linux); else None (then full
    passes go by the clock alone)."""
    try:
        with open(_STATM, "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
