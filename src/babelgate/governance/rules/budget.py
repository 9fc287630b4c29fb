"""Budgets as rules: the spend in a period of a virtual key, its user, its team, and the end customer the
request names (governance/budgets.py keeps the running sums), checked before the call and added to from
the request's cost after it; each addition may cross an alert threshold (governance/alerts.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from babelgate.governance.budgets import Account, Budgets
from babelgate.governance.rules import LATER, Applicant, TeamRules

if TYPE_CHECKING:
    from babelgate.governance.alerts import Alerts
    from babelgate.governance.directory import Directory
    from babelgate.governance.virtual_keys import VirtualKey
    from babelgate.providers.base import CallNotes


class _Budget:
    kind = ""
    # Whether `account` works out each request's budget (an end customer's); else it is the prepared one, taken
    # without a call (every governed request admits and settles each budget rule).
    per_request = False

    def __init__(self, budgets: Budgets, alerts: Alerts | None = None) -> None:
        self.budgets = budgets
        self.alerts = alerts

    def prepare(self, key: VirtualKey | None, team: TeamRules | None, model: str) -> Account | None:
        """The caller's budget (None: none now, or one each request works out: `account`)."""
        return None

    def account(self, applicant: Applicant, prepared: Account | None) -> Account | None:
        """The budget one request spends from: the caller's, as prepared."""
        return prepared

    def admit_now(self, applicant: Applicant, prepared: Any) -> Any:
        account = self.account(applicant, prepared) if self.per_request else prepared
        if account is None:
            return None
        # Within the period, its sum kept here and not spent: admitted without asking `Budgets.check_now` (every
        # governed request admits each budget rule); it answers everything else (a refusal, a new period, Redis).
        tally = account.tally
        now = applicant.now
        if tally is not None and account.start <= now < account.end and tally.spent < account.budget:
            return account
        return account if self.budgets.check_now(account, now) else LATER

    async def admit(self, applicant: Applicant, prepared: Any) -> Any:
        account = self.account(applicant, prepared)
        if account is not None:
            await self.budgets.check(account)
        return account

    def settle_now(self, applicant: Applicant, held: Any, notes: CallNotes | None) -> bool:
        cost = notes.cost if notes is not None else None
        if not cost or held is None:
            return True
        budgets = self.budgets
        if budgets.link is not None:  # shared sums: `settle` adds through Redis
            return False
        now = applicant.now
        tally = held.tally
        if tally is not None and held.start <= now < held.end:  # `Budgets.add_now` within the period, written out
            total = tally.spent = tally.spent + cost
            if self.alerts is not None and self.alerts.settings is not None:
                self._added(held, cost, (held.start, total))
            return True
        added = budgets.add_now(held, cost, now)
        if added is not None and self.alerts is not None and self.alerts.settings is not None:
            self._added(held, cost, added)
        return True

    async def settle(self, applicant: Applicant, held: Any, notes: CallNotes | None) -> None:
        cost = notes.cost if notes is not None else None
        if not cost or held is None:
            return
        self._added(held, cost, await self.budgets.add(held, cost))

    def _added(self, account: Account, cost: float, added: tuple[float, float] | None) -> None:
        """The alerts hear of the new total (one may have crossed a threshold)."""
        if added is not None and self.alerts is not None and self.alerts.enabled:
            start, total = added
            self.alerts.budget_spent(
                self.kind, account.name, account.budget, total - cost, total, account.period, start
            )


class KeyBudget(_Budget):
    """A virtual key's `budget_usd` per `budget_period`."""

    kind = "key"

    def applies(self, key: VirtualKey | None, team: TeamRules | None, model: str) -> bool:
        return key is not None and key.budget_usd is not None

    def prepare(self, key: VirtualKey | None, team: TeamRules | None, model: str) -> Account | None:
        assert key is not None and key.budget_usd is not None
        return Account(self.kind, key.id, key.budget_usd, key.budget_period)


class TeamBudget(_Budget):
    """A team's `budget_usd` per `budget_period` (the config's `teams:` or the admin API's), spent by all
    its keys."""

    kind = "team"

    def applies(self, key: VirtualKey | None, team: TeamRules | None, model: str) -> bool:
        return team is not None and team.budget_usd is not None

    def prepare(self, key: VirtualKey | None, team: TeamRules | None, model: str) -> Account | None:
        assert key is not None and key.team is not None and team is not None and team.budget_usd is not None
        return Account(self.kind, key.team, team.budget_usd, team.budget_period)


class UserBudget(_Budget):
    """A user's `budget_usd` per `budget_period` (the admin API's), spent by all the keys they own."""

    kind = "user"

    def __init__(self, budgets: Budgets, alerts: Alerts | None, directory: Directory) -> None:
        super().__init__(budgets, alerts)
        self.directory = directory

    def applies(self, key: VirtualKey | None, team: TeamRules | None, model: str) -> bool:
        if key is None or key.user is None:
            return False
        rules = self.directory.user_rules.get(key.user)
        return rules is not None and rules.budget_usd is not None

    def prepare(self, key: VirtualKey | None, team: TeamRules | None, model: str) -> Account | None:
        assert key is not None and key.user is not None
        rules = self.directory.user_rules.get(key.user)
        if rules is None or rules.budget_usd is None:
            return None  # changed since `applies`
        return Account(self.kind, key.user, rules.budget_usd, rules.budget_period)


class EndUserBudget(_Budget):
    """The budget a key gives each end customer its application names (`end_user_limits.budget_usd`):
    per key and end customer, so two applications' customers of the same name never share one."""

    kind = "end_user"
    per_request = True

    def applies(self, key: VirtualKey | None, team: TeamRules | None, model: str) -> bool:
        limits = key.end_user_limits if key is not None else None
        return limits is not None and limits.get("budget_usd") is not None

    def account(self, applicant: Applicant, prepared: Account | None) -> Account | None:
        key, end_user = applicant.key, applicant.end_user
        if key is None or not end_user or not key.end_user_limits:
            return None  # a request that names no end customer has no end-customer budget
        return Account(
            self.kind,
            f"{key.id}/{end_user}",
            float(key.end_user_limits["budget_usd"]),
            key.end_user_limits.get("budget_period"),
        )
