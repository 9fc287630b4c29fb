"""The Redis part: the one Redis pool and breaker every use of shared state goes through (redis_link.py), when
`redis:` is configured, its state in /metrics (`babelgate_redis_up`). A reload keeps the link it has."""

from __future__ import annotations

from collections.abc import Sequence

from babelgate.assembly.part import Closer
from babelgate.config.models import Config
from babelgate.observability.metrics import Metrics
from babelgate.redis_link import RedisLink

DEFAULT_PREFIX = "babelgate:"  # of every Redis key, when no `redis:` names one


class RedisPart:
    def __init__(self, config: Config, metrics: Metrics) -> None:
        self.link: RedisLink | None = None
        if config.redis is not None:
            settings = config.redis
            self.link = RedisLink(settings.url, max_connections=settings.max_connections, timeout=settings.timeout)
            metrics.redis_up.set(1)
            self.link.on_change = metrics.redis_up.set

    def start(self, lifespan: bool) -> None:
        pass

    def reload(self, config: Config) -> Sequence[Closer]:
        return ()

    async def aclose(self) -> None:
        if self.link is not None:
            await self.link.close()


def prefix_of(config: Config) -> str:
    return config.redis.prefix if config.redis is not None else DEFAULT_PREFIX
