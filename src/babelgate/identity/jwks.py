"""An identity provider's signing keys (its JWKS), held in memory by `kid` and read again in the
background every `refresh` seconds: checking a token never waits on the network, except a token whose
`kid` is unknown (the provider rotated its keys), which may wait for ONE read of the set, shared by every
request waiting for it and made at most once per `min_refresh` seconds (a stream of tokens with made-up
`kid`s cannot turn the gateway into a client hammering the provider)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from jwt import PyJWK, PyJWKError

from babelgate.identity.discovery import ProviderUnreachable, discover, get_json

log = logging.getLogger("babelgate.identity")
RETRY_SECONDS = 5.0  # after a failed read, the background tries again this soon


class Jwks:
    def __init__(self, issuer: str, url: str | None, *, refresh: float = 300.0, min_refresh: float = 10.0) -> None:
        self.issuer = issuer
        self.configured_url = url
        self.url = url  # None: the discovery document's jwks_uri
        self.refresh = refresh
        self.min_refresh = min_refresh
        self.keys: dict[str, PyJWK] = {}
        self.only: PyJWK | None = None  # the set's one key, for tokens without a kid
        self.loaded = False
        self.reads = 0  # how many times the set was read (tests and metrics)
        self._last_read = -float("inf")  # monotonic time of the last read begun
        self._reading: asyncio.Task[bool] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._failing = False

    async def load(self) -> None:
        """Read the key set now; ProviderUnreachable when it cannot be had."""
        if self.url is None:
            self.url = str((await discover(self.issuer)).get("jwks_uri") or "")
            if not self.url:
                raise ProviderUnreachable(f"{self.issuer}: the discovery document names no jwks_uri")
        document = await get_json(self.url)
        keys: dict[str, PyJWK] = {}
        usable: list[PyJWK] = []
        for entry in document.get("keys") or ():
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = PyJWK(entry)
            except PyJWKError:
                continue  # a key type or curve we do not verify with: its tokens are refused
            usable.append(key)
            if key.key_id:
                keys[key.key_id] = key
        self.keys = keys
        self.only = usable[0] if len(usable) == 1 else None
        self.loaded = True
        self.reads += 1

    async def try_load(self) -> bool:
        self._last_read = time.monotonic()
        try:
            await self.load()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # logged once per outage, as the key ring does
            if not self._failing:
                self._failing = True
                log.warning("could not read the identity provider's keys (%s); keeping the ones read before", exc)
            return False
        if self._failing:
            self._failing = False
            log.info("the identity provider's keys are read again")
        return True

    def start(self) -> None:
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
            await self._read_once()
            await asyncio.sleep(self.refresh if not self._failing else min(self.refresh, RETRY_SECONDS))

    async def _read_once(self) -> bool:
        """One read of the set, shared by everyone who asks while it runs."""
        if self._reading is None:
            self._reading = asyncio.get_running_loop().create_task(self.try_load())
            self._reading.add_done_callback(self._read_done)
        return await asyncio.shield(self._reading)

    def _read_done(self, _: asyncio.Task[bool]) -> None:
        self._reading = None

    def known(self, kid: str | None) -> PyJWK | None:
        """The key for a token's kid, from memory (no kid: the set's only key, if it has one)."""
        return self.keys.get(kid) if kid is not None else self.only

    async def find(self, kid: str | None) -> PyJWK | None:
        """The key for a kid, reading the set once more when the kid is unknown and the last read is at
        least `min_refresh` seconds old (or a read is under way already)."""
        found = self.known(kid)
        if found is not None:
            return found
        if self._reading is None and time.monotonic() - self._last_read < self.min_refresh:
            return None
        await self._read_once()
        return self.known(kid)
