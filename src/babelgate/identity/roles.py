"""Roles on the admin API and the dashboard, and who holds one (`Principal`).

- **admin**: everything (the master key is an admin: the break-glass login).
- **team_admin**: the keys, usage and limits of their own teams.
- **member**: their own keys and usage, and the playground.
- **viewer**: read-only usage.

A role comes from the identity provider: a `role` claim naming one, or the person's groups through the
mapping in `auth.oidc.roles` (the most powerful role any of their groups gives)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from babelgate.config.identity import ROLES, RoleMapping

Role = Literal["admin", "team_admin", "member", "viewer"]
RANK: Final[dict[str, int]] = {name: len(ROLES) - index for index, name in enumerate(ROLES)}  # admin highest


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is on the admin API: a user id, a role, the teams they belong to."""

    user: str
    role: Role
    teams: tuple[str, ...] = ()

    def at_least(self, role: Role) -> bool:
        return RANK[self.role] >= RANK[role]

    def public(self) -> dict[str, object]:
        return {"user": self.user, "role": self.role, "teams": list(self.teams)}


MASTER: Final = Principal("master", "admin")  # the master key, or a session made from it


def as_role(value: object) -> Role | None:
    """A claim's value as a role, if it names one (`team-admin` and `Team Admin` too)."""
    if not isinstance(value, str):
        return None
    name = value.strip().lower().replace("-", "_").replace(" ", "_")
    return name if name in RANK else None  # type: ignore[return-value]


def role_from_groups(groups: Iterable[str], mapping: RoleMapping) -> Role | None:
    """The most powerful role any of the groups is mapped to; None when none is."""
    held = set(groups)
    for name in ROLES:
        if held.intersection(getattr(mapping, name)):
            return as_role(name)
    return None


def listed(value: object) -> tuple[str, ...]:
    """A claim holding names: a list of strings, or one string of names separated by spaces or commas."""
    if isinstance(value, str):
        return tuple(part for part in value.replace(",", " ").split() if part)
    if isinstance(value, list | tuple):
        return tuple(item for item in value if isinstance(item, str) and item)
    return ()
