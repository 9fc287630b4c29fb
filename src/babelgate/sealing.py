"""Sealing state a client carries for the gateway: authenticated encryption of a small JSON payload,
so the client can neither read nor change it, and any gateway instance with the key can open it.

Used for provider reasoning state inside Responses reasoning items (frontends/responses/reasoning.py).
AES-256-GCM (the `cryptography` package): a random 96-bit nonce per token, the purpose bound as
associated data so that a token made for one purpose opens for no other. Payloads are zlib-compressed
first when that pays: every byte travels again on each replayed turn, and reasoning state holds its
text twice (as text and inside the signed block) beside base64 signatures — 56 to 72 % smaller on
synthetic Anthropic-shaped payloads of 1.4 to 65 KB (level 6).

A token is `bg1.` + base64url(nonce ‖ ciphertext ‖ tag). `open` answers None for anything it did not
make with one of its keys — forged, truncated, another key, another version — never an exception.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import zlib
from collections.abc import Callable
from typing import Any, Final, Protocol

import orjson

KEY_BYTES: Final = 32
PREFIX: Final = "bg1."
NONCE_BYTES: Final = 12
_PLAIN, _DEFLATED = b"j", b"z"  # first plaintext byte: how the JSON follows
_COMPRESS_FROM: Final = 512  # bytes of JSON below which zlib's header costs more than it saves
# Compressing before sealing lets the token's length hint at what is inside; harmless here: the
# payload is reasoning the client's own conversation produced, and integrity is what the seal is for.


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def parse_key(text: str) -> bytes:
    """A 32-byte key written as 64 hex digits or as base64 (standard or URL-safe, padding optional)."""
    text = text.strip()
    if len(text) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        key = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ValueError(f"expected {KEY_BYTES} bytes as 64 hex digits or base64 (e.g. `openssl rand -base64 32`)")
    return key


def parse_keys(text: str) -> tuple[bytes, ...]:
    """The current key, then old keys still accepted for opening, separated by commas (rotation:
    `NEW,OLD` until tokens sealed with OLD have aged out). Neither hex nor base64 holds a comma."""
    parts = [part.strip() for part in text.split(",")]
    keys: list[bytes] = []
    for position, part in enumerate(parts, 1):
        try:
            keys.append(parse_key(part))
        except ValueError as exc:
            raise ValueError(f"key {position} of {len(parts)}: {exc}" if len(parts) > 1 else str(exc)) from None
    return tuple(keys)


class Sealer:
    """Seals with `key`; opens what `key` or any of `old_keys` sealed (key rotation)."""

    def __init__(self, key: bytes, *, purpose: bytes, old_keys: tuple[bytes, ...] = ()) -> None:
        # Imported here: `cryptography` costs ~25 ms of start-up that a gateway sealing nothing never needs.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        for candidate in (key, *old_keys):
            if len(candidate) != KEY_BYTES:
                raise ValueError(f"a sealing key has {KEY_BYTES} bytes")
        self._current = AESGCM(key)
        self._all: tuple[Any, ...] = (self._current, *(AESGCM(old) for old in old_keys))
        self._purpose = purpose

    def seal(self, payload: dict[str, Any]) -> str:
        data = orjson.dumps(payload)
        plain = _DEFLATED + zlib.compress(data, 6) if len(data) >= _COMPRESS_FROM else _PLAIN + data
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + self._current.encrypt(nonce, plain, self._purpose)
        return PREFIX + _text(sealed)

    def open(self, token: str) -> dict[str, Any] | None:
        if not isinstance(token, str) or not token.startswith(PREFIX):
            return None
        body = token[len(PREFIX) :]
        try:
            sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            return None
        # The decoder skips characters outside the alphabet and ignores spare bits, so many texts
        # decode alike; only the one `seal` writes opens (a token is exactly what we made, or nothing).
        if len(sealed) <= NONCE_BYTES + 16 or _text(sealed) != body:
            return None
        from cryptography.exceptions import InvalidTag  # loaded with AESGCM in __init__: a dict lookup

        nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        for aead in self._all:
            try:
                plain = aead.decrypt(nonce, ciphertext, self._purpose)
            except InvalidTag:
                continue
            return _payload(plain)
        return None


def _text(sealed: bytes) -> str:
    return base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")


def _payload(plain: bytes) -> dict[str, Any] | None:
    """Only what a Sealer made opens, so this fails only if the format itself changed."""
    try:
        data = zlib.decompress(plain[1:]) if plain[:1] == _DEFLATED else plain[1:]
        payload = orjson.loads(data)
    except (zlib.error, orjson.JSONDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


class SealerSource:
    """The Sealer of one key source, made on first use: the configured keys (`parse_keys`), or else
    the key kept in the store under `secret_name` (generated by whichever gateway sharing the store
    asks first). Nothing is read before a request needs sealing; then the store is asked once."""

    def __init__(self, store: SecretStore, configured: str | None, *, purpose: bytes, secret_name: str) -> None:
        self._store = store
        self._configured = configured
        self._purpose = purpose
        self._secret_name = secret_name
        # Once made, read by requests without a coroutine (`sealer or await get()`).
        self.sealer: Sealer | None = None
        self._lock = asyncio.Lock()  # the first requests together ask the store once

    def same_source(self, store: SecretStore, configured: str | None) -> bool:
        return store is self._store and configured == self._configured

    async def get(self) -> Sealer:
        """Raises what the store raises when it cannot be reached; nothing is kept, so the next
        call asks again."""
        if self.sealer is None:
            async with self._lock:
                if self.sealer is None:
                    self.sealer = await self._make()
        return self.sealer

    async def _make(self) -> Sealer:
        if self._configured is not None:
            current, *old = parse_keys(self._configured)
            return Sealer(current, purpose=self._purpose, old_keys=tuple(old))
        return Sealer(await self._store.secret(self._secret_name, new_key), purpose=self._purpose)


class SecretStore(Protocol):
    async def secret(self, name: str, make: Callable[[], bytes]) -> bytes: ...
