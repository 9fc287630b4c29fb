"""The governance part: who may call and how much. The virtual keys, users and teams (kept in the store and
polled), the AWS-signed requests seen, the audit log, alerts, rate limits and budgets (exact across instances
through Redis when configured), the log of refused callers, and the log of the access mode
(governance/access_mode.py). A reload that moves the store reopens what is kept there; the old ones are closed
once the reload is done."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from babelgate.assembly.part import Background, Closer
from babelgate.assembly.redis import prefix_of
from babelgate.assembly.store import StorePart
from babelgate.config.models import Config
from babelgate.governance.access_mode import KEYS_CHANGED, ModeLog
from babelgate.governance.alerts import Alerts
from babelgate.governance.audit import AuditLog
from babelgate.governance.budgets import Budgets
from babelgate.governance.directory import Directory
from babelgate.governance.rate_limits import RateLimiter
from babelgate.governance.refusals import RefusalLog
from babelgate.governance.sigv4 import SeenSignatures
from babelgate.governance.virtual_keys import KeyRing
from babelgate.redis_link import RedisLink
from babelgate.runtime import Runtime
from babelgate.store.open import store_address


class GovernancePart:
    def __init__(
        self,
        config: Config,
        store: StorePart,
        redis: RedisLink | None,
        background: Background,
        runtime: Callable[[], Runtime],
    ) -> None:
        """`redis`: the gateway's link, when configured; `runtime`: the gateway's current one (the access mode is
        its keys')."""
        self._stores, self._redis, self._background, self._runtime = store, redis, background, runtime
        self.store = store.store  # the store what is kept there was read from
        # Whether the gateway is open or requires a key, logged at start and when it changes;
        # `listening`: the address it serves on, when it knows (`babelgate serve` says; a host app may not).
        self.mode_log = ModeLog()
        self.listening: str | None = None
        self.refusals = RefusalLog()  # 401s and 403s, a line per client and reason a minute
        self.key_ring = self._key_ring()
        # The AWS-signed requests this instance verified within their date window, refused if sent again: the
        # instance's own (another instance keeps its own), kept across reloads.
        self.seen_signatures = SeenSignatures()
        self.directory = Directory(self.store)
        self.audit = AuditLog(self.store)
        self.alerts = Alerts(self.store, redis)
        self.limiter = RateLimiter(redis, prefix=prefix_of(config))
        self.budgets = Budgets(self.store, redis, prefix=prefix_of(config))
        self._configure(config)

    def start(self, lifespan: bool) -> None:
        self.key_ring.start()
        self._background.run(self._read_keys())
        self.directory.start()
        self.alerts.start(lambda: self.key_ring.keys.values())

    def reload(self, config: Config) -> Sequence[Closer]:
        closers: Sequence[Closer] = ()
        store = self._stores.store
        if store is not self.store:
            closers = (self.directory.close, self.audit.close, self.key_ring.close)
            self.store = store
            self.key_ring = self._key_ring()
            self.directory = Directory(store)
            self.audit = AuditLog(store)
            self.alerts.store = store
            self.directory.start()
            self.budgets = Budgets(store, self._redis, prefix=prefix_of(config))
            self.key_ring.start()
        self._configure(config)
        return closers

    async def aclose(self) -> None:
        await self.key_ring.close()
        await self.directory.close()
        await self.audit.close()
        await self.alerts.close()

    def access_changed(self, why: str) -> None:
        """Logs the access mode when it moved (access_mode.ModeLog decides): at the first read of the keys,
        when a key is created or the last live one revoked (here or by another gateway sharing the store),
        and on a reload."""
        runtime = self._runtime()
        self.mode_log.note(runtime.keys.mode(), why, store_address(runtime.config.store.url), self.listening)

    def _configure(self, config: Config) -> None:
        self.directory.configure(config)
        self.alerts.configure(config)

    def _key_ring(self) -> KeyRing:
        ring = KeyRing(self.store)  # the virtual keys, kept in the store
        ring.on_change = functools.partial(self.access_changed, KEYS_CHANGED)
        return ring

    async def _read_keys(self) -> None:
        """The first read of the virtual keys, at start rather than a poll later: the access mode is then
        known (and logged) before the first request."""
        await self.key_ring.try_refresh()
