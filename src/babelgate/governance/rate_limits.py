"""Rate limits of a scope: a virtual key, a team (all its keys together) or a model (all callers
together). Each scope may set requests per minute, tokens per minute and requests at once.

- **Requests per minute**: a sliding window of admission times (exact).
- **Tokens per minute**: a sliding window of one-second buckets. A request is admitted against its
  estimated prompt tokens; once it ends, its bucket is corrected to the tokens it really used
  (prompt and completion, from the upstream's usage), so the window holds real counts.
- **Requests at once**: the requests in flight.

In-process by default. With Redis configured, each check is one atomic Lua script on the shared
state, so any number of instances admit exactly the limit between them (requests at once
included: a sorted set of the requests in flight, whose entries expire should an instance die
with its requests). A Redis outage falls back to the in-process state with one warning, never
to a refused request.

A request is checked against every scope that applies, in order; if one refuses, what the others
had taken for it is given back, so a refused request counts against nothing.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from babelgate.errors import RateLimitExceeded

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("babelgate.limits")
WINDOW: Final = 60.0  # seconds: "per minute"
# A request in flight is forgotten after this long even if its instance never said it ended.
STALE_IN_FLIGHT: Final = 3600.0

# KEYS[1] the window's sorted set; ARGV: now (ms), window (ms), limit, a unique member.
# Drops what left the window, counts, and admits (adding this request) only under the limit;
# answers {admitted, count, oldest timestamp in the window}.
_REQUESTS: Final = """
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

# KEYS[1] a hash second → tokens; ARGV: now (s), window (s), limit, estimate.
# Drops seconds that left the window, sums the rest, admits (adding the estimate to this second)
# when it fits, or when the window is empty (a request larger than the whole limit still runs
# alone rather than never); answers {admitted, tokens used, oldest second in the window}.
_TOKENS: Final = """
local now = tonumber(ARGV[1])
local horizon = now - tonumber(ARGV[2])
local fields = redis.call('HGETALL', KEYS[1])
local used = 0
local oldest = now
for i = 1, #fields, 2 do
  local second = tonumber(fields[i])
  if second <= horizon then
    redis.call('HDEL', KEYS[1], fields[i])
  else
    used = used + tonumber(fields[i + 1])
    if second < oldest then oldest = second end
  end
end
local admitted = 0
local estimate = tonumber(ARGV[4])
if used <= 0 or used + estimate <= tonumber(ARGV[3]) then
  redis.call('HINCRBY', KEYS[1], ARGV[1], estimate)
  used = used + estimate
  admitted = 1
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]) + 1)
return {admitted, used, oldest}
"""

# KEYS[1] the sorted set of requests in flight; ARGV: now (ms), stale (ms), limit, a unique member.
_IN_FLIGHT: Final = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1] - ARGV[2])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Limits:
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None

    def __bool__(self) -> bool:
        return bool(self.rpm or self.tpm or self.max_concurrent)


@dataclass(frozen=True, slots=True)
class Scope:
    """Who a limit is for: `key`, `team` or `model`, and its name (a key's id, never a secret)."""

    kind: str
    name: str
    limits: Limits

    @property
    def who(self) -> str:
        return "this API key" if self.kind == "key" else f"{self.kind} '{self.name}'"


@dataclass(frozen=True, slots=True)
class Decision:
    admitted: bool
    limit: int
    remaining: int
    reset: float  # seconds until the window has room again (its oldest entry leaves it)


@dataclass(slots=True)
class Admission:
    """What one request took from each scope: given back (`release`) or corrected (`finish`)."""

    estimate: int
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (window key, member)
    tokens: list[tuple[str, int]] = field(default_factory=list)  # (window key, second or local slot id)
    in_flight: list[tuple[str, str | None]] = field(default_factory=list)
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    _headed: set[str] = field(default_factory=set)


class _TokenWindow:
    """One scope's tokens per second over the last minute, in this process."""

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds: deque[list[float]] = deque()  # [second, tokens]

    def used(self, now: float) -> tuple[float, float]:
        seconds = self.seconds
        while seconds and seconds[0][0] <= now - WINDOW:
            seconds.popleft()
        return sum(entry[1] for entry in seconds), (seconds[0][0] if seconds else now)

    def add(self, second: float, tokens: float) -> None:
        for entry in reversed(self.seconds):
            if entry[0] == second:
                entry[1] += tokens
                return
            if entry[0] < second:
                break
        if not self.seconds or self.seconds[-1][0] < second:
            self.seconds.append([second, tokens])


class RateLimiter:
    def __init__(self, redis_url: str | None = None, *, prefix: str = "babelgate:") -> None:
        self.prefix = prefix
        self._redis_url = redis_url
        self._redis: Redis | None = None
        self._scripts: dict[str, Any] = {}
        self._warned = False
        self._members = itertools.count()
        self._requests: dict[str, deque[float]] = {}
        self._tokens: dict[str, _TokenWindow] = {}
        self.in_flight: dict[str, int] = {}

    # --- a request's way through the scopes ------------------------------------------------------

    async def admit(self, scopes: list[Scope], estimate: int, headers: list[tuple[bytes, bytes]] | None = None
                    ) -> Admission:
        """Take what the request needs from every scope, or give it all back and raise the refusal.
        OpenAI's `x-ratelimit-*` headers go into `headers` either way."""
        admission = Admission(estimate, headers=headers if headers is not None else [])
        try:
            for scope in scopes:
                await self._admit_one(scope, admission)
        except RateLimitExceeded:
            await self.release(admission, refund=True)
            raise
        return admission

    async def _admit_one(self, scope: Scope, admission: Admission) -> None:
        limits, name = scope.limits, f"{scope.kind}:{scope.name}"
        if limits.rpm:
            decision = await self._hit_requests(f"rpm:{name}", limits.rpm, admission)
            self._announce(admission, "requests", decision)
            if not decision.admitted:
                wait = max(1.0, decision.reset)
                raise RateLimitExceeded("requests_per_minute_limited", retry_after=wait, limit=limits.rpm,
                                        who=scope.who, seconds=round(wait))
        if limits.tpm:
            decision = await self._hit_tokens(f"tpm:{name}", limits.tpm, admission)
            self._announce(admission, "tokens", decision)
            if not decision.admitted:
                wait = max(1.0, decision.reset)
                raise RateLimitExceeded("tokens_per_minute_limited", retry_after=wait, limit=limits.tpm,
                                        who=scope.who, seconds=round(wait), estimate=admission.estimate)
        if limits.max_concurrent and not await self._enter(f"inflight:{name}", limits.max_concurrent, admission):
            raise RateLimitExceeded("concurrency_limited", code="concurrency_limit_exceeded", retry_after=1.0,
                                    limit=limits.max_concurrent, who=scope.who)

    @staticmethod
    def _announce(admission: Admission, unit: str, decision: Decision) -> None:
        """OpenAI's `x-ratelimit-*` headers, from the first scope that limits this unit (the
        key's, when it has one: scopes come key first)."""
        if unit in admission._headed:
            return
        admission._headed.add(unit)
        admission.headers += [(f"x-ratelimit-limit-{unit}".encode(), str(decision.limit).encode()),
                              (f"x-ratelimit-remaining-{unit}".encode(), str(decision.remaining).encode()),
                              (f"x-ratelimit-reset-{unit}".encode(), reset_text(decision.reset).encode())]

    async def finish(self, admission: Admission, tokens_used: int | None) -> None:
        """The request ended: its slots come back, and its token estimate becomes what it used."""
        if tokens_used is not None and admission.tokens:
            delta = tokens_used - admission.estimate
            if delta:
                await self._correct_tokens(admission, delta)
        await self.release(admission, refund=False)

    async def release(self, admission: Admission, *, refund: bool) -> None:
        """Give back the slots of requests at once; with `refund`, also what the windows counted."""
        if refund:
            for window, member in admission.requests:
                await self._unhit_requests(window, member)
            if admission.tokens:
                await self._correct_tokens(admission, -admission.estimate)
        for window, member in admission.in_flight:
            await self._leave(window, member)
        admission.requests.clear()
        admission.tokens.clear()
        admission.in_flight.clear()

    # --- the windows: Redis when configured, else this process ------------------------------------

    async def _script(self, name: str, source: str, window: str, args: list[Any]) -> Any:
        """Runs a script on Redis; None when Redis is not configured or unreachable (then this
        process decides)."""
        if self._redis_url is None:
            return None
        try:
            script = self._scripts.get(name)
            if script is None:
                script = self._scripts[name] = self._client().register_script(source)
            result = await script(keys=[self.prefix + window], args=args)
        except Exception as exc:
            self._outage(exc)
            return None
        self._back()
        return result

    async def _command(self, *args: Any) -> bool:
        if self._redis_url is None:
            return False
        try:
            await self._client().execute_command(*args)  # type: ignore[no-untyped-call]
        except Exception as exc:
            self._outage(exc)
            return False
        return True

    def _client(self) -> Redis:
        if self._redis is None:
            from redis.asyncio import Redis  # only where Redis is configured

            assert self._redis_url is not None
            self._redis = Redis.from_url(self._redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return self._redis

    def _outage(self, exc: Exception) -> None:
        if not self._warned:
            log.warning("Redis unreachable for rate limits (%s): limits are per instance until it is back",
                        type(exc).__name__)
            self._warned = True

    def _back(self) -> None:
        if self._warned:
            log.warning("Redis is back: rate limits are shared again")
            self._warned = False

    def _member(self, now: float) -> str:
        return f"{now:.6f}-{id(self)}-{next(self._members)}"

    async def _hit_requests(self, window: str, limit: int, admission: Admission) -> Decision:
        now = time.time()
        member = self._member(now)
        result = await self._script("requests", _REQUESTS, window, [int(now * 1000), int(WINDOW * 1000), limit,
                                                                     member])
        if result is not None:
            admitted, count, oldest = result
            if admitted:
                admission.requests.append((window, member))
            reset = max(0.0, float(oldest) / 1000 + WINDOW - now)
            return Decision(bool(admitted), limit, max(0, limit - int(count)), reset)
        times = self._requests.setdefault(window, deque())
        while times and times[0] <= now - WINDOW:
            times.popleft()
        admitted = len(times) < limit
        if admitted:
            times.append(now)
            admission.requests.append((window, None))
        reset = (times[0] + WINDOW - now) if times else 0.0
        return Decision(admitted, limit, max(0, limit - len(times)), max(0.0, reset))

    async def _unhit_requests(self, window: str, member: str | None) -> None:
        if member is not None:
            await self._command("ZREM", self.prefix + window, member)
            return
        times = self._requests.get(window)
        if times:
            times.pop()  # the newest is this request's (no await since it was taken)

    async def _hit_tokens(self, window: str, limit: int, admission: Admission) -> Decision:
        now = time.time()
        second = int(now)
        estimate = admission.estimate
        result = await self._script("tokens", _TOKENS, window, [second, int(WINDOW), limit, estimate])
        if result is not None:
            admitted, used, oldest = (int(value) for value in result)
        else:
            tokens = self._tokens.setdefault(window, _TokenWindow())
            used_f, oldest_f = tokens.used(now)
            admitted = used_f <= 0 or used_f + estimate <= limit
            if admitted:
                tokens.add(second, estimate)
                used_f += estimate
            used, oldest = int(used_f), int(oldest_f)
        if admitted:
            admission.tokens.append((window, second))
        reset = max(0.0, oldest + WINDOW - now)
        return Decision(bool(admitted), limit, max(0, limit - used), reset)

    async def _correct_tokens(self, admission: Admission, delta: int) -> None:
        horizon = time.time() - WINDOW
        for window, second in admission.tokens:
            if second <= horizon:
                continue  # it left the window: nothing to correct
            if await self._command("HINCRBY", self.prefix + window, second, delta):
                continue
            tokens = self._tokens.get(window)
            if tokens is not None:
                tokens.add(second, delta)

    async def _enter(self, window: str, limit: int, admission: Admission) -> bool:
        now = time.time()
        member = self._member(now)
        result = await self._script("in_flight", _IN_FLIGHT, window, [int(now * 1000), int(STALE_IN_FLIGHT * 1000),
                                                                       limit, member])
        if result is not None:
            if result:
                admission.in_flight.append((window, member))
            return bool(result)
        current = self.in_flight.get(window, 0)
        if current >= limit:
            return False
        self.in_flight[window] = current + 1
        admission.in_flight.append((window, None))
        return True

    async def _leave(self, window: str, member: str | None) -> None:
        if member is not None:  # taken in Redis: given back there (or left to expire if it is down)
            await self._command("ZREM", self.prefix + window, member)
            return
        current = self.in_flight.get(window, 0) - 1
        if current > 0:
            self.in_flight[window] = current
        else:
            self.in_flight.pop(window, None)

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


def estimate_tokens(body_size: int) -> int:
    """Prompt tokens before the call, from the request's size: about 4 bytes of JSON per token
    (OpenAI's rule of thumb for English text; JSON's punctuation makes this an overestimate for
    short messages, which is the safe side). Corrected from the upstream's usage after the call."""
    return max(1, body_size // 4)
