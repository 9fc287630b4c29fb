"""Budgets: dollars a virtual key, or a team, may spend per period (`day`, `week`, `month` in UTC,
the week from Monday; no period: ever). What was spent comes from the ledger, so it survives
restarts: the first budgeted request of a key or team in a period reads the period's sum once,
and every request after it adds its cost as it ends. With Redis configured the running sum is
kept there (seeded from the ledger by whichever instance comes first), so every instance refuses
at the same total; without it each instance keeps its own, which is exact for one instance.

A budget is checked before the call (docs/decisions.md, "Limits are promises, the ledger is fact"): a request that
starts under budget finishes, even if its cost takes the total past it; the next one is refused.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from babelgate.errors import RateLimitExceeded
from babelgate.redis_link import RedisLink, RedisUnavailable
from babelgate.store.ledger_table import UsageQuery

if TYPE_CHECKING:
    from babelgate.store import ResponseStore

# KEYS[1] the running sum; ARGV[1] the cost. Added only to a sum that exists: one that does not is
# seeded from the ledger at its next check (which then includes this cost, once its row is written).
_ADD: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
end
return nil
"""


_PRUNE_FLOOR: Final = 10_000  # periods' sums kept before the first pruning

# The current period of each kind, while it lasts: every governed request asks (twice), and working the
# bounds out with datetime and calendar was a tenth of a governed request's CPU. The process's, not a gateway's:
# the calendar's, the same for every gateway.
_CURRENT: dict[str, tuple[float, float]] = {}


def period_bounds(period: str | None, now: float) -> tuple[float, float]:
    """The period `now` is in: its start and its end (unix seconds; no period: ever)."""
    if period is None:
        return 0.0, float("inf")
    known = _CURRENT.get(period)
    if known is not None and known[0] <= now < known[1]:
        return known
    bounds = _compute_bounds(period, now)
    _CURRENT[period] = bounds
    return bounds


def _compute_bounds(period: str, now: float) -> tuple[float, float]:
    moment = datetime.fromtimestamp(now, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        start, end = day, day + timedelta(days=1)
    elif period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    else:
        start = day.replace(day=1)
        end = start + timedelta(days=calendar.monthrange(start.year, start.month)[1])
    return start.timestamp(), end.timestamp()


class Account:
    """One budget as a rule prepared it (governance/rules/budget.py): whose it is (`kind`, `name`), its dollars and
    its period, with the slot of its running sum for the period last asked about and that period's bounds, so that
    a check or an addition within the period works nothing out."""

    __slots__ = ("budget", "end", "kind", "name", "period", "slot", "start", "tally")

    def __init__(self, kind: str, name: str, budget: float, period: str | None) -> None:
        self.kind = kind
        self.name = name
        self.budget = budget
        self.period = period
        self.start = self.end = 0.0  # no period yet: the first use finds it
        self.slot = (kind, name, 0.0)
        # The running sum of `slot` once found (`Budgets.spent`'s), so that a request's check and addition find it
        # without hashing the slot: None until then, and again in a new period.
        self.tally: Tally | None = None

    def move(self, now: float) -> None:
        """Into the period `now` is in."""
        self.start, self.end = period_bounds(self.period, now)
        self.slot = (self.kind, self.name, self.start)
        self.tally = None


class Tally:
    """The dollars spent in one budget's period, kept by this instance: one object per slot, shared by every
    `Account` of that budget (a key's budget is prepared once per model it calls)."""

    __slots__ = ("spent",)

    def __init__(self, spent: float) -> None:
        self.spent = spent


class BudgetExceeded(RateLimitExceeded):
    """429 `budget_exceeded` (OpenAI's clients treat a spent quota as a 429 too), with Retry-After
    at the period's end."""

    default_code = "budget_exceeded"
    default_key = "budget_exceeded"
    type = "insufficient_quota"


class Budgets:
    def __init__(self, store: ResponseStore, redis: RedisLink | None = None, *, prefix: str = "babelgate:") -> None:
        """`redis`: the gateway's link, when running sums are shared (its owner closes it)."""
        self.store = store
        self.prefix = prefix
        self.link = redis  # shared sums' Redis, None when this instance keeps them alone
        self._add: Any = None
        # (kind, name, period start) → dollars spent; the seeding of each, once.
        self.spent: dict[tuple[str, str, float], Tally] = {}
        self._seeding: dict[tuple[str, str, float], asyncio.Future[float]] = {}
        # When each kept sum's period ends: sums of periods over go once the sums have doubled since the last
        # pruning (a key's end customers each have a sum per period: they would otherwise be kept for good).
        self._ends: dict[tuple[str, str, float], float] = {}
        self._prune_at = _PRUNE_FLOOR

    def check_now(self, account: Account, now: float) -> bool:
        """`check` at `now` from the sum this instance keeps (True), or False when it must be read first (Redis,
        or the period's first request here: seeded from the store)."""
        if self.link is not None:
            return False
        if not account.start <= now < account.end:
            account.move(now)
        tally = account.tally
        if tally is None:
            tally = account.tally = self.spent.get(account.slot)
            if tally is None:
                return False
        if tally.spent >= account.budget:
            raise _exceeded(account.kind, account.name, account.budget, account.period, tally.spent, account.end, now)
        return True

    async def check(self, account: Account, pending: float = 0.0) -> None:
        """Refuses (BudgetExceeded) when the scope has spent its budget for this period; `pending`: what a
        running call (a Realtime session) has spent so far and not yet added."""
        now = time.time()
        if not account.start <= now < account.end:
            account.move(now)
        spent = await self._spent(account.slot, account.end) + pending
        if spent >= account.budget:
            raise _exceeded(account.kind, account.name, account.budget, account.period, spent, account.end, now)

    def add_now(self, account: Account, cost: float, now: float) -> tuple[float, float] | None:
        """`add` at `now` without Redis (only call it then): the period's start and its new total, where one is
        kept."""
        if not account.start <= now < account.end:
            account.move(now)
        tally = account.tally
        if tally is None:
            tally = account.tally = self.spent.get(account.slot)
            if tally is None:
                return None
        tally.spent += cost
        return account.start, tally.spent

    async def add(self, account: Account, cost: float) -> tuple[float, float] | None:
        """Adds `cost`; answers the period's start and its new total where one is known (for alerts)."""
        local = self.add_now(account, cost, time.time())  # without Redis, all there is; with it, for an outage
        if self.link is None:
            return local
        start, slot = account.start, account.slot
        total = local[1] if local is not None else None
        if self.link.up:
            if self._add is None:
                self._add = self.link.client.register_script(_ADD)
            with contextlib.suppress(RedisUnavailable):  # the ledger has the cost: the next seeding counts it
                shared = await self.link.call(lambda _: self._add(keys=[self._key(slot)], args=[repr(cost)]))
                total = float(shared) if shared is not None else total
        return (start, total) if total is not None else None

    @property
    def shared(self) -> bool:
        """Whether the sums are shared through Redis (then every check and addition waits for it)."""
        return self.link is not None

    async def _spent(self, slot: tuple[str, str, float], end: float) -> float:
        if self.link is not None and self.link.up:
            link, key = self.link, self._key(slot)
            try:
                value = await link.call(lambda redis: redis.get(key))
                if value is None:
                    seeded = await self._seed(slot)  # from the store: not within Redis's deadline
                    # Whoever came first set it; everyone reads the same from here on.
                    await link.call(lambda redis: redis.set(key, repr(seeded), nx=True, ex=_ttl(slot[2])))
                    value = await link.call(lambda redis: redis.get(key))
                kept = self.spent.get(slot)
                return float(value) if value is not None else kept.spent if kept is not None else 0.0
            except RedisUnavailable:
                pass  # counted by this instance until Redis is back
        if slot not in self.spent:
            seeded = await self._seed(slot)
            if slot not in self.spent:  # the first of the requests that waited for the seeding keeps it
                self._keep(slot, end, seeded)
        return self.spent[slot].spent

    def _keep(self, slot: tuple[str, str, float], end: float, spent: float) -> None:
        """A period's sum, kept from now on (and the sums of periods over forgotten, when they have doubled)."""
        if len(self.spent) >= self._prune_at:
            now = time.time()
            for over in [kept for kept, ends in self._ends.items() if ends <= now]:
                self.spent.pop(over, None)
                del self._ends[over]
            self._prune_at = max(_PRUNE_FLOOR, 2 * len(self.spent))
        self.spent[slot] = Tally(spent)
        self._ends[slot] = end

    async def _seed(self, slot: tuple[str, str, float]) -> float:
        """The period's spend from the ledger, read once however many requests ask together."""
        pending = self._seeding.get(slot)
        if pending is None:
            pending = self._seeding[slot] = asyncio.get_running_loop().create_future()
            try:
                kind, name, start = slot
                # An end customer's budget is per key: its name is `<key id>/<end user>`.
                key_id, _, end_user = name.partition("/")
                filters = (("key", key_id), ("end_user", end_user)) if kind == "end_user" else ((kind, name),)
                rows = await self.store.usage_summary(UsageQuery(start, time.time() + 1, (), filters=filters))
                pending.set_result(sum(row["cost_usd"] for row in rows))
            except Exception as exc:
                pending.set_exception(exc)
                pending.exception()  # retrieved: the caller below re-raises it
            finally:
                del self._seeding[slot]
        return await asyncio.shield(pending)

    def _key(self, slot: tuple[str, str, float]) -> str:
        kind, name, start = slot
        return f"{self.prefix}spend:{kind}:{name}:{int(start)}"


def _exceeded(
    kind: str, name: str, budget: float, period: str | None, spent: float, end: float, now: float
) -> BudgetExceeded:
    wait = None if end == float("inf") else max(1.0, end - now)
    return BudgetExceeded(
        retry_after=wait, who=_who(kind, name), budget=f"{budget:g}", spent=f"{spent:.4f}", period=period or "all time"
    )


def _who(kind: str, name: str) -> str:
    if kind == "key":
        return "this API key"
    if kind == "end_user":
        return f"end user '{name.partition('/')[2]}'"
    return f"{kind} '{name}'"


def _ttl(start: float) -> int:
    """A running sum outlives its period by a day, then goes (the ledger keeps the facts)."""
    return int(max(3600.0, start + 33 * 86400 - time.time())) if start else 400 * 86400
