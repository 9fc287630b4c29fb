"""What was made cheaper in governance and accounting, held to what it must still mean: rpm counted per
second (memory that does not grow with the rate; a refusal gives its count back), a budget period's bounds
kept only while they last, and a request's cost worked out once for the usage it was worked out for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from babelgate.errors import RateLimitExceeded
from babelgate.governance.budgets import period_bounds
from babelgate.governance.rate_limits import Limits, RateLimiter, Scope
from babelgate.headers import pairs
from babelgate.model_facts import Price
from babelgate.providers.base import CallNotes
from babelgate.schema.chat import Usage


async def test_rpm_keeps_a_count_per_second_not_a_timestamp_per_request() -> None:
    limiter = RateLimiter()
    scope = Scope("key", "k1", Limits(rpm=100_000))
    for _ in range(5_000):
        admission = await limiter.admit([scope], 1)
        await limiter.finish(admission, 1)
    counts = limiter.counts(scope)
    assert counts is not None and counts.requests == 5_000
    assert len(counts.seconds) <= 2  # one bucket per second the loop ran in
    assert counts.in_flight == 0


def test_the_window_holds_each_second_with_its_corrections_until_its_minute_is_over() -> None:
    """The newest second counts in its entry, the seconds before it in running totals: a request that ends after
    its second joined those totals corrects them, a refusal gives back what the scopes before it took, and each
    second leaves the window whole once its minute is over."""
    from babelgate.governance.rate_limits import Admission

    limiter = RateLimiter()
    key, team = Scope("key", "k1", Limits(rpm=10, tpm=1_000)), Scope("team", "t", Limits(rpm=3))
    start = 1_000_000.0

    def admit(at: float, estimate: int = 100) -> Admission:
        admission = Admission(estimate, [])
        limiter.admit_local([key, team], admission, at)
        return admission

    first = admit(start + 0.5)
    second = admit(start + 1.2)  # a new second: the first's joins the past totals
    limiter.finish_local(first, 40 - 100, start + 1.3)  # used 40 of its estimated 100, ended in the next second
    limiter.finish_local(second, 250 - 100, start + 1.4)
    counts = limiter.counts(key)
    assert counts is not None and (counts.requests, counts.tokens, counts.in_flight) == (2, 290, 0)
    assert counts.past_tokens == 40 and counts.newest[2] == 250
    third = admit(start + 2.1, estimate=10)
    with pytest.raises(RateLimitExceeded):  # the team's fourth request in the minute: the key's count goes back
        admit(start + 2.2)
    assert (counts.requests, counts.tokens, counts.in_flight) == (3, 300, 1)
    limiter.finish_local(third, 10 - 10, start + 2.3)
    assert (limiter.counts(team) or counts).requests == 3
    # The first second leaves at start + 60, the second at start + 61, the third at start + 62.
    admission = admit(start + 60.0, estimate=1)
    assert (counts.requests, counts.tokens) == (3, 250 + 10 + 1)
    limiter.finish_local(admission, 0, start + 60.1)
    admit(start + 62.5, estimate=1)
    assert (counts.requests, counts.tokens) == (2, 1 + 1)  # the request at +60 and this one
    assert [entry[0] for entry in counts.seconds] == [int(start) + 60, int(start) + 62]


async def test_rpm_refuses_past_the_limit_and_a_refused_request_takes_nothing() -> None:
    limiter = RateLimiter()
    key = Scope("key", "k1", Limits(rpm=3))
    model = Scope("model", "m", Limits(rpm=2))
    headers: list[tuple[bytes, bytes]] = []
    for _ in range(2):
        await limiter.admit([key, model], 1, headers)
    with pytest.raises(RateLimitExceeded):
        await limiter.admit([key, model], 1)  # the model's second limit refuses: the key's count goes back
    counts = limiter.counts(key)
    assert counts is not None and counts.requests == 2
    assert (b"x-ratelimit-remaining-requests", b"1") in pairs(headers)  # the key's headers, the first scope's


def test_a_budget_period_is_worked_out_again_once_it_is_over() -> None:
    first = datetime(2026, 11, 30, 12, tzinfo=UTC).timestamp()
    november = period_bounds("month", first)
    assert november == (datetime(2026, 11, 1, tzinfo=UTC).timestamp(), datetime(2026, 12, 1, tzinfo=UTC).timestamp())
    assert period_bounds("month", first + 3600) == november
    december = period_bounds("month", datetime(2026, 12, 2, tzinfo=UTC).timestamp())
    assert december[0] == november[1]
    assert period_bounds("month", first) == november  # an earlier moment (a test's clock) is not December's
    assert period_bounds("day", first) == (datetime(2026, 11, 30, tzinfo=UTC).timestamp(), november[1])


def test_a_request_costs_what_its_latest_usage_costs() -> None:
    notes = CallNotes(price=Price(input=1.0, output=2.0))  # dollars per million tokens
    assert notes.cost is None
    notes.usage = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)
    assert notes.cost == pytest.approx(20e-6)
    assert notes.cost == pytest.approx(20e-6)  # the second ask: the same answer
    notes.usage = Usage(prompt_tokens=100, completion_tokens=0, total_tokens=100)  # a stream's final usage
    assert notes.cost == pytest.approx(100e-6)


def test_the_rules_found_for_a_key_follow_the_key_and_the_directory() -> None:
    """`applicable` remembers its plan (the rules, each with what it prepared) per key object and model, and asks
    again for a changed key (a new object) or once the directory's user or team rules changed (it replaces those
    dicts)."""
    from dataclasses import replace

    from babelgate.config.models import Config
    from babelgate.governance.admission import Governance
    from babelgate.governance.budgets import Budgets
    from babelgate.governance.rules import TeamRules
    from babelgate.governance.rules.budget import TeamBudget
    from babelgate.governance.rules.limits import RateLimits
    from babelgate.governance.virtual_keys import VirtualKey
    from babelgate.store.memory import MemoryResponseStore

    governance = Governance(Config(), RateLimiter(), Budgets(MemoryResponseStore()))
    key = VirtualKey(id="k1", salt="s", digest="d", created_at=0.0, team="search")
    assert governance.applicable(key, "m") == ()
    assert governance.applicable(key, "m") == ()  # remembered
    limited = replace(key, rpm=10)
    assert [type(rule) for rule, _ in governance.applicable(limited, "m")] == [RateLimits]
    assert governance.applicable(limited, "m") is governance.applicable(limited, "m")
    ((_, scopes),) = governance.applicable(limited, "m")
    assert scopes == [Scope("key", "k1", Limits(rpm=10))]
    directory = governance.directory
    directory.team_rules = {**directory.team_rules, "search": TeamRules(Limits(), 5.0, "month")}
    assert [type(rule) for rule, _ in governance.applicable(limited, "m")] == [TeamBudget, RateLimits]
    ((rule, account),) = governance.applicable(key, "m")
    assert rule is governance.rules[2]
    assert (account.kind, account.name, account.budget, account.period) == ("team", "search", 5.0, "month")


async def test_a_scope_counts_what_it_does_not_limit_so_a_limit_given_later_judges_the_minute_counted() -> None:
    limiter = RateLimiter()
    for _ in range(3):
        admission = await limiter.admit([Scope("key", "k1", Limits(tpm=1_000_000))], 10)
        await limiter.finish(admission, 10)
    counts = limiter.counts(Scope("key", "k1", Limits()))
    assert counts is not None and (counts.requests, counts.tokens, counts.in_flight) == (3, 30, 0)
    with pytest.raises(RateLimitExceeded):  # the key is given rpm 3 (an admin's change): its minute is spent
        await limiter.admit([Scope("key", "k1", Limits(rpm=3))], 10)


async def test_scopes_idle_past_the_window_are_forgotten_when_the_scopes_have_doubled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An end customer is a scope of its own: a key's customers are not kept for good. A scope with a request in
    flight, or with requests in its window, stays."""
    from babelgate.governance import rate_limits

    now = [1_800_000_000.0]
    monkeypatch.setattr(rate_limits.time, "time", lambda: now[0])
    limiter = RateLimiter()
    limits = Limits(rpm=10)
    held = await limiter.admit([Scope("end_user", "k1/held", limits)], 1)  # in flight throughout
    for number in range(rate_limits._SWEEP_FLOOR):
        admission = await limiter.admit([Scope("end_user", f"k1/customer-{number}", limits)], 1)
        await limiter.finish(admission, 1)
    assert len(limiter._counts) == rate_limits._SWEEP_FLOOR + 1
    now[0] += 30  # within the window: a new scope's sweep keeps them all
    await limiter.admit([Scope("end_user", "k1/recent", limits)], 1)
    assert len(limiter._counts) == rate_limits._SWEEP_FLOOR + 2
    now[0] += 61  # past it: the next sweep (the scopes doubled) forgets the idle ones
    sizes = []
    for number in range(rate_limits._SWEEP_FLOOR + 2):  # up to the doubling, and one past it
        admission = await limiter.admit([Scope("end_user", f"k1/later-{number}", limits)], 1)
        await limiter.finish(admission, 1)
        sizes.append(len(limiter._counts))
    assert max(sizes) <= 2 * (rate_limits._SWEEP_FLOOR + 1)  # never more than twice what the last sweep kept
    # The idle customers went at the sweep; the new ones, `recent` (in flight) and `held` stay.
    assert not any("customer-" in name for name in limiter._counts)
    assert limiter.counts(Scope("end_user", "k1/held", limits)) is not None
    assert limiter.counts(Scope("end_user", "k1/customer-0", limits)) is None
    await limiter.finish(held, 1)


async def test_in_process_rules_admit_and_settle_without_a_coroutine_and_mean_the_same() -> None:
    """With the in-process engines, every rule answers at once (`admit_now`, `settle_now`): a governed request
    makes no coroutine per rule. Only a budget's first request of a period (its sum read from the store) waits.
    The counts, the spend, the refusal and the headers are what the waiting road gives. (The twins are asked
    directly: the compiled build's rule objects cannot be patched.)"""
    from babelgate.config.models import Config
    from babelgate.governance.admission import Governance
    from babelgate.governance.budgets import BudgetExceeded, Budgets
    from babelgate.governance.rules import LATER, Applicant
    from babelgate.governance.rules.budget import KeyBudget
    from babelgate.governance.rules.limits import RateLimits
    from babelgate.governance.virtual_keys import VirtualKey
    from babelgate.store.memory import MemoryResponseStore

    limiter, budgets = RateLimiter(), Budgets(MemoryResponseStore())
    governance = Governance(Config(), limiter, budgets)
    key = VirtualKey(id="k1", salt="s", digest="d", created_at=0.0, rpm=10, budget_usd=1e-4, budget_period="day")
    rules = governance.applicable(key, "m")
    assert [type(rule) for rule, _ in rules] == [KeyBudget, RateLimits]
    (budget, scope), (limits, scopes) = rules
    probe = Applicant(key, "m", 40, [])
    assert budget.admit_now(probe, scope) is LATER  # the period's first request: its sum is read from the store
    assert not budget.budgets.shared and not limiter.shared

    def usage(tokens: int) -> CallNotes:
        notes = CallNotes(price=Price(input=1.0, output=1.0))
        notes.usage = Usage(prompt_tokens=tokens, completion_tokens=0, total_tokens=tokens)
        return notes

    headers: list[tuple[bytes, bytes]] = []
    ticket = await governance.admit(rules, key, "m", 40, headers)
    await governance.settle(ticket, usage(40))  # $40e-6 of the $100e-6
    held = budget.admit_now(probe, scope)
    assert held is scope  # at once from here on
    assert (held.kind, held.name, held.budget, held.period) == ("key", "k1", 1e-4, "day")
    assert budget.settle_now(probe, held, usage(70)) is True  # $110e-6: spent past the budget
    admission = limits.admit_now(probe, scopes)
    assert admission is not LATER and admission.shared is None
    assert limits.settle_now(probe, admission, usage(70)) is True
    assert [tally.spent for tally in budgets.spent.values()] == [pytest.approx(110e-6)]
    counts = limiter.counts(Scope("key", "k1", Limits()))
    assert counts is not None and (counts.requests, counts.tokens, counts.in_flight) == (2, 110, 0)
    assert (b"x-ratelimit-remaining-requests", b"9") in pairs(headers)
    with pytest.raises(BudgetExceeded):
        await governance.admit(rules, key, "m", 40, [])
    with pytest.raises(BudgetExceeded):
        budget.admit_now(probe, scope)  # the twin refuses as the coroutine does
    assert counts.in_flight == 0 and counts.requests == 2  # the refused requests took nothing


async def test_sums_of_periods_over_are_forgotten_once_the_sums_have_doubled(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key's end customers each have a budget's sum per period: the sums of periods over go (once the sums kept
    have doubled since the last pruning), an all-time sum and the current periods' stay."""
    from babelgate.governance import budgets as budgets_module
    from babelgate.governance.budgets import Account, Budgets
    from babelgate.store.memory import MemoryResponseStore

    now = [datetime(2026, 11, 10, 12, tzinfo=UTC).timestamp()]
    monkeypatch.setattr(budgets_module.time, "time", lambda: now[0])
    budgets = Budgets(MemoryResponseStore())
    floor = budgets_module._PRUNE_FLOOR
    await budgets.check(Account("key", "k1", 1.0, None))  # all time: never over
    await budgets.check(Account("team", "search", 1.0, "month"))  # this month: not over tomorrow
    for number in range(floor - 2):
        await budgets.check(Account("end_user", f"k1/customer-{number}", 1.0, "day"))
    assert len(budgets.spent) == floor
    now[0] += 86_400  # the next day: yesterday's sums are over
    today = Account("end_user", "k1/customer-0", 1.0, "day")
    await budgets.check(today)  # a sum more: the pruning
    assert set(budgets.spent) == {("key", "k1", 0.0), ("team", "search", period_bounds("month", now[0])[0]), today.slot}
    assert today.slot[2] == period_bounds("day", now[0])[0]
    for number in range(3):  # below the next pruning's mark, nothing goes
        await budgets.check(Account("end_user", f"k1/later-{number}", 1.0, "day"))
    assert len(budgets.spent) == 6


def test_a_price_counts_no_negative_tokens() -> None:
    # An upstream's odd usage (a negative count) costs nothing for that part, on the plain sum and on the parts'.
    price = Price(input=1.0, output=2.0, cached_input=0.5)
    assert price.cost(Usage(prompt_tokens=-5, completion_tokens=1_000_000)) == 2.0
    assert price.cost(Usage(prompt_tokens=1_000_000, completion_tokens=-5)) == 1.0
    assert price.cost(Usage(prompt_tokens=-5, completion_tokens=-5)) == 0.0
    assert price.cost(Usage(prompt_tokens=10, completion_tokens=-5, cached_tokens=1_000_000)) == 0.5


def test_audio_tokens_are_priced_at_the_audio_rates_and_fall_back_to_the_text_ones() -> None:
    usage = Usage(
        prompt_tokens=120, completion_tokens=180, cached_tokens=10, audio_prompt_tokens=100, audio_completion_tokens=150
    )
    priced = Price(4.0, 16.0, 0.4, audio_input=32.0, audio_output=64.0)
    assert priced.cost(usage) == pytest.approx((10 * 4 + 10 * 0.4 + 100 * 32 + 30 * 16 + 150 * 64) / 1e6)
    assert Price(4.0, 16.0).cost(usage) == pytest.approx((110 * 4 + 10 * 4 + 180 * 16) / 1e6)  # no audio rate: text's
    assert Price(4.0, 16.0).cost(Usage(prompt_tokens=120, completion_tokens=180)) == pytest.approx(
        (120 * 4 + 180 * 16) / 1e6
    )
