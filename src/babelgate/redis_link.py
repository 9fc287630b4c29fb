"""One lazily made Redis client for one use of shared state (routing state, rate limits, budgets,
the response cache), and how its outages are told: one warning when Redis stops answering, one when it is back.
Every use falls back to its in-process state meanwhile; none fails a request because of Redis."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("babelgate.redis")
TIMEOUT: Final = 0.5  # seconds to connect and per command: a slow Redis must not hold requests


class RedisLink:
    def __init__(self, url: str, *, use: str, meanwhile: str, health_check: int = 0,
                 logger: logging.Logger = log) -> None:
        """`use`: what it is for ("rate limits"); `meanwhile`: what happens while Redis is down
        ("limits are per instance"); `health_check`: seconds between pings of an idle connection
        (a long-lived subscription's), 0 for none."""
        self.url = url
        self.use = use
        self.meanwhile = meanwhile
        self.health_check = health_check
        self.log = logger  # the outage warnings go to the user's own logger
        self.up = False  # Redis answered last time it was asked
        self._redis: Redis | None = None
        self._down = False

    @property
    def client(self) -> Redis:
        if self._redis is None:
            from redis.asyncio import Redis  # only where Redis is configured

            self._redis = Redis.from_url(self.url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT,
                                         health_check_interval=self.health_check)
        return self._redis

    def failed(self, exc: Exception) -> None:
        if not self._down:
            self.log.warning("Redis unreachable for %s (%s): %s until it is back", self.use, type(exc).__name__,
                             self.meanwhile)
            self._down = True
        self.up = False

    def answered(self) -> None:
        if self._down:
            self.log.warning("Redis is back: %s shared again", self.use)
            self._down = False
        self.up = True

    async def close(self) -> None:
        redis, self._redis = self._redis, None
        if redis is not None:
            await redis.aclose()
