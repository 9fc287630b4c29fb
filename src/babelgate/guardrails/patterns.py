"""The operator's own detectors: regular expressions (`regex` guardrails) and words or phrases (`words`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from babelgate.guardrails.findings import Finding


class RegexDetector:
    def __init__(self, name: str, patterns: Iterable[str], longest: int = 256) -> None:
        self.name = name
        self.longest = longest
        compiled = []
        for pattern in patterns:
            try:
                compiled.append(re.compile(pattern))
            except re.error as error:
                raise ValueError(
                    f"guardrail {name!r}: pattern {pattern!r} is not a regular expression: {error}"
                ) from None
        self._patterns = tuple(compiled)

    def pending(self, text: str) -> int:
        return max(len(text) - (self.longest - 1), 0)  # an operator's pattern may match anything

    def clean_json(self, raw: bytes) -> bool:
        return False  # an operator's pattern may match across a JSON string's quotes and escapes

    def find(self, text: str) -> list[Finding]:
        return [
            Finding(self.name, match.start(), match.end())
            for pattern in self._patterns
            for match in pattern.finditer(text)
            if match.end() > match.start()
        ]


class WordsDetector:
    """Whole words and phrases, whatever their case."""

    def __init__(self, name: str, words: Iterable[str]) -> None:
        self.name = name
        listed = sorted({word.strip() for word in words if word.strip()}, key=len, reverse=True)
        if not listed:
            raise ValueError(f"guardrail {name!r}: no words")
        self.longest = max(len(word) for word in listed)
        self._pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, listed)) + r")(?!\w)", re.IGNORECASE)

    def pending(self, text: str) -> int:
        return max(len(text) - (self.longest - 1), 0)

    def clean_json(self, raw: bytes) -> bool:
        return False  # a word written with an escape (`caf\\u00e9`) is only seen in the parsed text

    def find(self, text: str) -> list[Finding]:
        return [Finding(self.name, match.start(), match.end()) for match in self._pattern.finditer(text)]
