"""Virtual keys: gateway keys created through the admin API, each with its own models, limits and
budget, kept in the store (SQLite by default, PostgreSQL when configured).

A key's secret is `bg-` + its 12-character id + 32 random characters, shown once. The store keeps a
salted SHA-256 of it and a visible prefix, never the secret. Every gateway instance holds all keys
in memory (`KeyRing`), so checking a key on the hot path is a dictionary lookup and one hash, and
polls the store's version of them twice a second: a key revoked on one instance is refused by
every instance within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.errors import AuthenticationFailed, InvalidRequest, NotFound

if TYPE_CHECKING:
    from babelgate.store import ResponseStore

log = logging.getLogger("babelgate.keys")
KIND: Final = "virtual_key"
SECRET_PREFIX: Final = "bg-"
_ID_LENGTH: Final = 12
POLL_SECONDS: Final = 0.5
PERIODS: Final = ("day", "week", "month")
# What a client may set (DECISIONS 14); everything else about a key is the gateway's.
EDITABLE: Final = (
    "label",
    "team",
    "models",
    "rpm",
    "tpm",
    "max_concurrent",
    "budget_usd",
    "budget_period",
    "expires_at",
    "metadata",
)


@dataclass(frozen=True, slots=True)
class VirtualKey:
    id: str
    salt: str
    digest: str  # sha256(salt + secret), hex
    created_at: float
    label: str = ""
    team: str | None = None
    models: tuple[str, ...] = ()  # patterns of public model names; empty: every model
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    budget_usd: float | None = None
    budget_period: str | None = None
    expires_at: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    revoked_at: float | None = None

    @property
    def prefix(self) -> str:
        """What may be shown of the secret: enough to tell keys apart."""
        return f"{SECRET_PREFIX}{self.id[:8]}…"

    def allows(self, model: str) -> bool:
        return not self.models or any(fnmatchcase(model, pattern) for pattern in self.models)

    def public(self) -> dict[str, Any]:
        """The key as the admin API shows it: never the secret, its hash or its salt."""
        fields = asdict(self)
        del fields["salt"], fields["digest"]
        fields["models"] = list(self.models)
        fields["prefix"] = self.prefix
        fields["revoked"] = self.revoked_at is not None
        return fields

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, body: bytes) -> VirtualKey:
        fields = orjson.loads(body)
        fields["models"] = tuple(fields.get("models") or ())
        return cls(**fields)


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def checked_fields(fields: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The editable fields of a create or update body, type-checked (a 400 names the field)."""
    unknown = [name for name in fields if name not in EDITABLE]
    if unknown:
        raise InvalidRequest(
            "invalid_value", param=unknown[0], detail=f"not a key field (fields: {', '.join(EDITABLE)})"
        )
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            out[name] = (
                None
                if name not in ("models", "metadata", "label")
                else ({} if name == "metadata" else () if name == "models" else "")
            )
            continue
        if name in ("label", "team") and not isinstance(value, str):
            raise InvalidRequest("wrong_type", param=name, expected="a string")
        if name == "models":
            if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
                raise InvalidRequest("wrong_type", param=name, expected="an array of model names or patterns")
            value = tuple(value)
        if name in ("rpm", "tpm", "max_concurrent") and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise InvalidRequest("wrong_type", param=name, expected="a positive integer")
        if name == "budget_usd" and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            raise InvalidRequest("wrong_type", param=name, expected="a number of dollars, 0 or more")
        if name == "budget_period" and value not in PERIODS:
            raise InvalidRequest("invalid_value", param=name, detail=f"expected one of {', '.join(PERIODS)} or null")
        if name == "expires_at":
            value = _timestamp(value)
        if name == "metadata" and not isinstance(value, dict):
            raise InvalidRequest("wrong_type", param=name, expected="an object")
        out[name] = value
    return out


def _timestamp(value: Any) -> float:
    """RFC 3339 (DECISIONS 14) or unix seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        from datetime import datetime

        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    raise InvalidRequest("wrong_type", param="expires_at", expected="an RFC 3339 time or unix seconds")


class KeyRing:
    """Every virtual key, in memory; the store is read only when its version moved."""

    def __init__(self, store: ResponseStore, *, poll: float = POLL_SECONDS) -> None:
        self.store = store
        self.poll = poll
        self.keys: dict[str, VirtualKey] = {}
        self.version = -1
        self.loaded = False
        self.unreadable = False  # the last read failed: the store is down (logged once, not per try)
        self._poller: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    async def refresh(self) -> None:
        version = await self.store.document_version(KIND)
        if version != self.version:
            documents = await self.store.documents(KIND)
            self.keys = {key_id: VirtualKey.decode(body) for key_id, body in documents.items()}
            self.version = version
        self.loaded = True
        if self.unreadable:
            self.unreadable = False
            log.info("virtual keys are read from the store again")

    async def try_refresh(self) -> bool:
        """`refresh`; a failure is logged once per outage, without its traceback (the poller tries
        twice a second: a store down for a minute once wrote 120 tracebacks)."""
        try:
            await self.refresh()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not self.unreadable:
                self.unreadable = True
                log.warning(
                    "could not read virtual keys from the store (%s: %s); keeping the ones read before "
                    "until it answers",
                    type(exc).__name__,
                    exc,
                )
            return False
        return True

    def start(self) -> None:
        """Poll from now on. Started with the gateway (or, mounted without its lifespan, on its first
        request of any kind), never from one kind of route: an instance whose first request was an
        admin call once never polled, and kept a revoked key valid for as long as it ran."""
        if self._poller is None:
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poller
            self._poller = None

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            await self.try_refresh()  # a store outage keeps the keys last read

    def authenticate(self, presented: str) -> VirtualKey:
        """The key whose secret this is, if it is live; AuthenticationFailed otherwise (the same
        error whether it is unknown, wrong, revoked or expired: nothing to probe with)."""
        key = self.keys.get(presented[len(SECRET_PREFIX) : len(SECRET_PREFIX) + _ID_LENGTH])
        if key is None:
            raise AuthenticationFailed()
        # A known key's id goes with the refusal, for the ledger's row (never the client's answer).
        if not hmac.compare_digest(_digest(key.salt, presented), key.digest):
            raise AuthenticationFailed(key_id=key.id)
        if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= time.time()):
            raise AuthenticationFailed(key_id=key.id)
        return key

    # --- the admin API's writes: to the store, then read back -------------------------------------

    async def create(self, fields: dict[str, Any]) -> tuple[VirtualKey, str]:
        key_id = secrets.token_hex(_ID_LENGTH // 2)
        secret = f"{SECRET_PREFIX}{key_id}{secrets.token_urlsafe(24)}"
        salt = secrets.token_hex(16)
        key = VirtualKey(
            id=key_id,
            salt=salt,
            digest=_digest(salt, secret),
            created_at=time.time(),
            **checked_fields(fields, creating=True),
        )
        await self.store.put_document(KIND, key.id, key.encode())
        await self.refresh()
        return key, secret

    async def update(self, key_id: str, fields: dict[str, Any]) -> VirtualKey:
        await self.refresh()
        key = self.keys.get(key_id)
        if key is None:
            raise NotFound("key_not_found", code="key_not_found", key_id=key_id)
        updated = replace(key, **checked_fields(fields, creating=False))
        await self.store.put_document(KIND, key.id, updated.encode())
        await self.refresh()
        return updated

    async def revoke(self, key_id: str) -> VirtualKey:
        await self.refresh()
        key = self.keys.get(key_id)
        if key is None:
            raise NotFound("key_not_found", code="key_not_found", key_id=key_id)
        revoked = key if key.revoked_at is not None else replace(key, revoked_at=time.time())
        await self.store.put_document(KIND, key.id, revoked.encode())
        await self.refresh()
        return revoked
