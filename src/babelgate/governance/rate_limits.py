"""Per-key request limits of virtual keys: requests per minute (a sliding window) and requests at
once. In-process by default; through Redis when configured, where one Lua script decides each
request atomically, so that any number of instances admit exactly the limit between them. A Redis
outage falls back to the in-process limiter with one warning, never to a refused request.

Tokens per minute need the tokenizer estimate before the call and the correction after it; they
come with the usage ledger (docs/governance.md).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("babelgate.limits")
WINDOW: Final = 60.0  # seconds: "per minute"

# KEYS[1] the window's sorted set; ARGV: now (ms), window (ms), limit, a unique member.
# Drops what left the window, counts, and admits (adding this request) only under the limit;
# answers {admitted, count, oldest timestamp in the window}.
_SLIDING_WINDOW: Final = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1] - ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
local admitted = 0
if count < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  count = count + 1
  admitted = 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {admitted, count, oldest[2] or ARGV[1]}
"""


@dataclass(frozen=True, slots=True)
class Decision:
    admitted: bool
    limit: int
    remaining: int
    reset: float  # seconds until a request more is admitted (the window's oldest leaves it)


class LocalLimiter:
    """A sliding window of admission times per key, in this process."""

    def __init__(self) -> None:
        self._windows: dict[str, deque[float]] = {}

    def hit(self, key: str, limit: int, now: float) -> Decision:
        window = self._windows.setdefault(key, deque())
        while window and window[0] <= now - WINDOW:
            window.popleft()
        admitted = len(window) < limit
        if admitted:
            window.append(now)
        reset = (window[0] + WINDOW - now) if window else 0.0
        return Decision(admitted, limit, max(0, limit - len(window)), max(0.0, reset))


class RequestLimits:
    """Admits or refuses each request of a key by its `rpm`; counts requests in flight by its
    `max_concurrent` (in this process: a request holds its slot for as long as it runs here)."""

    def __init__(self, redis_url: str | None = None, *, prefix: str = "babelgate:") -> None:
        self.local = LocalLimiter()
        self.prefix = prefix
        self._redis_url = redis_url
        self._redis: Redis | None = None
        self._script: Any = None
        self._warned = False
        self._counter = 0
        self.in_flight: dict[str, int] = {}

    async def admit_request(self, key: str, limit: int) -> Decision:
        now = time.time()
        if self._redis_url is None:
            return self.local.hit(key, limit, now)
        try:
            if self._script is None:
                from redis.asyncio import Redis  # only where Redis is configured

                self._redis = Redis.from_url(self._redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
                self._script = self._redis.register_script(_SLIDING_WINDOW)
            self._counter += 1
            member = f"{now:.6f}-{id(self)}-{self._counter}"
            admitted, count, oldest = await self._script(
                keys=[f"{self.prefix}rpm:{key}"], args=[int(now * 1000), int(WINDOW * 1000), limit, member])
        except Exception as exc:
            if not self._warned:
                log.warning("Redis unreachable for rate limits (%s): limits are per instance until it is back",
                            type(exc).__name__)
                self._warned = True
            return self.local.hit(key, limit, now)
        if self._warned:
            log.warning("Redis is back: rate limits are shared again")
            self._warned = False
        reset = max(0.0, float(oldest) / 1000 + WINDOW - now)
        return Decision(bool(admitted), limit, max(0, limit - int(count)), reset)

    def enter(self, key: str, limit: int) -> bool:
        """Take a slot of the key's `max_concurrent`; False when all are taken."""
        current = self.in_flight.get(key, 0)
        if current >= limit:
            return False
        self.in_flight[key] = current + 1
        return True

    def leave(self, key: str) -> None:
        current = self.in_flight.get(key, 0) - 1
        if current > 0:
            self.in_flight[key] = current
        else:
            self.in_flight.pop(key, None)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


def reset_text(seconds: float) -> str:
    """OpenAI's form of a reset time: `1s`, `6m0s`, `250ms`."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    whole = int(seconds + 0.999)
    minutes, rest = divmod(whole, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def limit_headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    """The headers OpenAI's clients read, on answers and refusals alike."""
    return [(b"x-ratelimit-limit-requests", str(decision.limit).encode()),
            (b"x-ratelimit-remaining-requests", str(decision.remaining).encode()),
            (b"x-ratelimit-reset-requests", reset_text(decision.reset).encode())]
