"""An identity provider's signing keys (its JWKS), held in memory by `kid` and read again in the
background every `refresh` seconds: checking a token never waits on the network, except a token whose
`kid` is unknown (the provider rotated its keys), which may wait for ONE read of the set, shared by every
request waiting for it. Only those reads are throttled, to one per `min_refresh` seconds (a stream of
tokens with made-up `kid`s cannot turn the gateway into a client hammering the provider); the startup and
scheduled reads do not count, so a key the provider starts using right after one of them is read at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from jwt import PyJWK, PyJWKError

from babelgate.identity.discovery import ProviderUnreachable, discover, get_json

log = logging.getLogger("babelgate.identity")
RETRY_SECONDS = 5.0  # after a failed read, the background tries again this soon


class Jwks:
    def __init__(
        self,
        issuer: str,
        url: str | None,
        *,
        refresh: float = 300.0,
        min_refresh: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.configured_url = url
        self.url = url  # None: the discovery document's jwks_uri
        self.refresh = refresh
        self.min_refresh = min_refresh
        self.keys: dict[str, PyJWK] = {}
        self.only: PyJWK | None = None  # the set's one key, for tokens without a kid
        self.loaded = False
        self.reads = 0  # how many times the set was read (tests and metrics)
        self._clock = clock
        self._last_unknown_read = -float("inf")  # when an unknown kid last began a read (the throttled kind)
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
        reading = self._reading
        if reading is None or reading.done():  # a finished read's done callback may not have run yet
            reading = self._reading = asyncio.get_running_loop().create_task(self.try_load())
            reading.add_done_callback(self._read_done)
        return await asyncio.shield(reading)

    def _read_done(self, done: asyncio.Task[bool]) -> None:
        if self._reading is done:  # not a newer read begun before this callback ran
            self._reading = None

    def known(self, kid: str | None) -> PyJWK | None:
        """The key for a token's kid, from memory (no kid: the set's only key, if it has one)."""
        return self.keys.get(kid) if kid is not None else self.only

    async def find(self, kid: str | None) -> PyJWK | None:
        """The key for a kid, reading the set once more when the kid is unknown: joining a read under way,
        else beginning one if no unknown kid began one in the last `min_refresh` seconds."""
        found = self.known(kid)
        if found is not None:
            return found
        if self._reading is not None and not self._reading.done():  # a read under way: join it
            await self._read_once()
            return self.known(kid)
        now = self._clock()
        if now - self._last_unknown_read < self.min_refresh:
            return None
        first = not self.loaded
        self._last_unknown_read = now
        if await self._read_once() and first:  # the set's first read (a lazy startup), not a rotation
            self._last_unknown_read = -float("inf")
        return self.known(kid)
