"""`GET /metrics` in the Prometheus text format."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from babelgate.answer import Answer
from babelgate.exchange import Exchange
from babelgate.frontends.route import Frontend, Operation, Route
from babelgate.observability.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


async def metrics(runtime: Runtime, exchange: Exchange) -> Answer:
    runtime.metrics.ledger_depth.set(runtime.ledger.depth)
    for reason, rows in runtime.ledger.dropped.items():
        runtime.metrics.ledger_dropped.labels(reason).set(rows)
    return Answer(runtime.metrics.render(), None, content_type=(b"content-type", CONTENT_TYPE))


FRONTEND: Final[Frontend] = Frontend(
    routes={
        "/metrics": Route(
            "GET", metrics, "metrics", operations=(Operation("GET", answers=CONTENT_TYPE.decode().partition(";")[0]),)
        )
    }
)
