"""One lazily made Redis client for one use of shared state (rate limits, budgets, the response
cache), and how its outages are told: one warning when Redis stops answering, one when it is back.
Every use falls back to its in-process state meanwhile; none fails a request because of Redis."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("babelgate.redis")
TIMEOUT: Final = 0.5  # seconds to connect and per command: a slow Redis must not hold requests


class RedisLink:
    def __init__(self, url: str, *, use: str, meanwhile: str) -> None:
        """`use`: what it is for ("rate limits"); `meanwhile`: what happens while Redis is down
        ("limits are per instance")."""
        self.url = url
        self.use = use
        self.meanwhile = meanwhile
        self._redis: Redis | None = None
        self._down = False

    @property
    def client(self) -> Redis:
        if self._redis is None:
            from redis.asyncio import Redis  # only where Redis is configured

            self._redis = Redis.from_url(self.url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        return self._redis

    def failed(self, exc: Exception) -> None:
        if not self._down:
            log.warning("Redis unreachable for %s (%s): %s until it is back", self.use, type(exc).__name__,
                        self.meanwhile)
            self._down = True

    def answered(self) -> None:
        if self._down:
            log.warning("Redis is back: %s shared again", self.use)
            self._down = False

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
