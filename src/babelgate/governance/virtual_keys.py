"""Virtual keys: gateway keys created through the admin API, each with its own models, limits and
budget, kept in the store (SQLite by default, PostgreSQL when configured).

A key's secret is `bg-` + its 12-character id + 32 random characters, shown once. The store keeps a
salted SHA-256 of it and a visible prefix, never the secret. A key may also be issued with AWS-style
credentials, for AWS SDKs that sign their requests (governance/sigv4.py): an access key id (`BGAK` + 16
base32 characters) and a 40-character secret, shown once too. Checking a signature needs that secret itself
(it is an HMAC key), so the store keeps it sealed (AES-GCM under a key the store keeps, sealing.py), and it
is opened only to check a signature, never shown again. Every gateway instance holds all keys
in memory (`KeyRing`), so checking a key on the hot path is a dictionary lookup and one hash, and
polls the store's version of them twice a second: a key revoked on one instance is refused by
every instance within a second.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.errors import AuthenticationFailed, InvalidRequest, NotFound, SignatureRefused
from babelgate.governance.sigv4 import ACCESS_KEY_PREFIX
from babelgate.sealing import SealerSource
from babelgate.store.polled import POLL_SECONDS, Polled

if TYPE_CHECKING:
    from babelgate.store import ResponseStore

log = logging.getLogger("babelgate.keys")
KIND: Final = "virtual_key"
SECRET_PREFIX: Final = "bg-"
_ID_LENGTH: Final = 12
_ID_AT: Final = slice(len(SECRET_PREFIX), len(SECRET_PREFIX) + _ID_LENGTH)  # where a secret holds its key's id
PERIODS: Final = ("day", "week", "month")
LIMIT_FIELDS: Final = ("rpm", "tpm", "max_concurrent", "budget_usd", "budget_period")
# The AWS-style secrets' seal: the purpose bound into each sealed secret, and the store's name for its key.
AWS_SECRET_PURPOSE: Final = b"babelgate aws secret v1"
AWS_SEALING_KEY: Final = "aws_secret_key"
# What a client may set (docs/decisions.md, "The admin API"); everything else about a key is the gateway's.
EDITABLE: Final = (
    "label",
    "team",
    "user",
    "models",
    "mcp",
    "rpm",
    "tpm",
    "max_concurrent",
    "budget_usd",
    "budget_period",
    "expires_at",
    "metadata",
    "end_user_limits",
    "guardrails",
)


@dataclass(frozen=True, slots=True)
class VirtualKey:
    id: str
    salt: str
    digest: str  # sha256(salt + secret), hex
    created_at: float
    label: str = ""
    team: str | None = None
    user: str | None = None
    models: tuple[str, ...] = ()  # patterns of public model names; empty: every model
    # MCP servers or `server/tool` patterns (docs/decisions.md, "MCP servers and who may use them"); None: none
    mcp: tuple[str, ...] | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    budget_usd: float | None = None
    budget_period: str | None = None
    expires_at: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    revoked_at: float | None = None
    # Limits each end customer the application names in a request (`user`, `metadata.user_id` or the
    # x-babelgate-end-user header) gets under this key: rpm, tpm, max_concurrent, budget_usd, budget_period.
    end_user_limits: dict[str, Any] | None = None
    # Guardrails this key's requests pass besides its team's, its model's and the server's (names of the
    # configured `guardrails`): a key can add guardrails, never remove one.
    guardrails: tuple[str, ...] = ()
    # AWS-style credentials (governance/sigv4.py): the access key id, and the secret sealed; None: none issued.
    aws_access_key_id: str | None = None
    aws_secret_sealed: str | None = None

    @property
    def prefix(self) -> str:
        """What may be shown of the secret: enough to tell keys apart."""
        return f"{SECRET_PREFIX}{self.id[:8]}…"

    def allows(self, model: str) -> bool:
        return not self.models or any(fnmatchcase(model, pattern) for pattern in self.models)

    def public(self) -> dict[str, Any]:
        """The key as the admin API shows it: never the secret, its hash or its salt, nor the AWS secret."""
        fields = asdict(self)
        del fields["salt"], fields["digest"], fields["aws_secret_sealed"]
        fields["models"] = list(self.models)
        fields["mcp"] = list(self.mcp) if self.mcp is not None else None
        fields["guardrails"] = list(self.guardrails)
        fields["prefix"] = self.prefix
        fields["revoked"] = self.revoked_at is not None
        return fields

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, body: bytes) -> VirtualKey:
        fields = orjson.loads(body)
        fields["models"] = tuple(fields.get("models") or ())
        if fields.get("mcp") is not None:
            fields["mcp"] = tuple(fields["mcp"])
        fields["guardrails"] = tuple(fields.get("guardrails") or ())
        return cls(**fields)


# Checked secrets a key ring remembers at most (~200 bytes each: under 1 MiB).
VERIFIED_SECRETS: Final = 4096


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
                if name not in ("models", "metadata", "label", "guardrails")
                else ({} if name == "metadata" else () if name in ("models", "guardrails") else "")
            )
            continue
        if name == "end_user_limits":
            value = checked_limits(value, param=name)
        if name in ("label", "team", "user") and not isinstance(value, str):
            raise InvalidRequest("wrong_type", param=name, expected="a string")
        if name == "models":
            if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
                raise InvalidRequest("wrong_type", param=name, expected="an array of model names or patterns")
            value = tuple(value)
        if name == "mcp":
            if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
                raise InvalidRequest("wrong_type", param=name, expected="an array of MCP server names or patterns")
            value = tuple(value)
        if name == "guardrails":
            if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
                raise InvalidRequest("wrong_type", param=name, expected="an array of guardrail names")
            value = tuple(dict.fromkeys(value))
        if name in LIMIT_FIELDS:
            check_limit(name, value, param=name)
        if name == "expires_at":
            value = _timestamp(value)
        if name == "metadata" and not isinstance(value, dict):
            raise InvalidRequest("wrong_type", param=name, expected="an object")
        out[name] = value
    return out


def checked_limits(value: Any, *, param: str) -> dict[str, Any]:
    """A limits object (`end_user_limits`): only LIMIT_FIELDS, each of its type (a 400 names it)."""
    if not isinstance(value, dict):
        raise InvalidRequest("wrong_type", param=param, expected="an object")
    out: dict[str, Any] = {}
    for name, item in value.items():
        where = f"{param}.{name}"
        if name not in LIMIT_FIELDS:
            raise InvalidRequest("invalid_value", param=where, detail=f"expected one of {', '.join(LIMIT_FIELDS)}")
        if item is None:
            continue
        check_limit(name, item, param=where)
        out[name] = item
    return out


def check_limit(name: str, value: Any, *, param: str) -> None:
    """One of LIMIT_FIELDS (of a key, a user, a team or `end_user_limits`), type-checked: a 400 names `param`."""
    if name in ("rpm", "tpm", "max_concurrent") and (
        isinstance(value, bool) or not isinstance(value, int) or value < 1
    ):
        raise InvalidRequest("wrong_type", param=param, expected="a positive integer")
    if name == "budget_usd" and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
        raise InvalidRequest("wrong_type", param=param, expected="a number of dollars, 0 or more")
    if name == "budget_period" and value not in PERIODS:
        raise InvalidRequest("invalid_value", param=param, detail=f"expected one of {', '.join(PERIODS)} or null")


def _timestamp(value: Any) -> float:
    """RFC 3339 (docs/decisions.md, "The admin API") or unix seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        from datetime import datetime

        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    raise InvalidRequest("wrong_type", param="expires_at", expected="an RFC 3339 time or unix seconds")


class KeyRing(Polled):
    """Every virtual key, in memory; the store is read only when its version moved."""

    what = "virtual keys"

    def __init__(self, store: ResponseStore, *, poll: float = POLL_SECONDS) -> None:
        super().__init__(poll=poll)
        self.store = store
        self.keys: dict[str, VirtualKey] = {}
        # The keys with AWS-style credentials, by access key id (made with `keys`), and what seals their secrets.
        self._by_access_key: dict[str, VirtualKey] = {}
        self._aws_sealer = SealerSource(store, None, purpose=AWS_SECRET_PURPOSE, secret_name=AWS_SEALING_KEY)
        self.version = -1
        self.loaded = False
        # Secrets presented and checked already, with the digest they matched: a key's next request compares
        # digests instead of hashing again (SHA-256 of the salted secret was ~10k instructions a governed
        # request). A rotated or replaced key has another digest, so its old secret is hashed and refused.
        # Bounded: emptied when it reaches VERIFIED_SECRETS. Holds only secrets that are right.
        self._verified: dict[str, str] = {}
        # Called after the first read and after each read that found the keys changed (app.py logs the
        # gateway's access mode then).
        self.on_change: Callable[[], None] | None = None
        # The keys counted (`census`), for the key set they were counted of: the count is redone only when
        # the set was replaced, never per request.
        self._counted: dict[str, VirtualKey] | None = None
        self._standing = 0  # not revoked
        self._revoked = 0
        self._expiries: list[float] = []  # when the keys not revoked expire, sorted (those that do)

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    async def refresh(self) -> None:
        version = await self.store.document_version(KIND)
        changed = not self.loaded
        if version != self.version:
            documents = await self.store.documents(KIND)
            self.keys = {key_id: VirtualKey.decode(body) for key_id, body in documents.items()}
            self._by_access_key = {key.aws_access_key_id: key for key in self.keys.values() if key.aws_access_key_id}
            self.version = version
            changed = True
        self.loaded = True
        self.read_again()
        if changed and self.on_change is not None:
            self.on_change()

    def census(self, now: float) -> tuple[int, int, int]:
        """How many keys are live, revoked, and expired (not revoked) at `now`."""
        keys = self.keys
        if self._counted is not keys:
            standing = [key for key in keys.values() if key.revoked_at is None]
            self._standing, self._revoked = len(standing), len(keys) - len(standing)
            self._expiries = sorted(key.expires_at for key in standing if key.expires_at is not None)
            self._counted = keys
        expired = bisect_right(self._expiries, now)
        return self._standing - expired, self._revoked, expired

    def authenticate(self, presented: str) -> VirtualKey:
        """The key whose secret this is, if it is live; AuthenticationFailed otherwise (the same
        error whether it is unknown, wrong, revoked or expired: nothing to probe with)."""
        key = self.keys.get(presented[_ID_AT])
        if key is None:
            raise AuthenticationFailed()
        # A known key's id goes with the refusal, for the ledger's row (never the client's answer).
        # The digest kept is the key's own string while the key is unchanged (a reloaded key's equal digest is a
        # new string: its secret is hashed once more): two server-side values, compared by identity.
        if self._verified.get(presented) is not key.digest:
            if not hmac.compare_digest(_digest(key.salt, presented), key.digest):
                raise AuthenticationFailed(key_id=key.id)
            if len(self._verified) >= VERIFIED_SECRETS:
                self._verified.clear()
            self._verified[presented] = key.digest
        if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= time.time()):
            raise AuthenticationFailed(key_id=key.id)
        return key

    async def signing_secret(self, access_key_id: str) -> tuple[VirtualKey, str]:
        """The live key with this access key id, and its AWS secret (opened from its seal); SignatureRefused
        (`unrecognized_client`) otherwise, the same whether it is unknown, revoked or expired."""
        key = self._by_access_key.get(access_key_id)
        if key is None:
            raise SignatureRefused("sigv4_unknown_key", code="unrecognized_client")
        if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= time.time()):
            raise SignatureRefused("sigv4_unknown_key", code="unrecognized_client", key_id=key.id)
        sealer = self._aws_sealer.sealer or await self._aws_sealer.get()
        opened = sealer.open(key.aws_secret_sealed or "")
        secret = opened.get("secret") if opened is not None else None
        if not isinstance(secret, str):  # sealed under a key the store no longer has
            log.warning("the AWS secret of virtual key %s cannot be opened: issue the key again", key.id)
            raise SignatureRefused("sigv4_unknown_key", code="unrecognized_client", key_id=key.id)
        return key, secret

    # --- the admin API's writes: to the store, then read back -------------------------------------

    async def create(self, fields: dict[str, Any], *, user: str | None = None) -> tuple[VirtualKey, str]:
        """A new key from a create body's fields; `user`: whose key it is (a signed-in member's own)."""
        key, secret, _ = await self._create(fields, user, aws=False)
        return key, secret

    async def create_with_aws(self, fields: dict[str, Any], *, user: str | None = None) -> tuple[VirtualKey, str, str]:
        """`create`, the key issued with AWS-style credentials too: its access key id is on the key, its AWS
        secret returned beside its secret, each shown once."""
        key, secret, aws_secret = await self._create(fields, user, aws=True)
        assert aws_secret is not None
        return key, secret, aws_secret

    async def _create(
        self, fields: dict[str, Any], user: str | None, *, aws: bool
    ) -> tuple[VirtualKey, str, str | None]:
        key_id = secrets.token_hex(_ID_LENGTH // 2)
        secret = f"{SECRET_PREFIX}{key_id}{secrets.token_urlsafe(24)}"
        salt = secrets.token_hex(16)
        aws_secret = None
        credentials: dict[str, Any] = {}
        if aws:
            aws_secret = secrets.token_urlsafe(30)  # 40 characters, as AWS's own secret access keys
            sealer = self._aws_sealer.sealer or await self._aws_sealer.get()
            sealed = sealer.seal({"secret": aws_secret})
            credentials = {"aws_access_key_id": _access_key_id(), "aws_secret_sealed": sealed}
        key = VirtualKey(
            id=key_id,
            salt=salt,
            digest=_digest(salt, secret),
            created_at=time.time(),
            **credentials,
            **{**({"user": user} if user is not None else {}), **checked_fields(fields, creating=True)},
        )
        await self.store.put_document(KIND, key.id, key.encode())
        await self.refresh()
        return key, secret, aws_secret

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


def _access_key_id() -> str:
    """`BGAK` and 16 upper-case base32 characters (80 random bits): the shape of AWS's own (`AKIA…`), so that
    the AWS SDKs and their configuration files take it, and told apart from AWS's by its prefix."""
    return ACCESS_KEY_PREFIX + base64.b32encode(secrets.token_bytes(10)).decode("ascii")
