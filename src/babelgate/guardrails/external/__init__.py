"""External checkers: services a guardrail asks over the network (guardrails/guardrail.py, "External"). Each
answers a `Verdict` for a list of texts within the guardrail's timeout; a failure is raised, and the guardrail's
`fail` decides what it means (guardrails/check.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babelgate.config.models import GuardrailConfig
    from babelgate.guardrails.guardrail import External


class Services:
    """What external checkers share within one gateway: the HTTP sessions they open, closed with the gateway."""

    def __init__(self) -> None:
        self.closers: list[External] = []

    async def aclose(self) -> None:
        for checker in self.closers:
            close = getattr(checker, "aclose", None)
            if close is not None:
                await close()
        self.closers.clear()


def external_checker(config: GuardrailConfig, services: Services) -> External:
    """The checker of an external guardrail's kind."""
    if config.kind == "http":
        from babelgate.guardrails.external.http import HttpChecker

        checker: External = HttpChecker(config)
    else:
        raise ValueError(f"guardrail {config.name!r}: the {config.kind} checker is not available in this build")
    services.closers.append(checker)
    return checker
