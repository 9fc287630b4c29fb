"""The entities written in digits (card numbers, phone numbers, US SSNs, IPv4 addresses), checked inside one run
of digits and separators that candidates.py found: each entity's own pattern is tried there only."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Final

from babelgate.guardrails.findings import Finding
from babelgate.guardrails.pii.cards import card_number
from babelgate.guardrails.pii.contact import phone_number
from babelgate.guardrails.pii.identity import SSN_PATTERN
from babelgate.guardrails.pii.network import IPV4_PATTERN

RUN_CHARS: Final = frozenset("0123456789 ()+.-")
RUN_STARTS: Final = frozenset("0123456789+(")
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
# What a run must hold for each entity to be tried there: its fewest digits, and a character its format cannot do
# without (a date's 8 digits are no card number and no SSN; a run without a dot is no IPv4 address).
NEEDS: Final = {"credit_card": (13, ""), "ssn": (9, ""), "ip": (4, "."), "phone": (7, "")}
_DIGIT_BYTES: Final = b"0123456789"


class DigitRuns:
    """The digit-written entities of `entities`, card numbers first: a card is not also a phone number."""

    def __init__(self, entities: Iterable[str]) -> None:
        wanted = set(entities)
        self.checks = [(name, CHECKS[name], *NEEDS[name]) for name in CHECKS if name in wanted]

    def within(self, text: str, start: int, end: int) -> list[Finding]:
        """The entities between the offsets (a run and a character either side: the patterns look at what
        borders them)."""
        out: list[Finding] = []
        taken: list[tuple[int, int]] = []
        run = text[start:end]
        written = run.encode()
        digits = len(written) - len(written.translate(None, _DIGIT_BYTES))
        for name, check, fewest, mark in self.checks:
            if digits < fewest or mark not in run:
                continue
            for span in check(text, start, end):
                if all(span[1] <= left or span[0] >= right for left, right in taken):
                    taken.append(span)
                    out.append(Finding(name, *span))
        return out
