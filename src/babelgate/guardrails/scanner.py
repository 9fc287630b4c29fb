"""Several detectors as one: their findings in one sorted list, overlaps resolved."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from babelgate.guardrails.findings import Detector, Finding


class Scanner:
    """`detectors` as one finder. Given a function instead (`later`), the detectors are made by it when the scanner
    is first used: the built-in ones need RE2 (2.6 MiB of the process), which a gateway whose `pii` guardrails
    have checked nothing yet has not loaded."""

    def __init__(
        self, detectors: Iterable[Detector] = (), *, later: Callable[[], Iterable[Detector]] | None = None
    ) -> None:
        self._later = later
        self._detectors: tuple[Detector, ...] | None = None
        self._longest = 1
        if later is None:
            self._keep(tuple(detectors))

    def _made(self) -> tuple[Detector, ...]:
        """The detectors, made now by `later` (each method reads `_detectors` itself first: no call once made)."""
        assert self._later is not None
        detectors = self._keep(tuple(self._later()))
        self._later = None
        return detectors

    def _keep(self, detectors: tuple[Detector, ...]) -> tuple[Detector, ...]:
        self._detectors = detectors
        self._longest = max((detector.longest for detector in detectors), default=1)
        return detectors

    @property
    def longest(self) -> int:
        if self._detectors is None:
            self._made()
        return self._longest

    def pending(self, text: str) -> int:
        detectors = self._detectors if self._detectors is not None else self._made()
        return min((detector.pending(text) for detector in detectors), default=len(text))

    def clean_json(self, raw: bytes) -> bool:
        """Whether no string of the JSON document `raw` can hold a finding of any detector, seen in its bytes
        (False: parse it and look at each text)."""
        detectors = self._detectors if self._detectors is not None else self._made()
        return all(detector.clean_json(raw) for detector in detectors)

    def find(self, text: str) -> list[Finding]:
        """Every finding, sorted by start; of two that overlap, the earlier one (at the same start, the longer)."""
        detectors = self._detectors if self._detectors is not None else self._made()
        found: list[Finding] = []
        for detector in detectors:
            found += detector.find(text)
        if len(found) < 2:
            return found
        found.sort(key=lambda finding: (finding.start, -finding.end))
        kept = [found[0]]
        for finding in found[1:]:
            if finding.start >= kept[-1].end:
                kept.append(finding)
        return kept
