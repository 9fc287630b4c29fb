"""The guardrails part: the configured guardrails (guardrails/registry.py), built again on each reload, and the
HTTP sessions their external checkers hold, closed once the configuration that opened them is replaced. Checkers
that ask a configured provider (moderation, bedrock) find it in the upstreams part as it is at their question."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from babelgate.assembly.part import Closer
from babelgate.assembly.upstreams import UpstreamsPart
from babelgate.config.models import Config
from babelgate.guardrails.external import Services
from babelgate.guardrails.registry import Guardrails


class GuardrailsPart:
    def __init__(
        self, config: Config, upstreams: UpstreamsPart, teams: Callable[[], Mapping[str, tuple[str, ...]]]
    ) -> None:
        self._upstreams = upstreams
        self._teams = teams  # each team's guardrails, as the directory has them now
        self._services = self._new_services()
        self.guardrails = Guardrails(config, self._services, teams)

    def start(self, lifespan: bool) -> None:
        pass  # a checker opens its session on its first question

    def reload(self, config: Config) -> Sequence[Closer]:
        retired, self._services = self._services, self._new_services()
        self.guardrails = Guardrails(config, self._services, self._teams)
        return (retired.aclose,)

    async def aclose(self) -> None:
        await self._services.aclose()

    def _new_services(self) -> Services:
        upstreams = self._upstreams
        return Services(
            deployment=lambda model: upstreams.registry.resolve(model),
            provider=lambda name: upstreams.providers[name],
        )
