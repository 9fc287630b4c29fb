"""`GET /health`: status, version, uptime and each enabled provider's state (no secrets)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from babelgate.exchange import Exchange

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


async def health(runtime: Runtime, exchange: Exchange) -> None:
    providers = [
        {"name": name, "type": provider.type,
         "state": "ok" if runtime.catalog.reachable(name) else "unreachable"}
        for name, provider in runtime.providers.items()
    ]
    await exchange.respond_json(200, {
        "status": "ok",
        "version": runtime.version,
        "uptime_s": round(time.monotonic() - runtime.started_monotonic, 3),
        "providers": providers,
    })
