"""Payment card numbers: 13 to 19 digits, grouped or not, with a known issuer's prefix and a valid Luhn digit."""

from __future__ import annotations

import re
from typing import Final

from babelgate.guardrails.findings import Finding

_CANDIDATE: Final = re.compile(r"(?<![\d\-.])\d(?:[ \-]?\d){12,18}(?![\d\-]|\.\d)")
# Visa, Mastercard (51-55, 2221-2720), Amex, Discover, JCB, Diners, UnionPay, Maestro.
_ISSUER: Final = re.compile(
    r"4|5[1-5]|2(?:2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|3[47]|6011|65|64[4-9]|35|36|38|30[0-5]|62"
    r"|5018|5020|5038|6304|6759|676[1-3]"
)


def luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


class _Card:
    name = "credit_card"
    longest = 23

    def find(self, text: str) -> list[Finding]:
        out = []
        for match in _CANDIDATE.finditer(text):
            raw = match.group()
            separators = {char for char in raw if not char.isdigit()}
            if len(separators) > 1:  # one kind of separator, as cards are written
                continue
            digits = raw.replace(" ", "").replace("-", "")
            if 13 <= len(digits) <= 19 and _ISSUER.match(digits) and luhn(digits):
                out.append(Finding("credit_card", match.start(), match.end()))
        return out


CREDIT_CARD: Final = _Card()
