"""The routing state part: what routing knows that outlives a reload. Deployments' health (a dead upstream
stays skipped under the new config) and the sessions pinned to deployments (routing.affinity); with Redis,
both, and the rests of the gateway's upstream keys, are shared with the other instances (routing/shared.py)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from babelgate.assembly.part import Closer
from babelgate.config.models import Config
from babelgate.governance.alerts import Alerts
from babelgate.observability.metrics import Metrics
from babelgate.providers.key_pool import KeyPools
from babelgate.redis_link import RedisLink
from babelgate.routing.health import Health
from babelgate.routing.pins import Pins
from babelgate.routing.shared import RedisShared

log = logging.getLogger("babelgate")


class RoutingStatePart:
    def __init__(
        self, config: Config, redis: RedisLink | None, key_pools: KeyPools, alerts: Alerts, metrics: Metrics
    ) -> None:
        self._alerts, self._metrics = alerts, metrics
        self.health = Health()
        self.health.on_circuit = self._circuit_changed
        self.pins = Pins()
        self.shared: RedisShared | None = None
        if config.redis is not None and redis is not None:
            self.shared = RedisShared(redis, self.health, prefix=config.redis.prefix, pins=self.pins, pools=key_pools)

    def start(self, lifespan: bool) -> None:
        if self.shared is not None:
            self.shared.start()

    def reload(self, config: Config) -> Sequence[Closer]:
        return ()

    async def aclose(self) -> None:
        if self.shared is not None:
            await self.shared.close()

    def _circuit_changed(self, deployment: str, state: str) -> None:
        self._alerts.circuit_changed(deployment, state)
        self._metrics.circuit(deployment, state == "open")
        if state == "open":
            log.warning("deployment %s failed repeatedly: skipped until its cool-down ends", deployment)
        else:
            log.info("deployment %s answers again", deployment)
