"""Rate limits as one rule: requests and tokens per minute and requests in flight, for the key, its user,
its team, the end customer the request names (per key: `end_user_limits`) and the model, taken together
from the limiter (governance/rate_limits.py: in this process, or exact across instances through Redis)
so that a refusal by one scope takes nothing from the others."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from babelgate.governance.rate_limits import Admission, Limits, RateLimiter, Scope, estimate_tokens
from babelgate.governance.rules import LATER, Applicant, TeamRules

if TYPE_CHECKING:
    from babelgate.governance.directory import Directory
    from babelgate.governance.virtual_keys import VirtualKey
    from babelgate.providers.base import CallNotes

_MAX_ALIAS_DEPTH = 8


class RateLimits:
    def __init__(
        self,
        limiter: RateLimiter,
        model_limits: dict[str, Limits],
        aliases: Mapping[str, str],
        directory: Directory | None = None,
    ) -> None:
        self.limiter = limiter
        self.directory = directory
        self._model_limits = model_limits
        self._aliases = aliases
        self._models: dict[str, tuple[str, Limits] | None] = {}

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

    def applies(self, key: VirtualKey | None, team: TeamRules | None, model: str) -> bool:
        if key is not None and (key.rpm or key.tpm or key.max_concurrent or (team is not None and team.limits)):
            return True
        if key is not None and (self._user_limits(key) is not None or _end_user_limits(key) is not None):
            return True
        return self.model_limits(model) is not None

    def prepare(self, key: VirtualKey | None, team: TeamRules | None, model: str) -> list[Scope]:
        """The scopes that limit this caller's requests to `model` (an end customer's is added per request)."""
        scopes = []
        if key is not None:
            own = Limits(key.rpm, key.tpm, key.max_concurrent)
            if own:
                scopes.append(Scope("key", key.id, own))
            user = self._user_limits(key)
            if user is not None:
                assert key.user is not None
                scopes.append(Scope("user", key.user, user))
            if team is not None and team.limits:
                assert key.team is not None
                scopes.append(Scope("team", key.team, team.limits))
        model_limits = self.model_limits(model)
        if model_limits is not None:
            scopes.append(Scope("model", *model_limits))
        return scopes

    def admit_now(self, applicant: Applicant, prepared: Any) -> Any:
        limiter = self.limiter
        link = limiter.link
        if link is not None and link.up:  # `limiter.shared`, without a call: every governed request asks
            return LATER
        admission = Admission(estimate_tokens(applicant.body_size), applicant.headers)
        # The caller's scopes as prepared, unless the request names an end customer (`_scopes`).
        scopes = prepared if applicant.end_user is None else _scopes(applicant, prepared)
        limiter.admit_local(scopes, admission, applicant.now)
        return admission

    async def admit(self, applicant: Applicant, prepared: Any) -> Admission:
        scopes = _scopes(applicant, prepared)
        return await self.limiter.admit(scopes, estimate_tokens(applicant.body_size), applicant.headers)

    def settle_now(self, applicant: Applicant, held: Any, notes: CallNotes | None) -> bool:
        if held.shared is not None:
            return False
        # `_used`, written out: every governed request settles here.
        usage = notes.usage if notes is not None else None
        used = usage.prompt_tokens + usage.completion_tokens if usage is not None else 0
        self.limiter.finish_local(held, used - held.estimate, applicant.now)
        return True

    async def settle(self, applicant: Applicant, held: Any, notes: CallNotes | None) -> None:
        await self.limiter.finish(held, _used(notes))

    def _user_limits(self, key: VirtualKey) -> Limits | None:
        if key.user is None or self.directory is None:
            return None
        rules = self.directory.user_rules.get(key.user)
        return rules.limits if rules is not None and rules.limits else None


def _used(notes: CallNotes | None) -> int:
    """The tokens a request used. No usage (an error before the upstream answered): none, the estimate goes."""
    usage = notes.usage if notes is not None else None
    return usage.prompt_tokens + usage.completion_tokens if usage is not None else 0


def _scopes(applicant: Applicant, prepared: list[Scope]) -> list[Scope]:
    """A request's scopes: the caller's, as prepared, and its end customer's where its key gives each one limits
    (one scope per end customer, made per request: there may be millions; the limiter forgets idle ones)."""
    key, end_user = applicant.key, applicant.end_user
    if key is None or not end_user:
        return prepared
    own = _end_user_limits(key)
    return prepared if own is None else [*prepared, Scope("end_user", f"{key.id}/{end_user}", own)]


def _end_user_limits(key: VirtualKey) -> Limits | None:
    """The limits a key gives each of its end customers, when it gives any."""
    own = key.end_user_limits
    if not own:
        return None
    limits = Limits(own.get("rpm"), own.get("tpm"), own.get("max_concurrent"))
    return limits if limits else None
