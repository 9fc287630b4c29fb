"""Budgets as rules: a virtual key's and a team's spend in a period (governance/budgets.py keeps the
running sums), checked before the call and added to from the request's cost after it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from babelgate.governance.budgets import Budgets
from babelgate.governance.rules import Applicant, TeamRules

if TYPE_CHECKING:
    from babelgate.governance.virtual_keys import VirtualKey
    from babelgate.providers.base import CallNotes


class KeyBudget:
    """A virtual key's `budget_usd` per `budget_period`."""

    def __init__(self, budgets: Budgets) -> None:
        self.budgets = budgets

    def applies(self, key: VirtualKey | None, team: TeamRules | None, model: str) -> bool:
        return key is not None and key.budget_usd is not None

    async def admit(self, applicant: Applicant) -> Any:
        key = applicant.key
        assert key is not None and key.budget_usd is not None
        await self.budgets.check("key", key.id, key.budget_usd, key.budget_period)

    async def settle(self, applicant: Applicant, held: Any, notes: CallNotes | None) -> None:
        cost = notes.cost if notes is not None else None
        key = applicant.key
        if cost and key is not None:
            await self.budgets.add("key", key.id, key.budget_period, cost)


class TeamBudget:
    """A team's `budget_usd` per `budget_period` (teams: in the config), spent by all its keys."""

    def __init__(self, budgets: Budgets) -> None:
        self.budgets = budgets

    def applies(self, key: VirtualKey | None, team: TeamRules | None, model: str) -> bool:
        return team is not None and team.budget_usd is not None

    async def admit(self, applicant: Applicant) -> Any:
        key, team = applicant.key, applicant.team
        assert key is not None and key.team is not None and team is not None and team.budget_usd is not None
        await self.budgets.check("team", key.team, team.budget_usd, team.budget_period)

    async def settle(self, applicant: Applicant, held: Any, notes: CallNotes | None) -> None:
        cost = notes.cost if notes is not None else None
        key, team = applicant.key, applicant.team
        if cost and key is not None and key.team is not None and team is not None:
            await self.budgets.add("team", key.team, team.budget_period, cost)
