"""The conversation log part (conversation/): when `logging.content` is on, the queue of logged requests and its
task, and the store's log (`babelgate_conversations`) among its sinks. Off, the runtime holds no log at all. A
reload that changes the log's settings or moves the store starts a new log; the old one hands over and writes what
it holds before its store is closed."""

from __future__ import annotations

from collections.abc import Sequence

from babelgate.assembly.part import Closer
from babelgate.assembly.store import StorePart
from babelgate.config.models import Config, ContentLogConfig
from babelgate.conversation.log import ConversationLog
from babelgate.conversation.record import ExchangeSink
from babelgate.conversation.store_log import StoreLog
from babelgate.observability.logging import Scrubber, secrets_of
from babelgate.store import ResponseStore


class ConversationPart:
    def __init__(self, config: Config, store: StorePart) -> None:
        self._store = store
        self._settings = config.logging.content
        self._writes_to = store.store
        self.log = _log(config, store.store)

    def start(self, lifespan: bool) -> None:
        if self.log is not None:
            self.log.start()
            for sink in self.log.sinks:
                if isinstance(sink, StoreLog):
                    sink.start()

    def reload(self, config: Config) -> Sequence[Closer]:
        settings: ContentLogConfig = config.logging.content
        if settings == self._settings and self._store.store is self._writes_to:
            return ()
        old = self.log
        self._settings, self._writes_to = settings, self._store.store
        self.log = _log(config, self._writes_to)
        if self.log is not None:
            self.start(False)
        return (old.close,) if old is not None else ()

    async def aclose(self) -> None:
        if self.log is not None:
            await self.log.close()  # before the store closes (its part stops later): the last rows go in


def _log(config: Config, store: ResponseStore) -> ConversationLog | None:
    settings = config.logging.content
    if not settings.enabled:
        return None
    return ConversationLog(settings, sinks_of(config, store))


def sinks_of(config: Config, store: ResponseStore) -> list[ExchangeSink]:
    """Where the log's exchanges go: the store's log first (the exporters' sinks join it here)."""
    settings = config.logging.content
    return [StoreLog(store, retention=settings.retention, scrub=Scrubber(secrets_of(config)))]
