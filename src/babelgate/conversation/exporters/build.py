"""The configured exporters of a gateway, as the conversation log's sinks (conversation/record.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from babelgate.conversation.exporters.delivery import Count, Delivery, Send
from babelgate.conversation.exporters.senders import OtlpSender, Poster, WebhookSender
from babelgate.conversation.record import Exchange

if TYPE_CHECKING:
    from babelgate.config.content import ExporterConfig


class Exporters:
    """Every exporter's delivery, and the one HTTP session they share; an ExchangeSink for all of them."""

    def __init__(self, configs: Sequence[ExporterConfig], count: Count, service: str = "babelgate") -> None:
        self.poster = Poster()
        self.deliveries = [
            Delivery(
                config.label,
                _sender(config, self.poster, service),
                count,
                batch=config.batch,
                queue_limit=config.queue_limit,
                retries=config.retries,
            )
            for config in configs
        ]

    def take(self, exchanges: list[Exchange]) -> None:
        for delivery in self.deliveries:
            delivery.take(exchanges)

    async def aclose(self) -> None:
        for delivery in self.deliveries:
            await delivery.aclose()
        await self.poster.aclose()


def _sender(config: ExporterConfig, poster: Poster, service: str) -> Send:
    if config.type == "webhook":
        return WebhookSender(config, poster)
    return OtlpSender(config, poster, service)
