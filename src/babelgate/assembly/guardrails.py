"""The guardrails part: the configured guardrails (guardrails/registry.py), built again on each reload, and the
HTTP sessions their external checkers hold, closed once the configuration that opened them is replaced."""

from __future__ import annotations

from collections.abc import Sequence

from babelgate.assembly.part import Closer
from babelgate.config.models import Config
from babelgate.guardrails.external import Services
from babelgate.guardrails.registry import Guardrails


class GuardrailsPart:
    def __init__(self, config: Config) -> None:
        self._services = Services()
        self.guardrails = Guardrails(config, self._services)

    def start(self, lifespan: bool) -> None:
        pass  # a checker opens its session on its first question

    def reload(self, config: Config) -> Sequence[Closer]:
        retired, self._services = self._services, Services()
        self.guardrails = Guardrails(config, self._services)
        return (retired.aclose,)

    async def aclose(self) -> None:
        await self._services.aclose()
