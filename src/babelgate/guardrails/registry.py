"""The configured guardrails, built once per configuration, and which of them a request passes: the server's
(`server.guardrails`), then its model's, its team's and its key's, in that order and each once. Each list can only
add: a key cannot take off a guardrail its team, its model or the server imposes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from babelgate.guardrails.external import Services, external_checker
from babelgate.guardrails.guardrail import Guardrail
from babelgate.guardrails.patterns import RegexDetector, WordsDetector
from babelgate.guardrails.pii import scanner
from babelgate.guardrails.scanner import Scanner

if TYPE_CHECKING:
    from babelgate.config.content import GuardrailConfig
    from babelgate.config.models import Config
    from babelgate.governance.virtual_keys import VirtualKey

NONE: tuple[Guardrail, ...] = ()


def build(config: GuardrailConfig, services: Services) -> Guardrail:
    """One guardrail from its configuration: its finder (local kinds) or its checker (external ones)."""
    finder: Scanner | None = None
    external = None
    if config.kind == "pii":
        finder = scanner(config.entities)
    elif config.kind == "regex":
        finder = Scanner([RegexDetector(config.name, config.patterns)])
    elif config.kind == "words":
        finder = Scanner([WordsDetector(config.name, config.words)])
    else:
        external = external_checker(config, services)
    return Guardrail(
        name=config.name,
        stages=frozenset(config.stage),
        action=config.action,
        finder=finder,
        external=external,
        mask_style=config.mask_style,
        timeout=config.timeout,
        fail_open=config.fail == "open",
        parallel=config.parallel,
    )


class Guardrails:
    """The guardrails of one configuration, and the set each (key, model) passes, found once and kept."""

    def __init__(
        self, config: Config, services: Services, teams: Callable[[], Mapping[str, tuple[str, ...]]] | None = None
    ) -> None:
        self.by_name = {guardrail.name: build(guardrail, services) for guardrail in config.guardrails}
        self._server = tuple(self.by_name[name] for name in config.server.guardrails)
        self._models = {name: model.guardrails for name, model in config.models.items() if model.guardrails}
        # Each team's guardrails: the directory's (the config file's teams and those the admin API made), which
        # hands a new mapping whenever a team changes; without a directory, the config file's.
        configured = {name: team.guardrails for name, team in config.teams.items() if team.guardrails}
        self._teams = teams or (lambda: configured)
        self._teams_seen: Mapping[str, tuple[str, ...]] | None = None
        self._aliases = config.aliases
        # Whether any request can pass a guardrail at all: when none can, requests pay one attribute read.
        self.active = bool(self.by_name)
        # Whether any input check may run beside the upstream call (`parallel`): most configurations have none.
        self.parallel = any(guardrail.parallel for guardrail in self.by_name.values())
        self._found: dict[tuple[int, str], tuple[VirtualKey | None, tuple[Guardrail, ...]]] = {}

    @classmethod
    def none(cls) -> Guardrails:
        """No guardrails (a runtime made without a gateway: tests, tools)."""
        from babelgate.config.models import Config

        return cls(Config(), Services())

    def applicable(self, key: VirtualKey | None, model: str) -> tuple[Guardrail, ...]:
        """The guardrails a request of `key` to the public model `model` passes, in order, each once."""
        teams = self._teams()
        if teams is not self._teams_seen:
            self._found.clear()  # a team's guardrails changed: every key of it may pass others now
            self._teams_seen = teams
        found = self._found.get((id(key), model))
        if found is not None and found[0] is key:
            return found[1]
        names: dict[str, None] = dict.fromkeys(guardrail.name for guardrail in self._server)
        names.update(dict.fromkeys(self._models.get(self._aliases.get(model, model), ())))
        if key is not None:
            if key.team is not None:
                names.update(dict.fromkeys(teams.get(key.team, ())))
            names.update(dict.fromkeys(key.guardrails))
        # A name the configuration no longer has (a key made before a reload removed it) guards nothing more.
        guards = tuple(self.by_name[name] for name in names if name in self.by_name) or NONE
        if len(self._found) >= 10_000:
            self._found.clear()
        self._found[id(key), model] = (key, guards)
        return guards

    def adding(self, guards: tuple[Guardrail, ...], names: tuple[str, ...]) -> tuple[Guardrail, ...]:
        """`guards` and the configured guardrails a request names itself, each once; an unknown name adds nothing."""
        more = [self.by_name[name] for name in names if name in self.by_name and self.by_name[name] not in guards]
        return (*guards, *more) if more else guards
