"""Before and after each model request: the rules that apply to it (governance/rules/: a virtual key's
budget, its user's, its team's and its end customer's budgets, the rate limits of all of them and of the
model), admitted in order before
any upstream call and settled once the request ended (slots given back, token estimates corrected to real
usage, cost added to the budgets). Requests no rule applies to (a static key, a model without limits) pass
without a look (`applies`).

A new limit or budget is one rule class (governance/rules/) and one line in `rules_for`.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from babelgate.errors import PermissionDenied
from babelgate.governance.rate_limits import Limits, RateLimiter
from babelgate.governance.rules import LATER, Applicant, Rule, TeamRules
from babelgate.governance.rules.budget import EndUserBudget, KeyBudget, TeamBudget, UserBudget, _Budget
from babelgate.governance.rules.limits import RateLimits

if TYPE_CHECKING:
    from babelgate.config.models import Config
    from babelgate.governance.alerts import Alerts
    from babelgate.governance.budgets import Budgets
    from babelgate.governance.directory import Directory
    from babelgate.governance.virtual_keys import VirtualKey
    from babelgate.providers.base import CallNotes

log = logging.getLogger("babelgate.governance")


def rules_for(
    config: Config, limiter: RateLimiter, budgets: Budgets, directory: Directory, alerts: Alerts | None = None
) -> tuple[Rule, ...]:
    """The rules, in the order they admit: budgets first (they hold nothing), then the limits."""
    model_limits = {
        name: Limits(model.limits.rpm, model.limits.tpm, model.limits.max_concurrent)
        for name, model in config.models.items()
        if model.limits is not None
    }
    return (
        KeyBudget(budgets, alerts),
        UserBudget(budgets, alerts, directory),
        TeamBudget(budgets, alerts),
        EndUserBudget(budgets, alerts),
        RateLimits(limiter, model_limits, config.aliases, directory),
    )


# The rules that apply to a caller and model, each with what it prepared for them (`Rule.prepare`).
Plan = tuple[tuple[Rule, Any], ...]


# What one admitted request holds until it ends: the request as the rules saw it, and each rule that admitted it
# with what it holds. (A tuple: a class's `__init__` was a call of its own on every governed request.)
Ticket = tuple[Applicant, list[tuple[Rule, Any]]]


class Governance:
    def __init__(
        self,
        config: Config,
        limiter: RateLimiter,
        budgets: Budgets,
        directory: Directory | None = None,
        alerts: Alerts | None = None,
    ) -> None:
        if directory is None:  # a governance of the config alone (tests): its teams, no users
            from babelgate.governance.directory import Directory
            from babelgate.store.memory import MemoryResponseStore

            directory = Directory(MemoryResponseStore())
            directory.configure(config)
        self.directory = directory
        self.rules = rules_for(config, limiter, budgets, directory, alerts)
        # Without a key only the model's limits can apply (budgets and the other limits are a key's or a team's).
        self._limits = next(rule for rule in self.rules if isinstance(rule, RateLimits))
        self._model_only: dict[str, Plan] = {}
        # The plan found for a key (by identity: a changed key is a new object) and model, with the user and team
        # rules it was found under (the directory replaces both dicts when anything in them changes).
        self._found: dict[tuple[int, str], tuple[VirtualKey, object, object, Plan]] = {}

    @property
    def teams(self) -> dict[str, TeamRules]:
        """The teams that limit something: the config's `teams:` and the admin API's (directory.py)."""
        return self.directory.team_rules

    def _team(self, key: VirtualKey | None) -> TeamRules | None:
        return self.directory.team_rules.get(key.team) if key is not None and key.team is not None else None

    def applicable(self, key: VirtualKey | None, model: str) -> Plan:
        """The rules that apply to this caller and model, each with what it prepared for them, asked on every
        request before anything serves it, the response cache included (none: the request passes without a look).
        A static key with no model limits (the fast path) is one call.

        Raises PermissionDenied when the key may not use the model (`_check_access`). That is checked when the
        plan is found, not on every request: a found plan is kept only while the key is the same object and the
        directory's dicts are the same (it replaces all of them, `disabled` and `teams` too, when a user or
        team changes), so it stays checked."""
        if key is None:
            if self._limits.model_limits(model) is None:
                return ()
            plan = self._model_only.get(model)
            if plan is None:
                plan = ((self._limits, self._limits.prepare(None, None, model)),)
                if len(self._model_only) < 10_000:
                    self._model_only[model] = plan
            return plan
        directory = self.directory
        found = self._found.get((id(key), model))
        if (
            found is not None
            and found[0] is key
            and found[1] is directory.user_rules
            and found[2] is directory.team_rules
        ):
            return found[3]
        self._check_access(key, model)
        team = self._team(key)
        plan = tuple([(rule, rule.prepare(key, team, model)) for rule in self.rules if rule.applies(key, team, model)])
        if len(self._found) >= 10_000:
            self._found.clear()
        self._found[id(key), model] = (key, directory.user_rules, directory.team_rules, plan)
        return plan

    def _check_access(self, key: VirtualKey, model: str) -> None:
        """The key's own model list, its user (not disabled) and its team's model list (the admin API's)."""
        if not key.allows(model):
            raise PermissionDenied(
                "model_not_allowed", code="model_not_allowed", param="model", model=model, allowed=", ".join(key.models)
            )
        directory = self.directory
        if key.user is not None and key.user in directory.disabled:
            raise PermissionDenied("user_disabled", code="user_disabled")
        team = directory.teams.get(key.team) if key.team is not None else None
        if team is not None and not team.allows(model):
            raise PermissionDenied(
                "team_model_not_allowed",
                code="model_not_allowed",
                param="model",
                team=team.id,
                model=model,
                allowed=", ".join(team.models),
            )

    async def admit(
        self,
        plan: Plan,
        key: VirtualKey | None,
        model: str,
        body_size: int,
        headers: list[tuple[bytes, bytes]],
        end_user: str | None = None,
    ) -> Ticket:
        """Admits the request by each rule of `plan` (`applicable`'s) in order. Raises RateLimitExceeded (or
        BudgetExceeded) when a rule refuses it; what the rules before it held is given back."""
        applicant = Applicant(key, model, body_size, headers, end_user, time.time())
        held: list[tuple[Rule, Any]] = []
        ticket = (applicant, held)
        try:
            for rule, prepared in plan:
                taken = rule.admit_now(applicant, prepared)  # the in-process engines: no coroutine per rule
                if taken is LATER:
                    taken = await rule.admit(applicant, prepared)
                held.append((rule, taken))
        except BaseException:
            await self.settle(ticket, None)
            raise
        return ticket

    async def check_budgets(self, key: VirtualKey | None, model: str, end_user: str | None, pending: float) -> None:
        """Raises BudgetExceeded when a budget of the caller would be spent with `pending` added: what a call that
        runs for long (a Realtime session) has cost so far, before it is settled."""
        applicant = Applicant(key, model, 0, [], end_user, time.time())
        for rule, prepared in self.applicable(key, model):
            if isinstance(rule, _Budget):
                account = rule.account(applicant, prepared)
                if account is not None:
                    await rule.budgets.check(account, pending)

    def budgets_alone(self, plan: Plan) -> bool:
        """Whether every rule of `plan` is a budget (no rate limit): what a provider's batch API still honours, its
        lines' budgets checked before the batch is sent and charged as their answers come back."""
        return all(isinstance(rule, _Budget) for rule, _ in plan)

    async def charge_budgets(self, key: VirtualKey | None, model: str, end_user: str | None, cost: float) -> None:
        """Adds `cost` to each budget of the caller: a line a provider's batch API answered, for which no admission
        ticket was held (a budget spent meanwhile still counts what was already done)."""
        applicant = Applicant(key, model, 0, [], end_user, time.time())
        for rule, prepared in self.applicable(key, model):
            if isinstance(rule, _Budget):
                account = rule.account(applicant, prepared)
                if account is not None:
                    await rule.budgets.add(account, cost)

    async def settle(self, ticket: Ticket, notes: CallNotes | None) -> None:
        """Every rule that admitted the request settles, whatever another one does."""
        applicant, admitted = ticket
        applicant.now = time.time()
        for rule, held in admitted[::-1]:  # a copy, not reversed(): mypyc (bench/compiled.py) cannot compile that
            try:
                if not rule.settle_now(applicant, held, notes):
                    await rule.settle(applicant, held, notes)
            except Exception:  # never the client's problem
                log.exception("could not settle %s for a request", type(rule).__name__)
