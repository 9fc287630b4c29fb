"""The conversation log part (conversation/): when `logging.content` is on, the queue of logged requests and its
task, and its sinks: the store's log (`babelgate_conversations`) and the configured exporters. Off, the runtime
holds no log at all. A reload that changes the log's settings, its exporters or the store starts a new log; the
old one hands over and writes (and exports) what it holds before its store is closed."""

from __future__ import annotations

from collections.abc import Sequence

from babelgate.assembly.part import Closer
from babelgate.assembly.store import StorePart
from babelgate.config.models import Config
from babelgate.conversation.exporters.build import Exporters
from babelgate.conversation.log import ConversationLog
from babelgate.conversation.record import ExchangeSink
from babelgate.conversation.store_log import StoreLog
from babelgate.observability.logging import Scrubber, secrets_of
from babelgate.observability.metrics import Metrics
from babelgate.store import ResponseStore


class ConversationPart:
    def __init__(self, config: Config, store: StorePart, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics
        self._settings = (config.logging.content, config.exporters)
        self._writes_to = store.store
        self.log = _log(config, store.store, metrics)

    def start(self, lifespan: bool) -> None:
        if self.log is not None:
            self.log.start()
            for sink in self.log.sinks:
                if isinstance(sink, StoreLog):
                    sink.start()

    def reload(self, config: Config) -> Sequence[Closer]:
        settings = (config.logging.content, config.exporters)
        if settings == self._settings and self._store.store is self._writes_to:
            return ()
        old = self.log
        self._settings, self._writes_to = settings, self._store.store
        self.log = _log(config, self._writes_to, self._metrics)
        if self.log is not None:
            self.start(False)
        return (old.close,) if old is not None else ()

    async def aclose(self) -> None:
        if self.log is not None:
            await self.log.close()  # before the store closes (its part stops later): the last rows go in


def _log(config: Config, store: ResponseStore, metrics: Metrics) -> ConversationLog | None:
    settings = config.logging.content
    if not settings.enabled:
        return None
    return ConversationLog(settings, sinks_of(config, store, metrics), count_drop=metrics.conversation_dropped.inc)


def sinks_of(config: Config, store: ResponseStore, metrics: Metrics) -> list[ExchangeSink]:
    """Where the log's exchanges go: the store's log, then every exporter (content leaves the gateway only for the
    callers the log covers)."""
    settings = config.logging.content
    sinks: list[ExchangeSink] = [StoreLog(store, retention=settings.retention, scrub=Scrubber(secrets_of(config)))]
    if config.exporters:
        sinks.append(Exporters(config.exporters, metrics.exported, config.telemetry.service_name))
    return sinks
