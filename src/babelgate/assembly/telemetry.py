"""The telemetry part: metrics (summed over every worker of `serve --workers N`), traces when an OTLP endpoint is
configured, and the paced garbage collector `babelgate serve` sets (collector.py). A reload keeps them: they
are set up once, from the first config."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence

from babelgate.assembly.part import Closer
from babelgate.collector import PacedCollector
from babelgate.config.models import Config
from babelgate.observability import worker_metrics
from babelgate.observability.metrics import Metrics
from babelgate.observability.tracing import Tracing, endpoint_from
from babelgate.providers import TELEMETRY_NAMES


class TelemetryPart:
    def __init__(self, config: Config, operations: Mapping[str, str]) -> None:
        """`operations`: gen_ai.operation.name by route name."""
        self.metrics = Metrics(TELEMETRY_NAMES, operations)
        if os.environ.get(worker_metrics.ENV):  # `serve --workers N`: /metrics sums every worker
            self.metrics.share_with_workers(os.environ[worker_metrics.ENV])
        telemetry = config.telemetry
        endpoint = endpoint_from(telemetry.otlp_endpoint, os.environ)
        self.tracing = (  # None costs nothing
            Tracing(
                endpoint,
                service_name=telemetry.service_name,
                sample_ratio=telemetry.sample_ratio,
                export_interval=telemetry.export_interval,
                telemetry_names=TELEMETRY_NAMES,
                operations=operations,
            )
            if endpoint
            else None
        )
        # Set by `babelgate serve`; a host app that mounts the gateway keeps its own collector settings.
        self.collector: PacedCollector | None = None

    def start(self, lifespan: bool) -> None:
        if not lifespan:  # workers and the collector are `babelgate serve`'s, which runs the lifespan
            return
        if self.metrics.workers is not None:
            self.metrics.workers.start()
        if self.collector is not None:
            self.collector.start()

    def reload(self, config: Config) -> Sequence[Closer]:
        return ()

    async def aclose(self) -> None:
        if self.metrics.workers is not None:
            await self.metrics.workers.close()
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.close)  # exports the spans left
        if self.collector is not None:
            self.collector.stop()
