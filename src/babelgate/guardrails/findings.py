"""What a detector found in a text, and what a detector is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Finding:
    entity: str  # what was found: a PII entity's name, or a regex or words guardrail's name
    start: int  # offsets into the scanned text
    end: int


class Detector(Protocol):
    @property
    def name(self) -> str:
        """The entity it reports."""
        ...

    @property
    def longest(self) -> int:
        """The longest match it can report, in characters: a streamed output's window holds back this much."""
        ...

    def find(self, text: str) -> list[Finding]: ...
