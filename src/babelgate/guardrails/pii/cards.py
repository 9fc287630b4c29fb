"""Payment card numbers: 13 to 19 digits, grouped or not, with a known issuer's prefix and a valid Luhn digit."""

from __future__ import annotations

import re
from typing import Final

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


def card_number(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The card numbers in `text` between the offsets."""
    out = []
    for match in _CANDIDATE.finditer(text, start, end):
        raw = match.group()
        separators = {char for char in raw if not char.isdigit()}
        if len(separators) > 1:  # one kind of separator, as cards are written
            continue
        digits = raw.replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and _ISSUER.match(digits) and luhn(digits):
            out.append(match.span())
    return out
