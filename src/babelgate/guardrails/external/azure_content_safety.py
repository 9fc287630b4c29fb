"""The `azure_content_safety` checker: Azure AI Content Safety's text analysis (`POST
{base_url}/contentsafety/text:analyze?api-version=2024-09-01`, the key in `Ocp-Apim-Subscription-Key`), four
severity levels (0, 2, 4, 6). A text blocks when any category's severity reaches the guardrail's `threshold` (2,
medium, by default). The API reads at most 10,000 characters a request: a longer text is asked in parts, all at
once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from babelgate.guardrails.external.posting import JsonPoster
from babelgate.guardrails.guardrail import Stage, Verdict

if TYPE_CHECKING:
    from babelgate.config.content import GuardrailConfig

API_VERSION: Final = "2024-09-01"
LIMIT: Final = 10_000  # characters one analysis reads


class ContentSafetyChecker:
    def __init__(self, config: GuardrailConfig) -> None:
        assert config.base_url is not None and config.api_key is not None
        self.url = f"{config.base_url}/contentsafety/text:analyze?api-version={API_VERSION}"
        self.threshold = config.threshold
        self._poster = JsonPoster({**config.headers, "Ocp-Apim-Subscription-Key": config.api_key})

    async def check(self, texts: Sequence[str], stage: Stage, model: str, key_id: str | None) -> Verdict:
        parts = [part for text in texts for part in split(text)]
        answers = await asyncio.gather(*(self._analyze(part) for part in parts))
        over = sorted({f"{category} {severity}" for found in answers for category, severity in found})
        if not over:
            return Verdict("allow")
        return Verdict("block", reason="severity: " + ", ".join(over))

    async def _analyze(self, text: str) -> list[tuple[str, int]]:
        """The categories whose severity reaches the threshold."""
        answer: Any = await self._poster.post(self.url, {"text": text, "outputType": "FourSeverityLevels"})
        analysis = answer.get("categoriesAnalysis") if isinstance(answer, dict) else None
        if not isinstance(analysis, list):
            raise ValueError("the analysis has no categoriesAnalysis")
        found = []
        for entry in analysis:
            severity = entry.get("severity") if isinstance(entry, dict) else None
            if not isinstance(severity, int):
                raise ValueError("a category without its severity")
            if severity >= self.threshold:
                found.append((str(entry.get("category")), severity))
        return found

    async def aclose(self) -> None:
        await self._poster.aclose()


def split(text: str) -> list[str]:
    """`text` in parts the API reads whole (an empty text is one empty part: the API answers it too)."""
    if len(text) <= LIMIT:
        return [text]
    return [text[at : at + LIMIT] for at in range(0, len(text), LIMIT)]
