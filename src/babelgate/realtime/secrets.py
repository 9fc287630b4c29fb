"""Client secrets (`ek_…`): short-lived keys a server hands to a browser or a phone, which open one Realtime session
as the key that made them (its identity, limits and budgets) with the session settings it described. A secret is
claimed when a session begins with it, and given back if that session was refused before it opened. Kept in this
gateway's memory only, by their SHA-256: the secret itself is never stored nor logged."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from babelgate.errors import AuthenticationFailed

if TYPE_CHECKING:
    from babelgate.governance.virtual_keys import VirtualKey

PREFIX: Final = "ek_"
DEFAULT_SECONDS: Final = 60
MIN_SECONDS: Final = 10
# Secrets kept at most; past it the ones that expire first go (each lives two hours at most).
LIMIT: Final = 100_000


@dataclass(frozen=True, slots=True)
class Grant:
    """What a client secret stands for: the caller who made it, the session settings, until when."""

    key_id: str | None
    virtual_key: VirtualKey | None
    session: dict[str, Any]
    expires_at: float


def is_client_secret(token: bytes) -> bool:
    return token.startswith(PREFIX.encode())


class ClientSecrets:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._grants: dict[str, Grant] = {}

    def issue(
        self, key_id: str | None, virtual_key: VirtualKey | None, session: dict[str, Any], seconds: int
    ) -> tuple[str, Grant]:
        now = time.time()
        self._prune(now)
        value = PREFIX + secrets.token_urlsafe(32)
        grant = Grant(key_id, virtual_key, session, float(int(now) + seconds))
        self._grants[_digest(value)] = grant
        return value, grant

    def claim(self, token: bytes) -> Grant:
        """The grant of a presented secret, taken: no second session opens with it. AuthenticationFailed for an
        unknown, used or expired one."""
        grant = self._grants.pop(_digest(token.decode("latin-1")), None)
        if grant is None:
            raise AuthenticationFailed()
        if grant.expires_at <= time.time():
            raise AuthenticationFailed("client_secret_expired", code="client_secret_expired")
        return grant

    def give_back(self, token: bytes, grant: Grant) -> None:
        """A claimed secret whose session never opened (refused, or no upstream answered): usable again."""
        if grant.expires_at > time.time():
            self._grants[_digest(token.decode("latin-1"))] = grant

    def _prune(self, now: float) -> None:
        grants = self._grants
        if len(grants) < self.limit:
            return
        for digest, grant in list(grants.items()):
            if grant.expires_at <= now:
                del grants[digest]
        while len(grants) >= self.limit:  # all live: the first to expire go
            del grants[min(grants, key=lambda digest: grants[digest].expires_at)]

    def __len__(self) -> int:
        return len(self._grants)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("latin-1", "replace")).hexdigest()
