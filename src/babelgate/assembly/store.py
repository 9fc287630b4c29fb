"""The store part: the response store (Responses state, virtual keys, users and teams, the ledger's rows) behind
its write-behind cache, and the source of the key that seals reasoning state clients carry, which the store
keeps unless the config names one. A reload that names another store opens it; the old one is closed once
every part uses the new one."""

from __future__ import annotations

from collections.abc import Sequence

from babelgate.assembly.part import Closer
from babelgate.config.models import Config
from babelgate.frontends.responses.wire import response_created_at
from babelgate.sealing import SealerSource
from babelgate.store import open_cached_store
from babelgate.store.timed import TimedStore

REASONING_PURPOSE = b"babelgate reasoning v1"  # bound into every sealed reasoning token
REASONING_SECRET = "reasoning_key"  # the store's name for the generated key


class StorePart:
    def __init__(self, config: Config) -> None:
        self.settings = config.store  # reopened on reload when it changes
        self.store = _open(config)
        self.sealer = self._sealer(config)

    def start(self, lifespan: bool) -> None:
        pass

    def reload(self, config: Config) -> Sequence[Closer]:
        closers: Sequence[Closer] = ()
        if config.store != self.settings:
            closers = (self.store.close,)
            self.settings, self.store = config.store, _open(config)
        if not self.sealer.same_source(self.store, config.responses.reasoning_key):
            self.sealer = self._sealer(config)
        return closers

    async def aclose(self) -> None:
        await self.store.close()

    def _sealer(self, config: Config) -> SealerSource:
        return SealerSource(
            self.store, config.responses.reasoning_key, purpose=REASONING_PURPOSE, secret_name=REASONING_SECRET
        )


def _open(config: Config) -> TimedStore:
    return open_cached_store(config.store.url, made_at=response_created_at, timeout=config.store.timeout)
