"""The `presidio` checker: Microsoft Presidio's analyzer (`POST {analyzer_url}/analyze` with `{"text",
"language": "en"}`) finds PII in each text; with `action: mask` its anonymizer (`POST {anonymizer_url}/anonymize`
with `{"text", "analyzer_results"}`) writes the masked text, or, without an anonymizer_url, the gateway masks the
analyzer's places itself in the guardrail's `mask_style` (guardrails/masking.py: a reversible mask is put back in
the answer). Texts are asked at once, each its own request."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from babelgate.guardrails.external.posting import JsonPoster
from babelgate.guardrails.findings import Finding
from babelgate.guardrails.guardrail import Stage, Verdict

if TYPE_CHECKING:
    from babelgate.config.content import GuardrailConfig


class PresidioChecker:
    def __init__(self, config: GuardrailConfig) -> None:
        assert config.analyzer_url is not None
        self.analyze_url = config.analyzer_url + "/analyze"
        self.anonymize_url = config.anonymizer_url + "/anonymize" if config.anonymizer_url else None
        self.masks = config.action == "mask"
        self._poster = JsonPoster(config.headers)

    async def check(self, texts: Sequence[str], stage: Stage, model: str, key_id: str | None) -> Verdict:
        results = await asyncio.gather(*(self._analyze(text) for text in texts))
        if not any(results):
            return Verdict("allow")
        entities = ", ".join(sorted({str(result["entity_type"]) for found in results for result in found}))
        if not self.masks:
            return Verdict("block", reason="found: " + entities)
        if self.anonymize_url is None:
            return Verdict(
                "mask", findings=[_findings(found, len(text)) for found, text in zip(results, texts, strict=True)]
            )
        masked = await asyncio.gather(
            *(
                self._anonymize(text, found) if found else _same(text)
                for text, found in zip(texts, results, strict=True)
            )
        )
        return Verdict("mask", texts=masked, reason="found: " + entities)

    async def _analyze(self, text: str) -> list[dict[str, Any]]:
        answer: Any = await self._poster.post(self.analyze_url, {"text": text, "language": "en"})
        if not isinstance(answer, list) or not all(_result(entry) for entry in answer):
            raise ValueError("the analyzer's answer is not a list of results")
        return answer

    async def _anonymize(self, text: str, found: list[dict[str, Any]]) -> str:
        answer: Any = await self._poster.post(self.anonymize_url or "", {"text": text, "analyzer_results": found})
        masked = answer.get("text") if isinstance(answer, dict) else None
        if not isinstance(masked, str):
            raise ValueError("the anonymizer's answer has no text")
        return masked

    async def aclose(self) -> None:
        await self._poster.aclose()


async def _same(text: str) -> str:
    return text


def _result(entry: Any) -> bool:
    """A RecognizerResult: its entity type and its offsets."""
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("entity_type"), str)
        and isinstance(entry.get("start"), int)
        and isinstance(entry.get("end"), int)
    )


def _findings(results: list[dict[str, Any]], length: int) -> list[Finding]:
    """The analyzer's places, sorted and not overlapping (of two that overlap, the one that starts first, the
    longer at the same start, is kept), as masking.py takes them."""
    ordered = sorted(results, key=lambda result: (result["start"], -result["end"]))
    findings: list[Finding] = []
    for result in ordered:
        start, end = max(result["start"], 0), min(result["end"], length)
        if end <= start or (findings and start < findings[-1].end):
            continue
        findings.append(Finding(result["entity_type"].lower(), start, end))
    return findings
