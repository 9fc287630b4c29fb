"""One exporter's delivery: a bounded queue, batches sent by its own task, retried with backoff.

`take` is a deque append, so a slow or dead exporter never slows a request. Past `queue_limit` the oldest
exchanges go (counted `queue_full`); a batch the receiver refuses with a 4xx other than 429 is not retried
(`rejected`); one that still fails after `retries` tries goes (`retries_exhausted`); at shutdown what is left gets
a bounded time, then goes (`shutdown`). Each count is `babelgate_exporter_dropped_total{exporter,reason}`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final

from babelgate.conversation.record import Exchange
from babelgate.randomness import RANDOM

log = logging.getLogger("babelgate.exporters")
RETRY_FIRST_SECONDS: Final = 0.5
RETRY_MAX_SECONDS: Final = 30.0
CLOSE_SECONDS: Final = 5.0


class Refused(Exception):
    """The receiver answered a status that sending again will not change (a 4xx other than 429)."""


class Failed(Exception):
    """The receiver could not take the batch now (no connection, a timeout, 5xx, 429): worth another try."""


Send = Callable[[list[Exchange]], Awaitable[None]]
Count = Callable[[str, str, int], None]  # (exporter, outcome: "exported" or a drop reason, how many)


class Delivery:
    """Implements ExchangeSink for one exporter whose `send` posts a batch (raising Refused or Failed)."""

    def __init__(
        self,
        name: str,
        send: Send,
        count: Count,
        *,
        batch: int,
        queue_limit: int,
        retries: int,
        retry_first: float = RETRY_FIRST_SECONDS,
        retry_max: float = RETRY_MAX_SECONDS,
        close_seconds: float = CLOSE_SECONDS,
    ) -> None:
        self.name = name
        self._send = send
        self._count = count
        self._batch = batch
        self._limit = queue_limit
        self._retries = retries
        self._retry_first = retry_first
        self._retry_max = retry_max
        self._close_seconds = close_seconds
        self._queue: deque[Exchange] = deque()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._sending = False

    def take(self, exchanges: list[Exchange]) -> None:
        self._queue.extend(exchanges)
        over = len(self._queue) - self._limit
        if over > 0:
            for _ in range(over):
                self._queue.popleft()
            self._count(self.name, "queue_full", over)
        if self._task is None and not self._closing:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"babelgate-exporter-{self.name}")
        self._ready.set()

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
                self._sending = True
                try:
                    await self._deliver(batch)
                finally:
                    self._sending = False

    async def _deliver(self, batch: list[Exchange]) -> None:
        wait = self._retry_first
        for attempt in range(self._retries + 1):
            try:
                await self._send(batch)
            except Refused as refused:
                log.warning("exporter %s refused %d exchanges: %s", self.name, len(batch), refused)
                self._count(self.name, "rejected", len(batch))
                return
            except Failed as failed:
                if attempt == self._retries or self._closing:
                    log.warning(
                        "exporter %s: %d exchanges dropped after %d tries: %s",
                        self.name,
                        len(batch),
                        attempt + 1,
                        failed,
                    )
                    self._count(self.name, "retries_exhausted" if not self._closing else "shutdown", len(batch))
                    return
                # Jitter: exporters of instances that lost the same receiver do not come back together.
                await asyncio.sleep(wait * (0.5 + RANDOM.random()))
                wait = min(wait * 2, self._retry_max)
            else:
                self._count(self.name, "exported", len(batch))
                return

    async def aclose(self) -> None:
        """What waits gets `close_seconds` to go out; the rest is counted as dropped at shutdown."""
        self._closing = True
        task = self._task
        if task is None:
            return
        self._ready.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained(), self._close_seconds)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self._queue:
            self._count(self.name, "shutdown", len(self._queue))
            self._queue.clear()

    async def _drained(self) -> None:
        while self._queue or self._sending:  # noqa: ASYNC110 (the task sends; this waits for it to be done)
            await asyncio.sleep(0.01)
