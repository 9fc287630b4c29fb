"""The conversation log's queue: a logged request leaves what it sent and got back here once it has ended (a deque
append, no await: accounting.py), and a task beside the requests makes `Exchange`s of them in batches and hands them
to every sink (the store's log, the exporters).

Who is logged is decided once per request (`covers`): every caller when `logging.content` names no key and no
team, otherwise the callers it names. A gateway whose log is off has no `ConversationLog` at all (the runtime holds
None), so an unlogged request costs one attribute test."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from babelgate.conversation.build import build
from babelgate.conversation.record import Exchange, ExchangeSink

if TYPE_CHECKING:
    from babelgate.config.content import ContentLogConfig
    from babelgate.governance.virtual_keys import VirtualKey

log = logging.getLogger("babelgate.conversation")
FLUSH_SECONDS: Final = 0.5
BATCH: Final = 256
# Captures waiting to be made into exchanges: each holds its request's document and its answer's bytes (at most
# about four times max_bytes), so the queue is bounded in count; past it the oldest go.
QUEUE_LIMIT: Final = 1000
DROP_REPORT: Final = 1000

# What a logged request leaves in the queue (accounting.py's `log_conversation`): the codec, the request's
# document, the answer's pieces, whether they were cut, how to mask again what a reversible mask gave back (or
# None), then the Exchange's own values from `request_id` on.
Capture = tuple[Any, ...]


class ConversationLog:
    def __init__(
        self,
        settings: ContentLogConfig,
        sinks: Sequence[ExchangeSink],
        *,
        limit: int = QUEUE_LIMIT,
        count_drop: Callable[[], None] = lambda: None,
    ) -> None:
        self.keys = frozenset(settings.keys)
        self.teams = frozenset(settings.teams)
        self.everyone = not self.keys and not self.teams
        self.max_bytes = settings.max_bytes
        self.sinks = list(sinks)
        self.limit = limit
        self.dropped = 0
        self._count_drop = count_drop  # babelgate_conversation_dropped_total
        self._queue: deque[Capture] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def covers(self, key_id: str | None, key: VirtualKey | None) -> bool:
        """Whether this caller's requests are logged."""
        if self.everyone:
            return True
        return key_id in self.keys or (key is not None and key.team in self.teams)

    def capture(self, captured: Capture) -> None:
        queue = self._queue
        if len(queue) >= self.limit:
            queue.popleft()
            self.dropped += 1
            self._count_drop()
            if self.dropped % DROP_REPORT == 1:  # the first, then one line per DROP_REPORT: never a line a request
                log.warning("the conversation log dropped %d requests: more came than it could build", self.dropped)
        queue.append(captured)
        if self._task is None and not self._closed:
            self.start()
        elif len(queue) >= BATCH and self._wake is not None:
            self._wake.set()

    def start(self) -> None:
        if self._task is not None or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._run())

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._closed:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FLUSH_SECONDS):
                    await self._wake.wait()
            await self._hand_over()

    async def _hand_over(self) -> None:
        """The queued captures, made into exchanges (off the loop's turn of any request: a batch at a time, with a
        pause between batches) and given to every sink."""
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
            exchanges = [exchange for exchange in map(self._built, batch) if exchange is not None]
            for sink in self.sinks:
                try:
                    sink.take(exchanges)
                except Exception:
                    log.exception("a conversation log sink refused a batch")
            await asyncio.sleep(0)

    def _built(self, captured: Capture) -> Exchange | None:
        try:
            return build(captured, self.max_bytes)
        except Exception:  # a codec's bug must not stop the log: that one request is missing, and said so
            log.exception("could not read a logged request (%s)", captured[5])
            return None

    async def flush(self) -> None:
        """Hand over what is queued now, and wait for the sinks that can be waited for (`flush`)."""
        await self._hand_over()
        for sink in self.sinks:
            flush = getattr(sink, "flush", None)
            if flush is not None:
                await flush()

    async def close(self) -> None:
        """The last captures handed over, then every sink closed (each writes what it holds)."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._hand_over()
        for sink in self.sinks:
            try:
                await sink.aclose()
            except Exception:
                log.exception("a conversation log sink did not close cleanly")
