"""What every instance holds in memory of documents in the store (virtual keys, users and teams) and
keeps current by polling the store's version of them: `refresh` (the subclass's read), `try_refresh` (a
failure logged once per outage, not twice a second), and the poller task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from babelgate.compiling import mypyc_attr

log = logging.getLogger("babelgate.keys")
POLL_SECONDS: Final = 0.5


# Compiled in the compiled build, and subclassed by modules that are not (mcp/stored.py).
@mypyc_attr(allow_interpreted_subclasses=True)
class Polled:
    what = "documents"  # what the log lines name

    def __init__(self, *, poll: float = POLL_SECONDS) -> None:
        self.poll = poll
        self.unreadable = False  # the last read failed: the store is down (logged once, not per try)
        self._poller: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        """Read what changed; raise when the store does not answer. Ends with `read_again`."""
        raise NotImplementedError

    def read_again(self) -> None:
        """A read succeeded: an outage, if there was one, is over."""
        if self.unreadable:
            self.unreadable = False
            log.info("%s are read from the store again", self.what)

    async def try_refresh(self) -> bool:
        """`refresh`; a failure is logged once per outage, without its traceback (the poller tries
        twice a second: a store down for a minute once wrote 120 tracebacks)."""
        try:
            await self.refresh()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not self.unreadable:
                self.unreadable = True
                log.warning(
                    "could not read %s from the store (%s: %s); keeping the ones read before until it answers",
                    self.what,
                    type(exc).__name__,
                    exc,
                )
            return False
        return True

    def start(self) -> None:
        """Poll from now on. Started with the gateway (or, mounted without its lifespan, on its first
        request of any kind), never from one kind of route: an instance whose first request was an
        admin call once never polled, and kept a revoked key valid for as long as it ran."""
        if self._poller is None:
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poller
            self._poller = None

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            await self.try_refresh()  # a store outage keeps what was read last
