"""Rate limits of a scope: a virtual key, a team (all its keys together) or a model (all callers
together). Each scope may set requests per minute, tokens per minute and requests at once.

- **Requests per minute**: a sliding window of admission times (exact).
- **Tokens per minute**: a sliding window of one-second buckets. A request is admitted against its
  estimated prompt tokens; once it ends, its bucket is corrected to the tokens it really used
  (prompt and completion, from the upstream's usage), so the window holds real counts.
- **Requests at once**: the requests in flight.

In-process by default. With Redis configured, one Lua script admits a request against all its
scopes at once, atomically, and one settles it when it ends (two round trips; one when no scope
limits tokens or requests at once): any number of instances admit exactly the limit between them.
Requests in flight are a sorted set whose entries expire should an instance die with its
requests. A Redis outage falls back to the in-process state at once (redis_link.py's breaker),
never to a refused request.

A request is admitted by every scope that applies, or by none: a refused request counts against
nothing (in-process, what the scopes before the refusing one took is given back).
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

from babelgate.errors import RateLimitExceeded
from babelgate.headers import LINES, CheckedLines, lines_are_safe
from babelgate.redis_link import RedisLink, RedisUnavailable

WINDOW: Final = 60.0  # seconds: "per minute"
# A request in flight is forgotten after this long even if its instance never said it ended.
STALE_IN_FLIGHT: Final = 3600.0

# The Redis engine: one script admits a request against every scope at once, all or nothing, and
# one settles it. KEYS: per scope, its requests' sorted set, its tokens' hash (second → tokens) and
# its in-flight sorted set. ARGV: now (ms), now (s), the token estimate, a unique member, how long an
# in-flight entry may live (ms), then per scope its rpm, tpm and max_concurrent (0: none).
# Answers {admitted, failing scope, failing limit (1 rpm, 2 tpm, 3 at once)} and per scope
# {requests in the window, the oldest's time (ms), tokens in the window, the oldest second}.
_ADMIT: Final = """
local now_ms, now_s = tonumber(ARGV[1]), tonumber(ARGV[2])
local estimate, member, stale = tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local out = {1, 0, 0}
local scopes = #KEYS / 3
for i = 1, scopes do
  local rpm, tpm, conc = tonumber(ARGV[3 * i + 3]), tonumber(ARGV[3 * i + 4]), tonumber(ARGV[3 * i + 5])
  local rk, tk, ck = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local count, oldest, used, first = 0, now_ms, 0, now_s
  if rpm > 0 then
    redis.call('ZREMRANGEBYSCORE', rk, 0, now_ms - 60000)
    count = redis.call('ZCARD', rk)
    local o = redis.call('ZRANGE', rk, 0, 0, 'WITHSCORES')
    if o[2] then oldest = tonumber(o[2]) end
    if count >= rpm and out[1] == 1 then out[1], out[2], out[3] = 0, i, 1 end
  end
  if tpm > 0 then
    local fields = redis.call('HGETALL', tk)
    for f = 1, #fields, 2 do
      local second = tonumber(fields[f])
      if second <= now_s - 60 then
        redis.call('HDEL', tk, fields[f])
      else
        used = used + tonumber(fields[f + 1])
        if second < first then first = second end
      end
    end
    if used > 0 and used + estimate > tpm and out[1] == 1 then out[1], out[2], out[3] = 0, i, 2 end
  end
  if conc > 0 then
    redis.call('ZREMRANGEBYSCORE', ck, 0, now_ms - stale)
    if redis.call('ZCARD', ck) >= conc and out[1] == 1 then out[1], out[2], out[3] = 0, i, 3 end
  end
  table.insert(out, count)
  table.insert(out, oldest)
  table.insert(out, used)
  table.insert(out, first)
end
if out[1] == 1 then
  for i = 1, scopes do
    local rpm, tpm, conc = tonumber(ARGV[3 * i + 3]), tonumber(ARGV[3 * i + 4]), tonumber(ARGV[3 * i + 5])
    if rpm > 0 then
      redis.call('ZADD', KEYS[3 * i - 2], now_ms, member)
      redis.call('PEXPIRE', KEYS[3 * i - 2], 60000)
      out[4 * i] = out[4 * i] + 1
    end
    if tpm > 0 then
      redis.call('HINCRBY', KEYS[3 * i - 1], ARGV[2], estimate)
      redis.call('EXPIRE', KEYS[3 * i - 1], 61)
      out[4 * i + 2] = out[4 * i + 2] + estimate
    end
    if conc > 0 then
      redis.call('ZADD', KEYS[3 * i], now_ms, member)
      redis.call('PEXPIRE', KEYS[3 * i], stale)
    end
  end
end
return out
"""

# KEYS: per scope its tokens' hash and its in-flight set. ARGV: the second it was admitted in, the
# tokens to add to it (the estimate's correction), the member, the oldest second still in the
# window, then per scope 1/0 for "has tpm", "has max_concurrent".
_SETTLE: Final = """
local delta, horizon = tonumber(ARGV[2]), tonumber(ARGV[4])
for i = 1, #KEYS / 2 do
  if ARGV[3 + 2 * i] == '1' and delta ~= 0 and tonumber(ARGV[1]) > horizon then
    redis.call('HINCRBY', KEYS[2 * i - 1], ARGV[1], delta)
  end
  if ARGV[4 + 2 * i] == '1' then
    redis.call('ZREM', KEYS[2 * i], ARGV[3])
  end
end
return 1
"""


# OpenAI's three `x-ratelimit-*` headers of a unit, as the lines of one `headers.LINES` pair (one piece of the
# head, not three headers): the limit, what remains and when the window has room again, to be filled in.
_UNIT_LINES: Final = {
    unit: b"x-ratelimit-limit-%b: %%d\r\nx-ratelimit-remaining-%b: %%d\r\nx-ratelimit-reset-%b: %%b\r\n"
    % (unit.encode(), unit.encode(), unit.encode())
    for unit in ("requests", "tokens")
}


# The `x-ratelimit-reset-*` values already written, by what decides their text (whole seconds; -ms below one): a
# pure function of a number, so one table serves every gateway in the process.
_RESET_TEXTS: dict[int, bytes] = {}
_REQUEST_LINES: Final = _UNIT_LINES["requests"]
_TOKEN_LINES: Final = _UNIT_LINES["tokens"]
# Checked once here, so that the lines made from them are `CheckedLines`: a template filled with numbers (`%d`) and
# a reset text (checked when first written: `reset_bytes`) is three whole, safe lines.
if not all(lines_are_safe(lines % (0, 0, b"1s")) for lines in _UNIT_LINES.values()):
    raise RuntimeError("the x-ratelimit-* header templates are not header lines")


@dataclass(frozen=True, slots=True)
class Limits:
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None

    def __bool__(self) -> bool:
        return bool(self.rpm or self.tpm or self.max_concurrent)


@dataclass(frozen=True, slots=True)
class Scope:
    """Who a limit is for: `key`, `team` or `model`, and its name (a key's id, never a secret).
    Built once per key and configuration (governance/admission.py), with its windows' names."""

    kind: str
    name: str
    limits: Limits
    windows: tuple[str, str, str] = field(init=False)  # requests, tokens, in flight
    # The `x-ratelimit-*` lines this scope writes when it is the first to limit requests, tokens, or both: its
    # limits filled in, what remains (%d) and the reset (%b) left to fill.
    lines: tuple[bytes, bytes, bytes] = field(init=False)

    def __post_init__(self) -> None:
        name = f"{self.kind}:{self.name}"
        object.__setattr__(self, "windows", (f"rpm:{name}", f"tpm:{name}", f"inflight:{name}"))
        limits = self.limits
        requests, tokens = _with_limit(_REQUEST_LINES, limits.rpm), _with_limit(_TOKEN_LINES, limits.tpm)
        object.__setattr__(self, "lines", (requests, tokens, requests + tokens))

    @property
    def who(self) -> str:
        if self.kind == "key":
            return "this API key"
        if self.kind == "end_user":  # `<key id>/<end user>`: the key's id is not the client's to see
            return f"end user '{self.name.partition('/')[2]}'"
        return f"{self.kind} '{self.name}'"


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__
class Decision:
    limit: int
    remaining: int
    reset: float  # seconds until the window has room again (its oldest entry leaves it)


class Admission:
    """What one request took from its scopes: given back or corrected when it ends (`finish`). (A plain
    class: a dataclass's default factories cost a call each, on every governed request.)"""

    __slots__ = ("estimate", "headers", "member", "second", "shared", "taken")

    def __init__(self, estimate: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.estimate = estimate
        self.headers = headers
        # The in-process engine: each scope's counts that admitted the request, with the entry of the second
        # it was admitted in (both engines).
        self.taken: list[tuple[_Counts, list[int]]] = []
        self.second = 0
        # The Redis engine: the scopes' (tokens key, in-flight key, has tpm, has max_concurrent) and the
        # request's member in the sets.
        self.shared: list[tuple[str, str, bool, bool]] | None = None
        self.member = ""


class _Counts:
    """One scope's counts in this process: requests and tokens per second over the last minute, one entry
    `[second, requests, tokens]` a second, and its requests in flight. A second's entry leaves the window as a
    whole, when the minute since that second's start is over: up to a second earlier than each of its requests'
    own minute, never later. Per second, not per request: memory that does not grow with the rate (a timestamp per
    request held a minute was ~30 MB of floats at 6,000 requests a second on three scopes). Everything is counted
    whatever the scope limits (a count costs less than asking); its limits decide what is checked.

    The window's totals are the newest second's entry plus the running totals of the seconds before it
    (`past_requests`, `past_tokens`): a request adds to its second's entry alone, and the newest entry joins the
    past totals when the next second opens."""

    __slots__ = ("in_flight", "newest", "past_requests", "past_tokens", "seconds")

    def __init__(self) -> None:
        self.seconds: deque[list[int]] = deque()
        self.newest = [-1, 0, 0]  # no second yet (never in `seconds`: it counts nothing)
        self.past_requests = 0
        self.past_tokens = 0
        self.in_flight = 0

    @property
    def requests(self) -> int:
        """The requests in the window."""
        return self.past_requests + self.newest[1]

    @property
    def tokens(self) -> int:
        """The tokens in the window."""
        return self.past_tokens + self.newest[2]

    def entry(self, second: int, horizon: int) -> list[int]:
        """The entry requests of `second` count in: the newest entry joins the past totals, the window moves on
        (entries of seconds up to `horizon` leave it), then a new entry opens. Asked once a second per scope;
        every other request of that second finds its entry newest. A clock that went back counts in the newest
        entry."""
        newest = self.newest
        if newest[0] >= second:
            return newest
        self.past_requests += newest[1]
        self.past_tokens += newest[2]
        seconds = self.seconds
        while seconds and seconds[0][0] <= horizon:
            _, requests, tokens = seconds.popleft()
            self.past_requests -= requests
            self.past_tokens -= tokens
        entry = self.newest = [second, 0, 0]
        seconds.append(entry)
        return entry


class RateLimiter:
    def __init__(self, redis: RedisLink | None = None, *, prefix: str = "babelgate:") -> None:
        """`redis`: the gateway's link, when limits are shared (its owner closes it)."""
        self.prefix = prefix
        self.link = redis  # shared limits' Redis, None when this process counts alone
        self._admit_script: Any = None
        self._settle_script: Any = None
        self._members = itertools.count()
        self._counts: dict[str, _Counts] = {}  # by the scope's first window's name
        # A scope is counted from its first request on; one whose window has emptied, with nothing in flight, holds
        # nothing and goes at the next sweep, made when the scopes have doubled since the last (an end customer is a
        # scope of its own: a key's customers would otherwise be kept for good).
        self._sweep_at = _SWEEP_FLOOR

    def counts(self, scope: Scope) -> _Counts | None:
        """What this process counts for `scope` (None before its first request here)."""
        return self._counts.get(scope.windows[0])

    async def admit(
        self, scopes: list[Scope], estimate: int, headers: list[tuple[bytes, bytes]] | None = None
    ) -> Admission:
        """Take what the request needs from every scope, or nothing and raise the refusal.
        OpenAI's `x-ratelimit-*` headers go into `headers` either way."""
        admission = Admission(estimate, headers if headers is not None else [])
        if self.link is not None and self.link.up:
            try:
                await self._admit_shared(scopes, admission)
            except RedisUnavailable:
                pass  # counted by this instance until Redis is back
            else:
                return admission
        self.admit_local(scopes, admission, time.time())
        return admission

    async def finish(self, admission: Admission, tokens_used: int | None) -> None:
        """The request ended: its slots come back, and its token estimate becomes what it used."""
        delta = tokens_used - admission.estimate if tokens_used is not None else 0
        if admission.shared is not None:
            if any(tpm or concurrent for _, _, tpm, concurrent in admission.shared):
                await self._settle_shared(admission, delta)
            return
        self.finish_local(admission, delta, time.time())

    @property
    def shared(self) -> bool:
        """Whether an admission now goes through Redis (else `admit_local` is what `admit` would do, and
        `finish_local` what `finish` would)."""
        return self.link is not None and self.link.up

    # --- refusals and headers ---------------------------------------------------------------------

    @staticmethod
    def _refuse(scope: Scope, kind: int, decision: Decision, estimate: int) -> RateLimitExceeded:
        wait = max(1.0, decision.reset)
        if kind == 1:
            return RateLimitExceeded(
                "requests_per_minute_limited",
                retry_after=wait,
                limit=decision.limit,
                who=scope.who,
                seconds=round(wait),
            )
        if kind == 2:
            return RateLimitExceeded(
                "tokens_per_minute_limited",
                retry_after=wait,
                limit=decision.limit,
                who=scope.who,
                seconds=round(wait),
                estimate=estimate,
            )
        return RateLimitExceeded(
            "concurrency_limited",
            code="concurrency_limit_exceeded",
            retry_after=1.0,
            limit=decision.limit,
            who=scope.who,
        )

    @staticmethod
    def _announce(admission: Admission, unit: str, decision: Decision, headed: set[str]) -> None:
        """OpenAI's `x-ratelimit-*` headers, from the first scope that limits this unit (the
        key's, when it has one: scopes come key first)."""
        if unit in headed:
            return
        headed.add(unit)
        _write_headers(admission.headers, _UNIT_LINES[unit], decision.limit, decision.remaining, decision.reset)

    # --- the in-process engine ----------------------------------------------------------------------

    def admit_local(self, scopes: list[Scope], admission: Admission, now: float) -> None:
        """`admit` at `now` by this process's counts alone: what it does when no Redis is shared (or it is down;
        `shared` says). Every scope is checked (requests, tokens, in flight) before it takes anything, and takes all
        three or nothing; a refusal gives back what the scopes before it took. One clock reading for all of them.
        Written out in one function: every governed request runs it, for each of its scopes; the first scope
        that limits a unit writes its headers here (`_head` when it refuses)."""
        second = int(now)
        estimate = admission.estimate
        taken = admission.taken
        admission.second = second
        every = self._counts
        unheaded = True  # no scope has written the requests' headers yet
        untokened = True  # nor the tokens'
        for scope in scopes:
            counts = every.get(scope.windows[0])
            if counts is None:
                if len(every) >= self._sweep_at:
                    self._sweep(second - 60)
                counts = every[scope.windows[0]] = _Counts()
            newest = counts.newest
            if newest[0] != second:
                # A second leaves the window once `second + WINDOW <= now`: `int(WINDOW)` seconds before this one.
                newest = counts.entry(second, second - 60)
            limits = scope.limits
            rpm = limits.rpm
            tpm = limits.tpm
            if rpm:
                used = counts.past_requests + newest[1]
                if used >= rpm:
                    self._head(admission, scope, 1, rpm, used, counts.seconds[0][0], now, unheaded)
            if tpm:
                tokens = counts.past_tokens + newest[2]
                # A scope with no tokens counted yet admits any estimate.
                if tokens > 0 and tokens + estimate > tpm:
                    if rpm and unheaded:  # the requests' lines, as this scope would have written them admitted
                        reset_at = counts.seconds[0][0] + WINDOW - now
                        _write_headers(admission.headers, _REQUEST_LINES, rpm, rpm - used - 1, reset_at)
                    self._head(admission, scope, 2, tpm, tokens, counts.seconds[0][0], now, untokened)
            # Admitted by this scope. The first scope that limits a unit writes its lines: both units in one piece
            # when it is the first for both (the key's, usually), with one reset text (the same oldest second).
            if unheaded and rpm:
                reset = reset_bytes(counts.seconds[0][0] + WINDOW - now)
                if untokened and tpm:
                    remaining = tpm - tokens - estimate
                    lines = scope.lines[2] % (rpm - used - 1, reset, remaining if remaining > 0 else 0, reset)
                    untokened = False
                else:
                    lines = scope.lines[0] % (rpm - used - 1, reset)
                admission.headers += ((LINES, CheckedLines(lines)),)
                unheaded = False
            elif untokened and tpm:
                remaining = tpm - tokens - estimate
                lines = scope.lines[1] % (
                    remaining if remaining > 0 else 0,
                    reset_bytes(counts.seconds[0][0] + WINDOW - now),
                )
                admission.headers += ((LINES, CheckedLines(lines)),)
                untokened = False
            at_once = limits.max_concurrent
            if at_once and counts.in_flight >= at_once:
                self._refund(admission)
                raise self._refuse(scope, 3, Decision(at_once, 0, 1.0), estimate)
            # Admitted by this scope: it takes its share.
            newest[1] += 1
            newest[2] += estimate
            counts.in_flight += 1
            taken.append((counts, newest))

    def _head(
        self,
        admission: Admission,
        scope: Scope,
        kind: int,
        limit: int,
        used: int,
        oldest: int,
        now: float,
        headed: bool,
    ) -> None:
        """A scope refuses the request for a unit (kind 1: requests, 2: tokens): it writes the unit's headers
        when it is the first to limit it, and raises."""
        reset = max(0.0, oldest + WINDOW - now)
        if headed:
            _write_headers(admission.headers, _REQUEST_LINES if kind == 1 else _TOKEN_LINES, limit, limit - used, reset)
        self._refund(admission)
        raise self._refuse(scope, kind, Decision(limit, max(0, limit - used), reset), admission.estimate)

    def _sweep(self, horizon: int) -> None:
        """Forget the scopes with nothing counted since `horizon` and nothing in flight."""
        every = self._counts
        for name in [name for name, counts in every.items() if _idle(counts, horizon)]:
            del every[name]
        self._sweep_at = max(_SWEEP_FLOOR, 2 * len(every))

    @staticmethod
    def finish_local(admission: Admission, delta: int, now: float) -> None:
        """`finish` at `now` of an admission made by this process's counts (its `shared` is None): `delta`, the
        tokens used less the estimate."""
        # The correction counts only where its second is still in the window (its entry may have left it).
        if not delta or admission.second <= now - WINDOW:
            delta = 0
        for counts, entry in admission.taken:
            entry[2] += delta
            if entry is not counts.newest:  # its second has joined the past totals
                counts.past_tokens += delta
            counts.in_flight -= 1
        admission.taken.clear()

    @staticmethod
    def _refund(admission: Admission) -> None:
        """A refused request: what the scopes before the refusing one took comes back (in the same turn as they
        took it: their entries are in the window)."""
        estimate = admission.estimate
        for counts, entry in admission.taken:
            entry[1] -= 1
            entry[2] -= estimate
            if entry is not counts.newest:  # its second has joined the past totals
                counts.past_requests -= 1
                counts.past_tokens -= estimate
            counts.in_flight -= 1
        admission.taken.clear()

    # --- the Redis engine: one round trip in, one out -------------------------------------------

    async def _admit_shared(self, scopes: list[Scope], admission: Admission) -> None:
        assert self.link is not None
        if self._admit_script is None:
            client = self.link.client
            self._admit_script = client.register_script(_ADMIT)
            self._settle_script = client.register_script(_SETTLE)
        now = time.time()
        member = f"{now:.6f}-{id(self)}-{next(self._members)}"
        keys: list[str] = []
        args: list[Any] = [int(now * 1000), int(now), admission.estimate, member, int(STALE_IN_FLIGHT * 1000)]
        for scope in scopes:
            keys += [self.prefix + window for window in scope.windows]
            limits = scope.limits
            args += [limits.rpm or 0, limits.tpm or 0, limits.max_concurrent or 0]
        answer = await self.link.call(lambda _: self._admit_script(keys=keys, args=args))
        result = [int(float(value)) for value in answer]
        admitted, failing, kind = result[0], result[1], result[2]
        headed: set[str] = set()
        for number, scope in enumerate(scopes):
            count, oldest_ms, used, first = result[3 + 4 * number : 7 + 4 * number]
            limits = scope.limits
            if limits.rpm:
                reset = max(0.0, oldest_ms / 1000 + WINDOW - now)
                self._announce(admission, "requests", Decision(limits.rpm, max(0, limits.rpm - count), reset), headed)
            if limits.tpm:
                reset = max(0.0, first + WINDOW - now)
                self._announce(admission, "tokens", Decision(limits.tpm, max(0, limits.tpm - used), reset), headed)
        if not admitted:
            scope = scopes[failing - 1]
            limits = scope.limits
            count, oldest_ms, used, first = result[3 + 4 * (failing - 1) : 7 + 4 * (failing - 1)]
            if kind == 1:
                decision = Decision(limits.rpm or 0, 0, max(0.0, oldest_ms / 1000 + WINDOW - now))
            elif kind == 2:
                decision = Decision(limits.tpm or 0, 0, max(0.0, first + WINDOW - now))
            else:
                decision = Decision(limits.max_concurrent or 0, 0, 1.0)
            raise self._refuse(scope, kind, decision, admission.estimate)
        admission.shared = [
            (keys[3 * n + 1], keys[3 * n + 2], bool(scope.limits.tpm), bool(scope.limits.max_concurrent))
            for n, scope in enumerate(scopes)
        ]
        admission.member, admission.second = member, int(now)

    async def _settle_shared(self, admission: Admission, delta: int) -> None:
        assert admission.shared is not None
        keys: list[str] = []
        args: list[Any] = [admission.second, delta, admission.member, int(time.time() - WINDOW)]
        for tokens_key, in_flight_key, tpm, concurrent in admission.shared:
            keys += [tokens_key, in_flight_key]
            args += [1 if tpm else 0, 1 if concurrent else 0]
        assert self.link is not None
        # Unsettled while Redis is away: the in-flight entry expires on its own, the estimate stays counted.
        with contextlib.suppress(RedisUnavailable):
            await self.link.call(lambda _: self._settle_script(keys=keys, args=args))


_SWEEP_FLOOR: Final = 10_000  # scopes counted before the first sweep


def _idle(counts: _Counts, horizon: int) -> bool:
    seconds = counts.seconds
    return counts.in_flight == 0 and (not seconds or seconds[-1][0] <= horizon)


def reset_text(seconds: float) -> str:
    """OpenAI's form of a reset time: `1s`, `6m0s`, `250ms`."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    whole = int(seconds + 0.999)
    minutes, rest = divmod(whole, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def _write_headers(headers: list[tuple[bytes, bytes]], lines: bytes, limit: int, remaining: int, reset: float) -> None:
    """OpenAI's three `x-ratelimit-*` headers of one unit, as one `LINES` pair (both engines write them here)."""
    headers.append((LINES, CheckedLines(lines % (limit, max(0, remaining), reset_bytes(reset)))))


def _with_limit(lines: bytes, limit: int | None) -> bytes:
    """A unit's lines with `limit` filled in (a number: the lines stay safe), the rest left to fill (`%d`, `%b`)."""
    return lines.replace(b"%d", b"%d" % (limit or 0), 1)


def reset_bytes(seconds: float) -> bytes:
    """`reset_text`, as header bytes: every governed request writes one or two, and there are few distinct."""
    key = int(seconds + 0.999) if seconds >= 1 else -max(1, round(seconds * 1000))
    text = _RESET_TEXTS.get(key)
    if text is None:
        text = reset_text(seconds).encode()
        if not text.isalnum():  # what makes the lines holding it `CheckedLines`: `1s`, `6m0s`, `250ms`
            raise ValueError(f"not a reset text: {text!r}")
        if len(_RESET_TEXTS) < 4096:
            _RESET_TEXTS[key] = text
    return text


def estimate_tokens(body_size: int) -> int:
    """Prompt tokens before the call, from the request's size: about 4 bytes of JSON per token
    (OpenAI's rule of thumb for English text; JSON's punctuation makes this an overestimate for
    short messages, which is the safe side). Corrected from the upstream's usage after the call."""
    estimate = body_size // 4
    return estimate if estimate > 1 else 1  # not `max`: every governed request asks (model_facts.Price.cost)
