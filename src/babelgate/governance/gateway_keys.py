"""Gateway API keys: `Authorization: Bearer <key>` (or `x-api-key: <key>`, the header Anthropic's
clients send, or Google's `x-goog-api-key: <key>` and `?key=<key>`). Static keys (`server.api_keys`,
BABELGATE_API_KEYS) are compared in constant time; a `bg-` key is a virtual key, looked up in the key ring
(virtual_keys.py). A request an AWS SDK signed with a virtual key's AWS-style credentials is checked by
`identify_signed` (sigv4.py).

A gateway with virtual keys that are all revoked or expired (and no static key, no JWT callers) stays closed,
and its refusal says why: nothing else would tell a client, or the operator reading its report, that the
gateway is not misconfigured but shut (access_mode.py)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable
from typing import Any, Final, Protocol
from urllib.parse import parse_qs

from babelgate.errors import AuthenticationFailed, SignatureRefused
from babelgate.governance import sigv4
from babelgate.governance.access_mode import AccessMode
from babelgate.governance.virtual_keys import SECRET_PREFIX, KeyRing, VirtualKey

_VIRTUAL = SECRET_PREFIX.encode()


class SignedRequest(Protocol):
    """What a signature is checked against: the HTTP exchange's ASGI scope (method, path as sent, query,
    headers) and its body."""

    scope: Any

    async def read_body(self, limit: int) -> bytes: ...


class GatewayKeys:
    __slots__ = ("_ids", "_keys", "_required", "_ring", "_seen")

    def __init__(
        self,
        keys: Iterable[str],
        ring: KeyRing | None = None,
        *,
        required: bool = False,
        seen: sigv4.SeenSignatures | None = None,
    ) -> None:
        self._keys = tuple(key.encode() for key in keys if key)
        self._ids = {key: fingerprint(key) for key in self._keys}
        self._ring = ring
        # Callers authenticate some other way too (JWTs, auth.jwt): no key at all is then refused as well.
        self._required = required
        # The signatures this gateway instance verified within their window (outlives a reload: the governance
        # part's); None: signed requests are not taken.
        self._seen = seen

    @property
    def enabled(self) -> bool:
        return bool(self._keys) or self._required or (self._ring is not None and self._ring.enabled)

    def identify(self, authorization: bytes | None) -> tuple[str | None, VirtualKey | None]:
        """The caller's key id (safe to log) and, for a virtual key, the key; (None, None) when no
        keys of either kind exist."""
        ring = self._ring
        if ring is not None and authorization is not None and authorization[:7].lower() == b"bearer ":
            presented = authorization[7:].strip()
            if presented.startswith(_VIRTUAL) and ring.keys:  # `ring.enabled`, without a call: every request asks
                try:
                    key = ring.authenticate(presented.decode("latin-1"))
                except AuthenticationFailed as refused:
                    raise self._refusal(refused.params.get("key_id")) from None
                return key.id, key
        return self.authenticate(authorization), None

    async def identify_signed(
        self, authorization: bytes, request: SignedRequest, limit: int
    ) -> tuple[str, VirtualKey, str]:
        """The virtual key whose AWS-style credentials signed `request` (its body read, within `limit`, for its
        hash) and the signature, or SignatureRefused: a malformed header, an access key id of no live key, a
        wrong signature, a date out of the window, a signature already seen."""
        ring, seen = self._ring, self._seen
        if ring is None or seen is None:
            raise AuthenticationFailed()
        signed = sigv4.parse(authorization)
        key, secret = await ring.signing_secret(signed.access_key_id)
        scope = request.scope
        now = time.time()
        try:
            dated = sigv4.verify(
                secret,
                signed,
                method=scope["method"],
                raw_path=scope.get("raw_path") or scope["path"].encode(),
                query=scope.get("query_string", b""),
                headers=scope["headers"],
                body=await request.read_body(limit),
                now=now,
            )
        except SignatureRefused as refused:
            refused.params["key_id"] = key.id  # for the ledger's row and the log of refusals, never the answer
            raise
        signature = signed.signature.lower()
        if not seen.first_time(signature, dated, now):
            raise SignatureRefused("sigv4_replayed", key_id=key.id)
        return key.id, key, signature

    def unsee(self, signature: str) -> None:
        """A signed request that failed before any of its answer went out: the same signed bytes may come again (an
        AWS SDK's retry within the same second signs the same signature), as a request is served at most once."""
        if self._seen is not None:
            self._seen.forget(signature)

    def mode(self) -> AccessMode:
        """Whether the gateway is open or requires a key now, and what makes it so."""
        ring = self._ring
        live, revoked, expired = ring.census(time.time()) if ring is not None else (0, 0, 0)
        known = ring is None or ring.loaded
        return AccessMode(len(self._keys), live, revoked, expired, self._required, known)

    def _refusal(self, key_id: str | None = None) -> AuthenticationFailed:
        """The 401; when only virtual keys could open the gateway and none is live, one that says so."""
        ring = self._ring
        if not self._keys and not self._required and ring is not None:
            live, revoked, expired = ring.census(time.time())
            if not live and (revoked or expired):
                # The code stays `invalid_api_key`, which clients already handle; the message says why.
                message = "keys_all_revoked" if not expired else "keys_all_revoked_or_expired"
                return AuthenticationFailed(message, key_id=key_id)
        return AuthenticationFailed() if key_id is None else AuthenticationFailed(key_id=key_id)

    def authenticate(self, authorization: bytes | None) -> str | None:
        """The caller's static key id (a short hash, safe to log), or None when no keys exist."""
        if not self._keys:
            if self._required or (self._ring is not None and self._ring.enabled):
                raise self._refusal()  # virtual keys (or JWT callers) exist: a credential is needed
            return None
        if authorization is None or not authorization[:7].lower() == b"bearer ":
            raise AuthenticationFailed()
        presented = authorization[7:].strip()
        matched = b""
        # Compare against every key, so the time taken says nothing about which one matched.
        for key in self._keys:
            if hmac.compare_digest(presented, key):
                matched = key
        if not matched:
            raise AuthenticationFailed()
        return self._ids[matched]


def fingerprint(key: bytes) -> str:
    """A presented key's short, non-reversible name, safe to log: a static key's id in the ledger, and the
    name of a refused key in the log of refusals."""
    return hashlib.sha256(key).hexdigest()[:12]


SIGV4: Final = b"AWS4-HMAC-SHA256 "


def key_beside_signature(header: Callable[[bytes], bytes | None]) -> bytes | None:
    """Where `Authorization` is an AWS SigV4 signature (which the gateway cannot verify: it proves knowledge
    of an AWS secret the gateway does not hold), the gateway key sent beside it in `x-api-key` or
    `x-goog-api-key`, as an Authorization value; else None."""
    authorization = header(b"authorization")
    if authorization is None or not authorization.startswith(SIGV4):
        return None
    key = header(b"x-api-key") or header(b"x-goog-api-key")
    return b"Bearer " + key if key is not None else None


def credentials(header: Callable[[bytes], bytes | None], query: bytes = b"") -> bytes | None:
    """The presented key as an Authorization value: the header itself, else `x-api-key` (Anthropic's
    clients), `x-goog-api-key` or the query's `key` (Google's: the Gemini API frontend)."""
    authorization = header(b"authorization")
    if authorization is not None:
        return authorization
    key = header(b"x-api-key") or header(b"x-goog-api-key")
    if key is None and query.find(b"key=") >= 0:
        found = parse_qs(query.decode("latin-1")).get("key")
        key = found[0].encode("latin-1") if found else None
    return b"Bearer " + key if key is not None else None
