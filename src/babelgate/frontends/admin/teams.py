"""`/admin/teams` and `/admin/teams/{id}`: teams (members, team admins, allowed models, guardrails, limits, budget),
created, listed, changed and deleted (governance/directory.py). Teams of the config file's `teams:` are
listed with `source: "config"` and refused (409) to PATCH and DELETE: the file is theirs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from babelgate.answer import Answer
from babelgate.exchange import Exchange
from babelgate.frontends.admin.guardrail_names import known_guardrails
from babelgate.frontends.admin.people import Collection, listing, one
from babelgate.frontends.admin.users import LIMITS, NAMES
from babelgate.frontends.body_schema import OBJECT, STRING, nullable
from babelgate.frontends.route import JSON, Operation

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


TEAMS: Final = Collection(
    name="teams",
    noun="team",
    items=lambda directory: directory.teams,
    view=lambda directory, team: directory.team_view(team),
    order=lambda team: (team.source != "config", team.created_at, team.id),
    create=lambda directory, fields: directory.create_team(fields),
    update=lambda directory, team_id, fields: directory.update_team(team_id, fields),
    delete=lambda directory, team_id: directory.delete_team(team_id),
    # A team admin manages their own team's members, models, limits and budget, not who its admins are, nor
    # the guardrails an admin put on it.
    may_change=lambda principal, team_id, fields: (
        principal.role == "team_admin"
        and team_id in principal.teams
        and "admins" not in fields
        and "guardrails" not in fields
    ),
    check=known_guardrails,
)


async def teams(runtime: Runtime, exchange: Exchange) -> Answer:
    """`/admin/teams`: create (POST) or list (GET)."""
    return await listing(TEAMS, runtime, exchange)


async def team(runtime: Runtime, exchange: Exchange, team_id: str) -> Answer:
    """`/admin/teams/{id}`: read (GET), change (PATCH) or delete (DELETE)."""
    return await one(TEAMS, runtime, exchange, team_id)


TEAM_FIELDS: Final[JSON] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        name: nullable(schema)
        for name, schema in {
            "id": STRING,
            "members": NAMES,
            "admins": NAMES,
            "models": NAMES,
            "guardrails": NAMES,
            "metadata": OBJECT,
            **LIMITS,
        }.items()
    },
}
PREFIX: Final = "/admin/teams/"
TEAM_OPERATIONS: Final[dict[str, tuple[Operation, ...]]] = {
    "": (Operation("GET"), Operation("PATCH", body=TEAM_FIELDS), Operation("DELETE"))
}
