"""Users and teams as things an operator manages: kept in the store as documents, like
virtual keys, and held in memory by every instance (`Directory`), which polls the store's version of
them twice a second: a change made on one instance is in force on every instance within a second.

A user is a person (created by an admin, or by sign-in and JWT callers through `ensure_user`), with
optional limits and a budget of their own that every key of theirs shares. A team has members, team
admins, the models its keys may use, limits and a budget. Teams in the config file's `teams:` keep
working: they are shown with `source: "config"` and are read-only through the API (edit the file).

Nothing is ever removed from the store: a deleted user or team is a tombstone (`deleted_at`), so that
an instance that polls later learns of the deletion instead of keeping its last copy.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import asdict, dataclass, field, replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.errors import GatewayError, InvalidRequest, NotFound
from babelgate.governance.rate_limits import Limits
from babelgate.governance.rules import TeamRules
from babelgate.governance.virtual_keys import LIMIT_FIELDS, check_limit
from babelgate.store.polled import POLL_SECONDS, Polled

if TYPE_CHECKING:
    from babelgate.config.models import Config
    from babelgate.store import ResponseStore

log = logging.getLogger("babelgate.directory")
USER_KIND: Final = "user"
TEAM_KIND: Final = "team"
ROLES: Final = ("admin", "team_admin", "member", "viewer")
SOURCES: Final = ("admin", "oidc", "jwt")
# Ids go in URLs (/admin/users/{id}) and in ledger rows: no slash, no control characters.
_ID: Final = re.compile(r"^[^/\s\x00-\x1f]{1,200}$")
USER_FIELDS: Final = ("id", "email", "name", "role", "teams", "disabled", "metadata", *LIMIT_FIELDS)
TEAM_FIELDS: Final = ("id", "members", "admins", "models", "guardrails", "metadata", *LIMIT_FIELDS)
# A team's fields that hold a list of names (stored as tuples, shown as lists).
_TEAM_LISTS: Final = ("members", "admins", "models", "guardrails")


@dataclass(frozen=True, slots=True)
class User:
    id: str
    created_at: float
    updated_at: float
    email: str | None = None
    name: str | None = None
    role: str | None = None  # None: what sign-in's group mapping says, else "member"
    teams: tuple[str, ...] = ()  # from the identity provider's claims or set by an admin
    disabled: bool = False  # a disabled user's keys are refused
    source: str = "admin"  # who made the user: admin, oidc (sign-in) or jwt (a JWT caller)
    metadata: dict[str, Any] = field(default_factory=dict)
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    budget_usd: float | None = None
    budget_period: str | None = None
    last_seen: float | None = None
    deleted_at: float | None = None

    def public(self) -> dict[str, Any]:
        fields = asdict(self)
        del fields["deleted_at"]
        fields["teams"] = list(self.teams)
        return fields

    def rules(self) -> TeamRules:
        return TeamRules(Limits(self.rpm, self.tpm, self.max_concurrent), self.budget_usd, self.budget_period)


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    created_at: float
    updated_at: float
    members: tuple[str, ...] = ()  # user ids
    admins: tuple[str, ...] = ()  # user ids of its team admins (members too)
    models: tuple[str, ...] = ()  # patterns of public model names its keys may use; empty: every model
    # Guardrails its keys' requests pass besides the server's and their model's (names of the configured ones).
    guardrails: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    budget_usd: float | None = None
    budget_period: str | None = None
    source: str = "store"  # "config": defined by the config file's `teams:`, read-only here
    deleted_at: float | None = None

    def public(self) -> dict[str, Any]:
        fields = asdict(self)
        del fields["deleted_at"]
        for name in _TEAM_LISTS:
            fields[name] = list(getattr(self, name))
        return fields

    def rules(self) -> TeamRules:
        return TeamRules(Limits(self.rpm, self.tpm, self.max_concurrent), self.budget_usd, self.budget_period)

    def allows(self, model: str) -> bool:
        return not self.models or any(fnmatchcase(model, pattern) for pattern in self.models)


def _encode(item: User | Team) -> bytes:
    return orjson.dumps(asdict(item))


def _decode_user(body: bytes) -> User:
    fields = orjson.loads(body)
    fields["teams"] = tuple(fields.get("teams") or ())
    return User(**{k: v for k, v in fields.items() if k in User.__dataclass_fields__})


def _decode_team(body: bytes) -> Team:
    fields = orjson.loads(body)
    for name in _TEAM_LISTS:
        fields[name] = tuple(fields.get(name) or ())
    return Team(**{k: v for k, v in fields.items() if k in Team.__dataclass_fields__})


class Conflict(GatewayError):
    """409: the user or team exists already, or is the config file's to change."""

    status = 409
    type = "invalid_request_error"
    default_code = "conflict"
    default_key = "conflict"


def checked(fields: dict[str, Any], allowed: tuple[str, ...], *, creating: bool) -> dict[str, Any]:
    """A create or update body's fields, type-checked (a 400 names the field)."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in allowed or (name == "id" and not creating):
            raise InvalidRequest("invalid_value", param=name, detail=f"not a field here (fields: {', '.join(allowed)})")
        if value is None:
            out[name] = {"teams": (), **dict.fromkeys(_TEAM_LISTS, ()), "metadata": {}}.get(name)
            if name == "disabled":
                out[name] = False
            if name == "id":
                raise InvalidRequest("wrong_type", param=name, expected="a string")
            continue
        if name == "id" and (not isinstance(value, str) or not _ID.match(value)):
            raise InvalidRequest("wrong_type", param=name, expected="a string without '/' or spaces")
        if name in ("email", "name") and not isinstance(value, str):
            raise InvalidRequest("wrong_type", param=name, expected="a string")
        if name == "role" and value not in ROLES:
            raise InvalidRequest("invalid_value", param=name, detail=f"expected one of {', '.join(ROLES)} or null")
        if name == "teams" or name in _TEAM_LISTS:
            if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
                raise InvalidRequest("wrong_type", param=name, expected="an array of strings")
            value = tuple(dict.fromkeys(value))
        if name == "disabled" and not isinstance(value, bool):
            raise InvalidRequest("wrong_type", param=name, expected="a boolean")
        if name == "metadata" and not isinstance(value, dict):
            raise InvalidRequest("wrong_type", param=name, expected="an object")
        if name in LIMIT_FIELDS:
            check_limit(name, value, param=name)
        out[name] = value
    if creating and "id" not in out:
        raise InvalidRequest("missing_field", param="id")
    return out


def config_teams(config: Config) -> dict[str, Team]:
    """The config file's `teams:` as read-only teams."""
    return {
        name: Team(
            id=name,
            created_at=0.0,
            updated_at=0.0,
            rpm=team.rpm,
            tpm=team.tpm,
            max_concurrent=team.max_concurrent,
            budget_usd=team.budget_usd,
            budget_period=team.budget_period,
            guardrails=team.guardrails,
            source="config",
        )
        for name, team in config.teams.items()
    }


class Directory(Polled):
    """Every user and team, in memory; the store is read only when a version moved. The request path
    reads `user_rules`, `team_rules` and `teams` (dictionary lookups), never the store."""

    what = "users and teams"

    def __init__(self, store: ResponseStore, *, poll: float = POLL_SECONDS) -> None:
        super().__init__(poll=poll)
        self.store = store
        self.users: dict[str, User] = {}  # live users (no tombstones)
        self.teams: dict[str, Team] = {}  # config teams, then stored ones
        self.configured: dict[str, Team] = {}
        # What governance reads: only scopes that limit something, so `.get` of anyone else is None.
        self.user_rules: dict[str, TeamRules] = {}
        self.team_rules: dict[str, TeamRules] = {}
        # Each team's guardrails (guardrails/registry.py reads it): a new dictionary whenever teams change.
        self.team_guardrails: dict[str, tuple[str, ...]] = {}
        self.disabled: frozenset[str] = frozenset()
        self._stored_users: dict[str, User] = {}
        self._stored_teams: dict[str, Team] = {}
        self._versions = (-1, -1)
        self.loaded = False
        # Users seen lately by ensure_user: their last_seen is written at most once a minute.
        self._seen: dict[str, float] = {}

    def configure(self, config: Config) -> None:
        """The config file's teams (at start and on reload)."""
        self.configured = config_teams(config)
        self._rebuild()

    async def refresh(self) -> None:
        versions = (await self.store.document_version(USER_KIND), await self.store.document_version(TEAM_KIND))
        if versions != self._versions:
            users = await self.store.documents(USER_KIND)
            teams = await self.store.documents(TEAM_KIND)
            self._stored_users = {item_id: _decode_user(body) for item_id, body in users.items()}
            self._stored_teams = {item_id: _decode_team(body) for item_id, body in teams.items()}
            self._versions = versions
            self._rebuild()
        self.loaded = True
        self.read_again()

    def _rebuild(self) -> None:
        self.users = {uid: user for uid, user in self._stored_users.items() if user.deleted_at is None}
        teams = dict(self.configured)
        for tid, team in self._stored_teams.items():
            if team.deleted_at is None and tid not in self.configured:
                teams[tid] = team
        self.teams = teams
        self.user_rules = {uid: rules for uid, user in self.users.items() if _limits_something(rules := user.rules())}
        self.team_rules = {tid: rules for tid, team in teams.items() if _limits_something(rules := team.rules())}
        self.team_guardrails = {tid: team.guardrails for tid, team in teams.items() if team.guardrails}
        self.disabled = frozenset(uid for uid, user in self.users.items() if user.disabled)

    async def _poll(self) -> None:
        await self.try_refresh()  # at once: a team made through the API limits from the first request
        await super()._poll()

    # --- reads ------------------------------------------------------------------------------------

    def teams_of(self, user_id: str) -> list[str]:
        """The teams a user belongs to: those the user names (claims, admin) and those naming the user."""
        user = self.users.get(user_id)
        named = list(user.teams) if user is not None else []
        listed = [tid for tid, team in self.teams.items() if user_id in team.members or user_id in team.admins]
        return list(dict.fromkeys([*named, *listed]))

    def members_of(self, team_id: str) -> list[str]:
        team = self.teams.get(team_id)
        listed = list(team.members) if team is not None else []
        named = [uid for uid, user in self.users.items() if team_id in user.teams]
        return list(dict.fromkeys([*listed, *named]))

    def user_view(self, user: User) -> dict[str, Any]:
        return {**user.public(), "teams": self.teams_of(user.id)}

    def team_view(self, team: Team) -> dict[str, Any]:
        return {**team.public(), "members": self.members_of(team.id)}

    # --- writes (the admin API, sign-in, JWT callers): to the store, then read back ---------------

    async def _write(self, kind: str, item: User | Team) -> None:
        await self.store.put_document(kind, item.id, _encode(item))
        await self.refresh()

    def _stored_user(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise NotFound("user_not_found", code="user_not_found", user_id=user_id)
        return user

    async def create_user(self, fields: dict[str, Any], *, source: str = "admin") -> User:
        values = checked(fields, USER_FIELDS, creating=True)
        await self.refresh()
        if values["id"] in self.users:
            raise Conflict("conflict", code="user_exists", detail=f"user {values['id']!r} exists")
        now = time.time()
        user = User(created_at=now, updated_at=now, source=source, **values)
        await self._write(USER_KIND, user)
        return user

    async def update_user(self, user_id: str, fields: dict[str, Any]) -> tuple[User, User]:
        """The user before and after the change."""
        values = checked(fields, USER_FIELDS, creating=False)
        await self.refresh()
        user = self._stored_user(user_id)
        updated = replace(user, updated_at=time.time(), **values)
        await self._write(USER_KIND, updated)
        return user, updated

    async def delete_user(self, user_id: str) -> User:
        await self.refresh()
        gone = replace(self._stored_user(user_id), deleted_at=time.time(), updated_at=time.time())
        await self._write(USER_KIND, gone)
        return gone

    async def ensure_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        teams: list[str] | tuple[str, ...] | None = None,
        role: str | None = None,
        source: str = "jwt",
    ) -> User:
        """The user, created on first sight (sign-in, a JWT caller) and refreshed when what the identity
        provider says of them changed (email, name, teams, role); otherwise no write, so calling it on
        every request costs a dictionary lookup. `last_seen` is written at most once a minute."""
        now = time.time()
        user = self.users.get(user_id)
        wanted: dict[str, Any] = {}
        if email is not None:
            wanted["email"] = email
        if name is not None:
            wanted["name"] = name
        if teams is not None:
            wanted["teams"] = tuple(dict.fromkeys(teams))
        if role is not None:
            wanted["role"] = role
        unchanged = user is not None and all(getattr(user, k) == v for k, v in wanted.items())
        if unchanged and user is not None and now - self._seen.get(user_id, 0.0) < 60.0:
            return user
        if user is None:
            checked({"id": user_id}, ("id",), creating=True)
            user = User(id=user_id, created_at=now, updated_at=now, source=source, **wanted)
        else:
            user = replace(user, updated_at=now, **wanted)
        user = replace(user, last_seen=now)
        self._seen[user_id] = now
        await self.store.put_document(USER_KIND, user.id, _encode(user))
        self._stored_users[user.id] = user
        self._rebuild()
        return user

    async def create_team(self, fields: dict[str, Any]) -> Team:
        values = checked(fields, TEAM_FIELDS, creating=True)
        await self.refresh()
        if values["id"] in self.teams:
            raise Conflict("conflict", code="team_exists", detail=f"team {values['id']!r} exists")
        now = time.time()
        team = Team(created_at=now, updated_at=now, **values)
        await self._write(TEAM_KIND, team)
        return team

    def _stored_team(self, team_id: str) -> Team:
        team = self.teams.get(team_id)
        if team is None:
            raise NotFound("team_not_found", code="team_not_found", team_id=team_id)
        if team.source == "config":
            raise Conflict("conflict", code="team_in_config", detail=f"team {team_id!r} is defined in the config file")
        return team

    async def update_team(self, team_id: str, fields: dict[str, Any]) -> tuple[Team, Team]:
        values = checked(fields, TEAM_FIELDS, creating=False)
        await self.refresh()
        team = self._stored_team(team_id)
        updated = replace(team, updated_at=time.time(), **values)
        await self._write(TEAM_KIND, updated)
        return team, updated

    async def delete_team(self, team_id: str) -> Team:
        await self.refresh()
        gone = replace(self._stored_team(team_id), deleted_at=time.time(), updated_at=time.time())
        await self._write(TEAM_KIND, gone)
        return gone


def _limits_something(rules: TeamRules) -> bool:
    return bool(rules.limits) or rules.budget_usd is not None
