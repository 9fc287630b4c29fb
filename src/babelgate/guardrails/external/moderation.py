"""The `moderation` checker: an OpenAI-style `/moderations` endpoint, asked through the provider that serves the
guardrail's public `model` first, with that provider's base URL, keys, proxy and timeouts (its `Moderation` part,
providers/base.py). All texts go in one request (`input` as a list); any result `flagged` blocks, the flagged
categories are the reason."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from babelgate.guardrails.guardrail import Stage, Verdict
from babelgate.providers.base import moderation_of

if TYPE_CHECKING:
    from babelgate.config.content import GuardrailConfig
    from babelgate.guardrails.external import Services


class ModerationChecker:
    def __init__(self, config: GuardrailConfig, services: Services) -> None:
        assert config.model is not None
        self.model = config.model
        self._services = services

    async def check(self, texts: Sequence[str], stage: Stage, model: str, key_id: str | None) -> Verdict:
        deployment = self._services.deployment(self.model)
        answer = await moderation_of(deployment.provider).moderate({"input": list(texts)}, deployment.model)
        results = answer.get("results")
        if not isinstance(results, list) or len(results) != len(texts) or not all(isinstance(r, dict) for r in results):
            raise ValueError("the moderation answer has no result for each text")
        flagged = [result for result in results if _flag(result)]
        if not flagged:
            return Verdict("allow")
        categories = sorted({name for result in flagged for name in _categories(result)})
        return Verdict("block", reason="flagged: " + (", ".join(categories) or "unspecified"))


def _flag(result: dict[str, Any]) -> bool:
    flagged = result.get("flagged")
    if not isinstance(flagged, bool):
        raise ValueError("a moderation result without its boolean `flagged`")
    return flagged


def _categories(result: dict[str, Any]) -> list[str]:
    categories = result.get("categories")
    if not isinstance(categories, dict):
        return []
    return [str(name) for name, flagged in categories.items() if flagged is True]
