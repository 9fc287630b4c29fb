"""What one upstream call reports besides its answer (`CallNotes`): its own module so that it is compiled
(buildtools/babelgate_build.py's HOT), where the provider base it belongs with, whose classes plain Python providers
inherit from, is not: every request makes one, and the request path reads and writes its fields as it goes."""

from __future__ import annotations

from dataclasses import dataclass, field

from babelgate.model_facts import Price
from babelgate.schema.chat import Usage


@dataclass(slots=True)
class CallNotes:
    """What one upstream call reports besides its answer, filled in by the provider as it goes.

    `adjusted` lists parameters the gateway renamed, dropped or clamped (sent to the client in
    `x-babelgate-adjusted-params`); usage and finish reason feed accounting; `completed` says a
    stream reached its proper end.
    """

    adjusted: list[str] = field(default_factory=list)
    # Where each tool the provider is given stood in the client's chat request, set only when the
    # call path dropped some (hosted_tools.py): translators name `tools[i]` by the client's numbering.
    tool_positions: tuple[int, ...] | None = None
    usage: Usage | None = None
    finish_reason: str | None = None
    completed: bool = False
    # What the deployment's tokens cost (set by the call path): with `usage`, the request's cost.
    price: Price | None = None
    # The cost worked out for the usage it was worked out for: asked for by the answer's header, each
    # budget and the ledger row.
    _priced: tuple[Usage, float] | None = field(default=None, repr=False, compare=False)

    @property
    def cost(self) -> float | None:
        usage = self.usage
        if self.price is None or usage is None:
            return None
        priced = self._priced
        if priced is not None and priced[0] is usage:
            return priced[1]
        cost = self.price.cost(usage)
        self._priced = (usage, cost)
        return cost
