"""Upstream model listings, fetched in the background and cached, so `/v1/models` never waits long.

Listings are refreshed when older than the provider's `models_cache_ttl` (docs/decisions.md, "State that may lag":
default 10 minutes); a reader waits at most `max_wait` seconds for refreshes and otherwise answers from what
it has. A provider whose listing failed for a transport reason is reported `unreachable`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from babelgate.errors import GatewayError, UpstreamConnectionFailed, UpstreamTimeout
from babelgate.providers.base import Provider
from babelgate.schema.models import ModelInfo

log = logging.getLogger("babelgate.catalog")
_RETRY_FAILED_AFTER = 30.0


@dataclass(slots=True)
class _Entry:
    models: list[ModelInfo] = field(default_factory=list)
    fetched_at: float = float("-inf")
    reachable: bool = True
    failed: bool = False


class ModelCatalog:
    def __init__(self, providers: Mapping[str, Provider], ttls: Mapping[str, float], *, max_wait: float = 2.0) -> None:
        self._providers = {
            name: p
            for name, p in providers.items()
            if p.capabilities.list_models and getattr(p, "list_models_enabled", True)
        }
        self._ttls = ttls
        self._max_wait = max_wait
        self._entries: dict[str, _Entry] = {name: _Entry() for name in self._providers}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def _refresh_due(self) -> list[asyncio.Task[None]]:
        now = time.monotonic()
        tasks = []
        for name, entry in self._entries.items():
            ttl = _RETRY_FAILED_AFTER if entry.failed else self._ttls.get(name, 600.0)
            if now - entry.fetched_at < ttl:
                continue
            task = self._tasks.get(name)
            if task is None or task.done():
                task = asyncio.get_running_loop().create_task(self._fetch(name))
                self._tasks[name] = task
            tasks.append(task)
        return tasks

    def start(self) -> None:
        """Begin fetching every listing (at startup), without waiting."""
        self._refresh_due()

    async def listings(self) -> dict[str, list[ModelInfo]]:
        tasks = self._refresh_due()
        if tasks:
            await asyncio.wait(tasks, timeout=self._max_wait)
        return {name: entry.models for name, entry in self._entries.items()}

    def reachable(self, provider: str) -> bool:
        entry = self._entries.get(provider)
        return entry is None or entry.reachable

    async def _fetch(self, name: str) -> None:
        entry = self._entries[name]
        try:
            models = await self._providers[name].list_models()
        except (UpstreamConnectionFailed, UpstreamTimeout):
            entry.reachable, entry.failed = False, True
            log.info("provider %s is unreachable; its models are not listed", name)
        except GatewayError as exc:
            entry.reachable, entry.failed = True, True
            log.warning("listing the models of provider %s failed: %s", name, exc.code or exc.message_key)
        else:
            entry.models, entry.reachable, entry.failed = models, True, False
        entry.fetched_at = time.monotonic()

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
