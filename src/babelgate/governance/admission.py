"""Before and after each model request: the limits and budgets that apply to it (a virtual key's
own, its team's, the model's), checked in that order before any upstream call, and settled once
the request ended (slots given back, token estimates corrected to real usage, cost added to the
budgets). Requests none of them apply to (a static key, a model without limits) pass without a
look (`applies`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from babelgate.governance.rate_limits import Admission, Limits, RateLimiter, Scope, estimate_tokens

if TYPE_CHECKING:
    from babelgate.config.models import Config
    from babelgate.governance.budgets import Budgets
    from babelgate.governance.virtual_keys import VirtualKey
    from babelgate.providers.base import CallNotes

_MAX_ALIAS_DEPTH = 8


@dataclass(frozen=True, slots=True)
class TeamRules:
    limits: Limits
    budget_usd: float | None
    budget_period: str | None


@dataclass(slots=True)
class Ticket:
    """What one admitted request holds until it ends."""

    admission: Admission
    key: VirtualKey | None
    team: TeamRules | None


class Governance:
    def __init__(self, config: Config, limiter: RateLimiter, budgets: Budgets) -> None:
        self.limiter = limiter
        self.budgets = budgets
        self.teams = {
            name: TeamRules(Limits(team.rpm, team.tpm, team.max_concurrent), team.budget_usd, team.budget_period)
            for name, team in config.teams.items()
        }
        self._model_limits = {
            name: Limits(model.limits.rpm, model.limits.tpm, model.limits.max_concurrent)
            for name, model in config.models.items()
            if model.limits is not None
        }
        self._aliases: Mapping[str, str] = config.aliases
        self._models: dict[str, tuple[str, Limits] | None] = {}
        self._scope_memo: dict[tuple[object, str], list[Scope]] = {}

    def model_limits(self, model: str) -> tuple[str, Limits] | None:
        """The limits of the configured model `model` names (through aliases), if it has any."""
        if not self._model_limits:
            return None
        if model in self._models:
            return self._models[model]
        name, found = model, None
        for _ in range(_MAX_ALIAS_DEPTH):
            limits = self._model_limits.get(name)
            if limits is not None:
                found = (name, limits)
                break
            if name not in self._aliases:
                break
            name = self._aliases[name]
        if len(self._models) < 10_000:
            self._models[model] = found
        return found

    def applies(self, key: VirtualKey | None, model: str) -> bool:
        if key is not None and (
            key.rpm
            or key.tpm
            or key.max_concurrent
            or key.budget_usd is not None
            or (key.team is not None and key.team in self.teams)
        ):
            return True
        return self.model_limits(model) is not None

    async def admit(
        self, key: VirtualKey | None, model: str, body_size: int, headers: list[tuple[bytes, bytes]]
    ) -> Ticket:
        """Raises RateLimitExceeded (or BudgetExceeded) when a limit or budget refuses the request."""
        team = self.teams.get(key.team) if key is not None and key.team is not None else None
        if key is not None and key.budget_usd is not None:
            await self.budgets.check("key", key.id, key.budget_usd, key.budget_period)
        if team is not None and team.budget_usd is not None:
            assert key is not None and key.team is not None
            await self.budgets.check("team", key.team, team.budget_usd, team.budget_period)
        admission = await self.limiter.admit(self._scopes(key, team, model), estimate_tokens(body_size), headers)
        return Ticket(admission, key, team)

    def _scopes(self, key: VirtualKey | None, team: TeamRules | None, model: str) -> list[Scope]:
        """The scopes that limit this request, built once per key's limits, team and model."""
        memo = (key.id, key.rpm, key.tpm, key.max_concurrent, key.team) if key is not None else None, model
        scopes = self._scope_memo.get(memo)
        if scopes is not None:
            return scopes
        scopes = []
        if key is not None:
            own = Limits(key.rpm, key.tpm, key.max_concurrent)
            if own:
                scopes.append(Scope("key", key.id, own))
            if team is not None and team.limits:
                assert key.team is not None
                scopes.append(Scope("team", key.team, team.limits))
        model_limits = self.model_limits(model)
        if model_limits is not None:
            scopes.append(Scope("model", *model_limits))
        if len(self._scope_memo) < 100_000:
            self._scope_memo[memo] = scopes
        return scopes

    async def settle(self, ticket: Ticket, notes: CallNotes | None) -> None:
        usage = notes.usage if notes is not None else None
        used = usage.prompt_tokens + usage.completion_tokens if usage is not None else None
        # No usage (an error before the upstream answered): nothing was used, the estimate goes.
        await self.limiter.finish(ticket.admission, used if used is not None else 0)
        cost = notes.cost if notes is not None else None
        key = ticket.key
        if not cost or key is None:
            return
        if key.budget_usd is not None:
            await self.budgets.add("key", key.id, key.budget_period, cost)
        if ticket.team is not None and ticket.team.budget_usd is not None and key.team is not None:
            await self.budgets.add("team", key.team, ticket.team.budget_period, cost)
