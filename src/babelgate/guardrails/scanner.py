"""Several detectors as one: their findings in one sorted list, overlaps resolved."""

from __future__ import annotations

from collections.abc import Iterable

from babelgate.guardrails.findings import Detector, Finding


class Scanner:
    def __init__(self, detectors: Iterable[Detector]) -> None:
        self.detectors = tuple(detectors)
        self.longest = max((detector.longest for detector in self.detectors), default=1)

    def pending(self, text: str) -> int:
        return min((detector.pending(text) for detector in self.detectors), default=len(text))

    def clean_json(self, raw: bytes) -> bool:
        """Whether no string of the JSON document `raw` can hold a finding of any detector, seen in its bytes
        (False: parse it and look at each text)."""
        return all(detector.clean_json(raw) for detector in self.detectors)

    def find(self, text: str) -> list[Finding]:
        """Every finding, sorted by start; of two that overlap, the earlier one (at the same start, the longer)."""
        found: list[Finding] = []
        for detector in self.detectors:
            found += detector.find(text)
        if len(found) < 2:
            return found
        found.sort(key=lambda finding: (finding.start, -finding.end))
        kept = [found[0]]
        for finding in found[1:]:
            if finding.start >= kept[-1].end:
                kept.append(finding)
        return kept
