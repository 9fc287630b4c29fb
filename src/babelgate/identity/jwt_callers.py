"""JWT callers (`auth.jwt`; docs/decisions.md, "Identity: JWT callers and sign-in"): a model request, or an
admin call, may carry a JWT of the company's identity provider where a gateway key would go (`Authorization: Bearer`,
`x-api-key`, `x-goog-api-key`). The token is verified against the provider's keys (jwks.py: held in memory, never read
per request), for its issuer, audience, expiry and not-before (with `leeway` seconds of skew), and with
the algorithm the provider's key is for (never `none` nor a shared-secret HMAC).

Its claims then say who calls: a user (`claims.user`, `sub` by default), teams (`claims.teams`), a role
for the admin API (`claims.role`, or the groups through `auth.oidc.roles`), and the models it may use
(`claims.models`, else `auth.jwt.models`). For limits, budgets and the ledger a JWT caller is a virtual
key of its own: `user:<user>`, its team the first of its teams that `teams:` configures (else its
first team), so everything that governs a virtual key governs it the same way.

Speed: a verified token is kept by its SHA-256 until it expires, so a repeated token costs one hash and a
dictionary lookup; only a token seen for the first time pays for the signature check."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Collection, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import jwt

from babelgate.config.identity import JwtConfig, RoleMapping
from babelgate.errors import AuthenticationFailed, GatewayError
from babelgate.governance.virtual_keys import VirtualKey
from babelgate.identity.bearer import USER_PREFIX
from babelgate.identity.jwks import Jwks
from babelgate.identity.roles import Principal, as_role, listed, role_from_groups

if TYPE_CHECKING:
    from babelgate.governance.directory import Directory

MAX_CACHED: Final = 50_000  # verified tokens kept at once; past it, the expired go, then the oldest half
log = logging.getLogger("babelgate.identity")


@dataclass(frozen=True, slots=True)
class Caller:
    """A verified token: the key that governs its requests, who it is on the admin API, until when."""

    key: VirtualKey
    principal: Principal | None  # None: no role on /admin (no role claim, mapping or default)
    expires: float
    teams: tuple[str, ...] = ()  # every team or group the token names


class JwtCallers:
    def __init__(
        self,
        config: JwtConfig,
        jwks: Jwks,
        *,
        roles: RoleMapping | None = None,
        teams: Collection[str] = (),
        directory: Directory | None = None,
    ) -> None:
        self.config = config
        self.jwks = jwks
        self.roles = roles
        self.teams = frozenset(teams)  # the teams `teams:` configures (limits and budgets of their own)
        # Users and teams managed through the admin API (governance/directory.py): a caller's team may be
        # one made there, a role set there wins over the claims' mapping, and a caller is a user there.
        self.directory = directory
        self.algorithms = list(config.algorithms)
        self._verified: dict[bytes, Caller] = {}
        self._writes: set[asyncio.Task[Any]] = set()  # users being recorded (_beside)
        self._users: dict[tuple[str, str | None, tuple[str, ...]], VirtualKey] = {}

    def cached(self, token: bytes) -> Caller | None:
        """The caller of a token verified before and not yet expired: one hash and a lookup."""
        found = self._verified.get(hashlib.sha256(token).digest())
        if found is not None and found.expires > time.time():
            return found
        return None

    async def caller(self, token: bytes) -> Caller:
        """The token's caller; AuthenticationFailed (saying why, never echoing the token) when refused."""
        digest = hashlib.sha256(token).digest()
        found = self._verified.get(digest)
        now = time.time()
        if found is not None and found.expires > now:
            return found
        claims = await self._verify(token.decode("latin-1"))
        made = self._caller(claims)
        directory = self.directory
        if directory is not None and made.key.user is not None:
            # Once per token and instance (a repeat is the cache's): the user made or refreshed, with the
            # teams of theirs that the gateway knows (groups that name no team are the provider's business).
            # Written beside the request, not in its way: the request is governed by the token alone.
            known = [team for team in made.teams if team in directory.teams]
            self._beside(directory.ensure_user(made.key.user, teams=known or None, source="jwt"))
        if len(self._verified) >= MAX_CACHED:
            self._evict(now)
        self._verified[digest] = made
        return made

    async def _verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _refused("not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise _refused(f"algorithm {algorithm!r} is not accepted")
        kid = header.get("kid")
        key = await self.jwks.find(kid if isinstance(kid, str) else None)
        if key is None and not self.jwks.loaded:
            # Never read: the provider is down, not the token wrong. A 503 says to try again, not to re-login.
            raise GatewayError("identity_provider_unavailable", code="identity_provider_unavailable", status=503)
        if key is None:
            raise _refused("signed with a key the identity provider does not publish")
        if key.algorithm_name != algorithm:
            raise _refused(f"the key is for {key.algorithm_name}, the token says {algorithm}")
        config = self.config
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=list(config.audience),
                issuer=config.issuer,
                leeway=config.leeway,
                options={"require": ["exp", "iss"], "verify_aud": True},
            )
        except jwt.ExpiredSignatureError:
            raise _refused("expired") from None
        except jwt.ImmatureSignatureError:
            raise _refused("not valid yet (nbf)") from None
        except jwt.InvalidAudienceError:
            raise _refused("meant for another audience") from None
        except jwt.InvalidIssuerError:
            raise _refused("issued by another issuer") from None
        except jwt.InvalidSignatureError:
            raise _refused("its signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise _refused(f"it has no {exc.claim} claim") from None
        except jwt.InvalidTokenError as exc:
            raise _refused(type(exc).__name__) from None
        return claims

    def _caller(self, claims: dict[str, Any]) -> Caller:
        names = self.config.claims
        user = claims.get(names.user)
        if not isinstance(user, str | int) or isinstance(user, bool) or not str(user):
            raise _refused(f"it has no {names.user} claim naming the user")
        user = str(user)
        teams = listed(claims.get(names.teams)) if names.teams else ()
        directory = self.directory
        managed = directory.teams if directory is not None else {}
        team = next((name for name in teams if name in self.teams or name in managed), teams[0] if teams else None)
        models = listed(claims.get(names.models)) if names.models and names.models in claims else self.config.models
        key = self._user_key(user, team, models)
        stored = directory.users.get(user) if directory is not None else None
        role = as_role(stored.role) if stored is not None and stored.role else None  # set through the admin API
        if role is None and names.role:
            role = as_role(claims.get(names.role))
        if role is None and self.roles is not None:
            role = role_from_groups(teams, self.roles)
        role = role or self.config.default_role
        principal = Principal(user, role, teams) if role is not None else None
        return Caller(key, principal, float(claims["exp"]), teams)

    def _user_key(self, user: str, team: str | None, models: tuple[str, ...]) -> VirtualKey:
        """The user's synthetic virtual key, one object per (user, team, models): limits, budgets and
        the ledger see `user:<user>` as they see any key."""
        index = (user, team, models)
        key = self._users.get(index)
        if key is None:
            if len(self._users) >= MAX_CACHED:
                self._users.clear()
            key = VirtualKey(
                id=USER_PREFIX + user, salt="", digest="", created_at=time.time(), team=team, user=user, models=models
            )
            self._users[index] = key
        return key

    def _beside(self, write: Coroutine[Any, Any, Any]) -> None:
        """A store write off the request path; a failure is logged (the next token writes again)."""
        task = asyncio.get_running_loop().create_task(write)
        self._writes.add(task)  # a task nobody references may be collected before it ends
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[Any]) -> None:
        self._writes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("could not record a JWT caller as a user: %s", task.exception())

    def _evict(self, now: float) -> None:
        live = {digest: found for digest, found in self._verified.items() if found.expires > now}
        if len(live) >= MAX_CACHED:  # still full: keep the newer half
            live = dict(list(live.items())[MAX_CACHED // 2 :])
        self._verified = live


def _refused(reason: str) -> AuthenticationFailed:
    return AuthenticationFailed("invalid_token", code="invalid_token", reason=reason)
