"""External checkers: services a guardrail asks over the network (guardrails/guardrail.py, "External"). Each
answers a `Verdict` for a list of texts within the guardrail's timeout; a failure is raised, and the guardrail's
`fail` decides what it means (guardrails/check.py).

| kind | module | asks |
|---|---|---|
| `http` | http.py | any service speaking the gateway's JSON contract |
| `moderation` | moderation.py | the provider serving a public model, at its `/moderations` |
| `bedrock` | bedrock.py | a Bedrock guardrail (ApplyGuardrail), through a configured bedrock provider |
| `azure_content_safety` | azure_content_safety.py | Azure AI Content Safety's text analysis |
| `presidio` | presidio.py | Microsoft Presidio's analyzer (and anonymizer) |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babelgate.config.content import GuardrailConfig
    from babelgate.guardrails.guardrail import External
    from babelgate.providers.base import Provider
    from babelgate.routing.registry import Deployment


def _none(name: str) -> object:
    raise LookupError(f"no upstreams in this gateway to find {name!r}")


class Services:
    """What external checkers share within one gateway: the HTTP sessions they open, closed with the gateway, and
    the gateway's upstreams as they are now (a reload changes them): `deployment` finds the deployment serving a
    public model first, `provider` a configured provider by name."""

    def __init__(
        self,
        deployment: Callable[[str], Deployment] | None = None,
        provider: Callable[[str], Provider] | None = None,
    ) -> None:
        self.closers: list[External] = []
        self.deployment: Callable[[str], Deployment] = deployment or _none  # type: ignore[assignment]
        self.provider: Callable[[str], Provider] = provider or _none  # type: ignore[assignment]

    async def aclose(self) -> None:
        for checker in self.closers:
            close = getattr(checker, "aclose", None)
            if close is not None:
                await close()
        self.closers.clear()


def external_checker(config: GuardrailConfig, services: Services) -> External:
    """The checker of an external guardrail's kind (each module loads only when its kind is configured)."""
    checker: External
    if config.kind == "http":
        from babelgate.guardrails.external.http import HttpChecker

        checker = HttpChecker(config)
    elif config.kind == "moderation":
        from babelgate.guardrails.external.moderation import ModerationChecker

        checker = ModerationChecker(config, services)
    elif config.kind == "bedrock":
        from babelgate.guardrails.external.bedrock import BedrockChecker

        checker = BedrockChecker(config, services)
    elif config.kind == "azure_content_safety":
        from babelgate.guardrails.external.azure_content_safety import ContentSafetyChecker

        checker = ContentSafetyChecker(config)
    elif config.kind == "presidio":
        from babelgate.guardrails.external.presidio import PresidioChecker

        checker = PresidioChecker(config)
    else:
        raise ValueError(f"guardrail {config.name!r}: the {config.kind} checker is not available in this build")
    services.closers.append(checker)
    return checker
