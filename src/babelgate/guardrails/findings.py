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

    def clean_json(self, raw: bytes) -> bool:
        """Whether no string of the JSON document `raw` can hold a match, seen in its bytes without parsing it
        (False: it may, or the detector cannot tell that way)."""
        ...

    def pending(self, text: str) -> int:
        """Where a match that the next piece of a stream may complete could begin in `text` (its length: none
        can): a streamed output's window holds back from there (window.py)."""
        ...


def trailing(text: str, chars: frozenset[str], longest: int, starts: frozenset[str] | None = None) -> int:
    """Where the run of `chars` that ends `text` begins (at most `longest` back), from its first character that
    can begin a match (`starts`; any of `chars` by default): a match made of those characters that is still
    going on can only begin there."""
    end = len(text)
    at = end
    bound = max(end - longest, 0)
    while at > bound and text[at - 1] in chars:
        at -= 1
    if starts is not None:
        while at < end and text[at] not in starts:
            at += 1
    return at
