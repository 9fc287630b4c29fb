"""The entities written in digits (card numbers, phone numbers, US SSNs, IPv4 addresses) found together: one
pass finds the runs of digits and separators long enough to hold any of them (a pattern that begins with a
character class, which CPython's `re` skips through in C), and only inside those runs are the entities' own
patterns tried. Prose holds few such runs, so a text costs about one scan, whichever entities are asked."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Final

from babelgate.guardrails.findings import Finding, trailing
from babelgate.guardrails.pii.cards import card_number
from babelgate.guardrails.pii.contact import phone_number
from babelgate.guardrails.pii.identity import SSN_PATTERN
from babelgate.guardrails.pii.network import IPV4_PATTERN

_RUN: Final = re.compile(r"[0-9+(][0-9 ()+.\-]{5,}[0-9]")
_RUN_CHARS: Final = frozenset("0123456789 ()+.-")
_RUN_STARTS: Final = frozenset("0123456789+(")
# Each entity's check of one run: the matches it makes in `text` between the two offsets.
Check = Callable[[str, int, int], list[tuple[int, int]]]


def _pattern(pattern: re.Pattern[str]) -> Check:
    def check(text: str, start: int, end: int) -> list[tuple[int, int]]:
        return [match.span() for match in pattern.finditer(text, start, end)]

    return check


CHECKS: Final[dict[str, Check]] = {
    "credit_card": card_number,
    "ssn": _pattern(SSN_PATTERN),
    "ip": _pattern(IPV4_PATTERN),
    "phone": phone_number,
}
DIGIT_ENTITIES: Final = frozenset(CHECKS)


class DigitRuns:
    """The digit-written entities of `entities` (card numbers first: a card is not also a phone number)."""

    longest = 30

    def __init__(self, entities: Iterable[str]) -> None:
        self.checks = [(name, CHECKS[name]) for name in CHECKS if name in set(entities)]
        self.name = "+".join(name for name, _ in self.checks)

    def pending(self, text: str) -> int:
        return trailing(text, _RUN_CHARS, self.longest, _RUN_STARTS)

    def find(self, text: str) -> list[Finding]:
        out: list[Finding] = []
        for run in _RUN.finditer(text):
            # The run and a character either side: the entities' own patterns look at what borders them.
            start, end = max(run.start() - 1, 0), min(run.end() + 1, len(text))
            taken: list[tuple[int, int]] = []
            for name, check in self.checks:
                for span in check(text, start, end):
                    if all(span[1] <= left or span[0] >= right for left, right in taken):
                        taken.append(span)
                        out.append(Finding(name, *span))
        return out
