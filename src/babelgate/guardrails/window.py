"""A streamed text through a finder, piece by piece: `push` releases what can no longer be part of a match
that continues in a later piece, with the findings in it, and holds the rest (at most `longest - 1`
characters, less when no match can start there); the releases joined are the text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from babelgate.guardrails.findings import Finding


class Finder(Protocol):
    @property
    def longest(self) -> int: ...

    def find(self, text: str) -> list[Finding]: ...

    def pending(self, text: str) -> int: ...


@dataclass(frozen=True, slots=True)
class Released:
    text: str
    findings: list[Finding]  # offsets into `text`


class StreamWindow:
    __slots__ = ("_finder", "_held")

    def __init__(self, finder: Finder) -> None:
        self._finder = finder
        self._held = ""

    def push(self, piece: str) -> Released:
        text = self._held + piece
        findings = self._finder.find(text)
        # Held: from where a match the next piece may complete could begin (the finder knows: a word being
        # written, a digit run, a key's BEGIN line), never more than the longest match back.
        cut = max(self._finder.pending(text), len(text) - (self._finder.longest - 1), 0)
        for finding in findings:
            # A finding that reaches the cut (or the end, where it may still grow) is held whole.
            if finding.end > cut or finding.end == len(text):
                cut = min(cut, finding.start)
        self._held = text[cut:]
        return Released(text[:cut], [finding for finding in findings if finding.end <= cut])

    def close(self) -> Released:
        text, self._held = self._held, ""
        return Released(text, self._finder.find(text) if text else [])
