"""Gateway API keys: `Authorization: Bearer <key>` (or `x-api-key: <key>`, the header Anthropic's
clients send), compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable

from babelgate.errors import AuthenticationFailed


class GatewayKeys:
    __slots__ = ("_ids", "_keys")

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = tuple(key.encode() for key in keys if key)
        self._ids = {key: hashlib.sha256(key).hexdigest()[:12] for key in self._keys}

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def authenticate(self, authorization: bytes | None) -> str | None:
        """The caller's key id (a short hash, safe to log), or None when no keys are configured."""
        if not self._keys:
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


def credentials(header: Callable[[bytes], bytes | None]) -> bytes | None:
    """The presented key as an Authorization value: the header itself, else `x-api-key`."""
    authorization = header(b"authorization")
    if authorization is not None:
        return authorization
    key = header(b"x-api-key")
    return b"Bearer " + key if key is not None else None
