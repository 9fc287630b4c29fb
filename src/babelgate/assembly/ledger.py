"""The ledger part: one row per request, written to the store in batches; rows the store could not take at
shutdown wait in the spool (governance/ledger_spool.py) and go in at the next start. A reload that moves the
store starts a ledger for the new one; the old one writes what it holds before its store is closed."""

from __future__ import annotations

from collections.abc import Sequence

from babelgate.assembly.part import Closer
from babelgate.assembly.store import StorePart
from babelgate.config.models import Config
from babelgate.governance.ledger import Ledger
from babelgate.governance.ledger_spool import spool_for
from babelgate.observability.logging import Scrubber, secrets_of
from babelgate.store import ResponseStore


class LedgerPart:
    def __init__(self, config: Config, store: StorePart) -> None:
        self._store = store
        self._writes_to = store.store
        self.ledger = _ledger(config, store.store)

    def start(self, lifespan: bool) -> None:
        self.ledger.start()  # rows spooled at the last shutdown go to the store now, not at the first request

    def reload(self, config: Config) -> Sequence[Closer]:
        if self._store.store is self._writes_to:
            return ()
        old = self.ledger
        self._writes_to = self._store.store
        self.ledger = _ledger(config, self._writes_to)
        return (old.close,)

    async def aclose(self) -> None:
        await self.ledger.close()  # before the store closes (its part stops later): the last rows go in


def _ledger(config: Config, store: ResponseStore) -> Ledger:
    settings = config.ledger
    return Ledger(
        store,
        limit=settings.queue_limit,
        retention=settings.retention,
        scrub=Scrubber(secrets_of(config)),
        spool=spool_for(config.store.url, settings.spool_dir),
    )
