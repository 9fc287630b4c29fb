"""The gateway's one Redis connection pool, shared by every use of shared state (routing state, rate
limits, budgets, the response cache), and the breaker in front of it.

Why one bounded pool: redis-py's default pool has no bound and keeps every connection it opens, so
each request in flight at once opened one per use, and kept it (402 connections to Redis after a
burst of 200 requests to one gateway). Here the pool holds at most `redis.max_connections`:
one for the routing-state subscription, the others for calls. A call waits for a free connection
before its deadline starts: under load the wait is the load's, not Redis's (the many requests of a
burst, all in one event loop), and taking it for an outage would count a burst per instance.

Why a breaker: a Redis that stops answering would cost every request that touches it a timeout.
Every call has one deadline (`redis.timeout`, to connect and for the answer); the first call that
fails, or misses it while Redis answers no other call, opens the breaker: from then on `up` is
false, every use falls back to its in-process state at once without asking Redis, and a single
background probe (PING, with backoff) closes the breaker when Redis answers again. One warning when Redis goes down,
one info line when it is back. No use ever fails a request because of Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("babelgate.redis")
DEFAULT_MAX_CONNECTIONS: Final = 32
# Seconds for a call (connect and answer). Redis answers a local call in well under a millisecond;
# 0.25 s leaves room for a busy event loop (a burst of 200 requests through one process) without
# taking it for an outage.
DEFAULT_TIMEOUT: Final = 0.25
PROBE_FIRST: Final = 0.25  # seconds before the first probe after an outage began
PROBE_MAX: Final = 5.0  # seconds between probes at most: how late a Redis that is back may be noticed
SERVES: Final = "rate limits, budgets, the response cache and routing state"

T = TypeVar("T")


class RedisUnavailable(Exception):
    """Redis was not asked (the breaker is open) or did not answer in time: use in-process state."""


class RedisLink:
    def __init__(
        self,
        url: str,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        timeout: float = DEFAULT_TIMEOUT,
        health_check: int = 5,
        logger: logging.Logger = log,
    ) -> None:
        """`health_check`: seconds after which an idle connection is pinged before its next use (a
        subscription's, which otherwise would not notice a Redis that went away)."""
        self.url = url
        self.max_connections = max_connections
        self.timeout = timeout
        self.health_check = health_check
        self.log = logger  # the outage lines go to the user's own logger
        self.up = True  # the breaker is closed: Redis is asked (the first call finds out whether it answers)
        self.on_change: Callable[[bool], None] | None = None  # told every change of `up` (the metric)
        self._redis: Redis | None = None
        self._calls = asyncio.Semaphore(max_connections - 1)  # one connection stays for the subscription
        self._answered_at = 0.0  # monotonic time of the last call Redis answered
        self._back: asyncio.Event | None = None
        self._probe: asyncio.Task[None] | None = None

    @property
    def client(self) -> Redis:
        if self._redis is None:
            from redis.asyncio import BlockingConnectionPool, Redis  # only where Redis is configured
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            # No retries inside redis-py (its default is three, after up to seconds of backoff):
            # the breaker and the in-process fallback are the answer to a failed call. A call's
            # deadline is `call`'s; the socket's timeout only backs it up (and bounds the subscription's pings).
            pool = BlockingConnectionPool.from_url(
                self.url,
                max_connections=self.max_connections,
                timeout=self.timeout,
                socket_timeout=self.timeout * 4,
                socket_connect_timeout=self.timeout,
                health_check_interval=self.health_check,
                retry=Retry(NoBackoff(), 0),
            )
            self._redis = Redis.from_pool(pool)  # closes the pool when it closes
        return self._redis

    async def call(self, operation: Callable[[Redis], Awaitable[T]]) -> T:
        """`operation` on the client within the deadline; RedisUnavailable at once while the breaker
        is open, or when this call fails (which opens it)."""
        if not self.up:
            raise RedisUnavailable
        async with self._calls:
            if not self.up:  # it went down while this call waited for a connection
                raise RedisUnavailable
            started = time.monotonic()
            try:
                async with asyncio.timeout(self.timeout):
                    result = await operation(self.client)
            except TimeoutError as exc:
                if self._answered_at > started:
                    # Redis answered other calls meanwhile: this one was late for the event loop's
                    # load (a burst), not for Redis. It falls back alone; nothing is down.
                    log.debug("a Redis call missed its deadline while others were answered")
                else:
                    self.failed(exc)
                raise RedisUnavailable from exc
            except Exception as exc:
                self.failed(exc)
                raise RedisUnavailable from exc
            self._answered_at = time.monotonic()
            return result

    def failed(self, exc: BaseException) -> None:
        """Open the breaker (once per outage) and start the probe that will close it."""
        if not self.up:
            return
        self.up = False
        self.log.warning("Redis unreachable (%s): %s are per instance until it is back", type(exc).__name__, SERVES)
        if self.on_change is not None:
            self.on_change(False)
        if self._back is not None:
            self._back.clear()
        self._probe = asyncio.get_running_loop().create_task(self._until_back())

    async def wait_up(self) -> None:
        """Returns when the breaker is closed (at once if it is)."""
        if self.up:
            return
        if self._back is None:
            self._back = asyncio.Event()
        await self._back.wait()

    async def _until_back(self) -> None:
        delay = PROBE_FIRST
        while True:
            await asyncio.sleep(delay)
            try:
                async with asyncio.timeout(self.timeout):
                    await self.client.ping()  # type: ignore[misc]  # typed as sync-or-async
            except Exception:
                delay = min(PROBE_MAX, delay * 2)
                continue
            break
        self.up = True
        self.log.info("Redis is back: %s are shared again", SERVES)
        if self.on_change is not None:
            self.on_change(True)
        if self._back is not None:
            self._back.set()

    async def close(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
        redis, self._redis = self._redis, None
        if redis is not None:
            await redis.aclose()
