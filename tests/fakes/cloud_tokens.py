"""The bearer tokens a fake cloud accepts: issued by the fake credential sources (a Google OAuth2 token
endpoint, a GCE metadata server, an Entra ID token endpoint), each with its expiry, and revocable. A fake
upstream asks `check(token)` and answers an expired, revoked or unknown token with the cloud's real 401."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Issued:
    token: str
    expires_at: float
    source: str  # which fake issued it ("oauth2", "metadata", "entra")
    audience: str  # the scope it was issued for


@dataclass
class TokenRegistry:
    """Every token issued, by value. Thread-safe: the credential fakes run on the test loop, google-auth
    and azure-identity call them from the gateway's worker threads."""

    lifetime: float = 3600.0  # seconds each new token lives
    issued: dict[str, Issued] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    used: list[str] = field(default_factory=list)  # tokens the fake upstreams accepted, in order
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, source: str, audience: str, prefix: str) -> Issued:
        with self._lock:
            token = f"{prefix}{len(self.issued) + 1}.{secrets.token_urlsafe(24)}"
            entry = Issued(token, time.time() + self.lifetime, source, audience)
            self.issued[token] = entry
            return entry

    def check(self, token: str, audience: str) -> str | None:
        """None when the token is valid for `audience`, else why not (for the fake's own records)."""
        entry = self.issued.get(token)
        if entry is None:
            return "unknown token"
        if token in self.revoked:
            return "revoked token"
        if entry.expires_at <= time.time():
            return "expired token"
        if entry.audience != audience:
            return f"token for {entry.audience!r}, not {audience!r}"
        self.used.append(token)
        return None

    def revoke_all(self) -> None:
        self.revoked.update(self.issued)

    def reset(self) -> None:
        with self._lock:
            self.issued.clear()
            self.revoked.clear()
            self.used.clear()
            self.lifetime = 3600.0
