"""The `bedrock` checker: a guardrail kept in Amazon Bedrock, asked with ApplyGuardrail (`POST
/guardrail/{id}/version/{version}/apply` on bedrock-runtime) through the configured bedrock provider the guardrail
names, signed with its region and credentials as its model calls are (its `GuardrailService` part,
providers/base.py). All texts go in one request, one content block each; `GUARDRAIL_INTERVENED` blocks, and the
policies that intervened are the reason."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from babelgate.guardrails.guardrail import Stage, Verdict
from babelgate.providers.base import guardrail_service_of

if TYPE_CHECKING:
    from babelgate.config.content import GuardrailConfig
    from babelgate.guardrails.external import Services

_SOURCES = {"input": "INPUT", "output": "OUTPUT"}


class BedrockChecker:
    def __init__(self, config: GuardrailConfig, services: Services) -> None:
        assert config.guardrail_id is not None and config.provider is not None
        self.identifier = config.guardrail_id
        self.version = config.guardrail_version
        self.provider = config.provider
        self._services = services

    async def check(self, texts: Sequence[str], stage: Stage, model: str, key_id: str | None) -> Verdict:
        service = guardrail_service_of(self._services.provider(self.provider))
        body = {"source": _SOURCES[stage], "content": [{"text": {"text": text}} for text in texts]}
        answer = await service.apply_guardrail(self.identifier, self.version, body)
        action = answer.get("action")
        if action == "NONE":
            return Verdict("allow")
        if action != "GUARDRAIL_INTERVENED":
            raise ValueError(f"ApplyGuardrail answered an unknown action {action!r}")
        return Verdict("block", reason="intervened: " + (", ".join(_policies(answer)) or "unspecified"))


def _policies(answer: dict[str, Any]) -> list[str]:
    """What intervened, by the names the assessments give (a topic's, a filter's type, a PII entity's type), never
    the matched text."""
    found: set[str] = set()
    for assessment in answer.get("assessments") or ():
        if not isinstance(assessment, dict):
            continue
        for policy, entries in (
            ("topicPolicy", "topics"),
            ("contentPolicy", "filters"),
            ("wordPolicy", "managedWordLists"),
            ("sensitiveInformationPolicy", "piiEntities"),
        ):
            for item in (assessment.get(policy) or {}).get(entries) or ():
                if isinstance(item, dict) and item.get("action") not in (None, "NONE"):
                    found.add(str(item.get("name") or item.get("type") or policy))
        if (assessment.get("wordPolicy") or {}).get("customWords"):
            found.add("custom words")
        if (assessment.get("contextualGroundingPolicy") or {}).get("filters"):
            found.add("contextual grounding")
    return sorted(found)
