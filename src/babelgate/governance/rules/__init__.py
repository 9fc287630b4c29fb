"""Governance as a list of rules. Each limit or budget is one rule with its own `admit` (before any
upstream call: refuse by raising, or hold something) and `settle` (once the request ended, from its real
usage and cost). A new limit or budget is one class here and one line in `admission.rules_for`.

Each also answers without waiting where it can (`admit_now`, `settle_now`): the in-process engines never wait,
and a coroutine per rule, budget and limiter, made and awaited twice per governed request, was ~12 of them.
Only what needs I/O (Redis, the first read of a budget's sum from the store) goes through the coroutines.

Rules look at an `Applicant`: the caller's virtual key (None for a static key), the public model name, the
request's size, the answer's headers (where OpenAI's `x-ratelimit-*` headers go) and one reading of the clock.
What a rule can work out from the caller and the model alone (its budget's scope, its limits' scopes, whatever
its team's rules say) it works out once, in `prepare`: the governance keeps
that with the rules it found for the caller and model (admission.Governance.applicable), and hands it to
`admit` with every request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from babelgate.governance.rate_limits import Limits

if TYPE_CHECKING:
    from babelgate.governance.virtual_keys import VirtualKey
    from babelgate.providers.base import CallNotes


@dataclass(frozen=True, slots=True)
class TeamRules:
    """The limits and budget of one team or user (the config's `teams:`, or the admin API's)."""

    limits: Limits
    budget_usd: float | None
    budget_period: str | None


class Applicant:
    """One request as the rules see it. `now`: the clock, read once for all the rules when they admit and again
    when they settle (unix seconds). (A plain class: a dataclass's default factory cost a call and a branch on
    every governed request.)"""

    __slots__ = ("body_size", "end_user", "headers", "key", "model", "now")

    def __init__(
        self,
        key: VirtualKey | None,
        model: str,
        body_size: int,
        headers: list[tuple[bytes, bytes]],
        end_user: str | None = None,  # the end customer the request names, if any (pipeline.end_user_of)
        now: float | None = None,  # None: the clock, now
    ) -> None:
        self.key = key
        self.model = model
        self.body_size = body_size
        self.headers = headers
        self.end_user = end_user
        self.now = time.time() if now is None else now


class Later:
    """What `admit_now` answers when the rule must wait for something (`admit` is then awaited)."""

    __slots__ = ()


LATER: Final = Later()


class Rule(Protocol):
    def applies(self, key: VirtualKey | None, team: TeamRules | None, model: str) -> bool:
        """Whether the rule has anything to check for this caller and model (asked on every request:
        cheap, no I/O)."""
        ...

    def prepare(self, key: VirtualKey | None, team: TeamRules | None, model: str) -> Any:
        """What the rule works out once for this caller and model, given to `admit` with each request (kept
        while the key, its user's and its team's rules stay the same). Asked only where the rule applies."""
        ...

    def admit_now(self, applicant: Applicant, prepared: Any) -> Any:
        """`admit`, when it needs no wait; else LATER, having taken nothing."""
        ...

    async def admit(self, applicant: Applicant, prepared: Any) -> Any:
        """Raise (RateLimitExceeded, BudgetExceeded) to refuse; what it returns comes back to `settle`."""
        ...

    def settle_now(self, applicant: Applicant, held: Any, notes: CallNotes | None) -> bool:
        """`settle`, when it needs no wait (True); else False, having done nothing."""
        ...

    async def settle(self, applicant: Applicant, held: Any, notes: CallNotes | None) -> None:
        """The request ended (`notes` None when no upstream call reported anything): give back what
        `admit` held, count what it used."""
        ...
