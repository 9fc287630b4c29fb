"""Email addresses and phone numbers: the address's candidate pattern (candidates.py runs it), and the formats
of phone numbers, checked inside runs of digits (digits.py)."""

from __future__ import annotations

import re
from typing import Final

EMAIL_PATTERN: Final = (
    r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}"
)
EMAIL_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-@")

# The formats written with separators: international (`+CC` and groups), North American (`(415) 555-0132`,
# `415-555-0132`, `415.555.0132`), and national trunk-prefixed numbers (`07700 900123`, `06 12 34 56 78`,
# `030 901820`). A bare run of digits is not taken for a phone number (order numbers, amounts), nor are
# dates (`2024-01-15`, `15.01.2024`), times or version numbers, whose groups have other lengths.
_PHONE: Final = re.compile(
    r"(?<![\w+.\-/])(?:"
    r"\+[1-9]\d{0,2}(?:[ .\-]?(?:\(\d{1,4}\)|\d{1,4})){2,5}"  # +44 20 7946 0958, +1 (415) 555-0132, +49 30 901820
    r"|\(\d{3}\)[ .\-]?\d{3}[ .\-]\d{4}"  # (415) 555-0132
    r"|\d{3}([.\-])\d{3}\1\d{4}"  # 415-555-0132, 415.555.0132
    r"|0[1-9](?: \d{2}){4}"  # 06 12 34 56 78
    r"|0\d{2,4} \d{5,8}"  # 07700 900123, 030 901820
    r")(?![\w\-/]|\.\d)"
)
_DIGITS: Final = re.compile(r"\d")


def phone_number(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The phone numbers in `text` between the offsets: 7 to 15 digits in one of the formats above."""
    out = []
    for match in _PHONE.finditer(text, start, end):
        digits = len(_DIGITS.findall(match.group()))
        if 7 <= digits <= 15:
            out.append(match.span())
    return out
