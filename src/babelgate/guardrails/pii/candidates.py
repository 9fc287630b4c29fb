"""Every built-in entity of a text in one pass: Google's RE2 runs one pattern, an alternation of each family's
candidates (addresses, tokens, private-key blocks, IBANs, IPv6 addresses, runs of digits and separators), as a
DFA in linear time; Python then checks only the candidates it found (their borders, which RE2 cannot look at,
Luhn and mod-97 digits, `ipaddress`). A text without personal data costs the one pass.

Leftmost-first, like `re`: where candidates of two families overlap, the one that begins first is checked and
the other is not (an address's local part made of digits is an address, not a phone number)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Any, Final

import re2

from babelgate.guardrails.findings import Finding, trailing
from babelgate.guardrails.pii import contact, digits, identity, network, secrets


def _sieve() -> Callable[[bytes, int], bool] | None:
    """The sieve (_sieve.c), built by every install that has a C compiler (buildtools/babelgate_build.py); without
    it, RE2 reads every text."""
    try:
        from babelgate.guardrails.pii._sieve import may_hold
    except ImportError:  # pragma: no cover  (an install without a C compiler)
        return None
    return may_hold


SIEVE: Final = _sieve()

# Each family: its RE2 candidate, and the entities it can hold.
FAMILIES: Final[dict[str, tuple[str, frozenset[str]]]] = {
    "token": ("|".join(pattern for _, pattern in secrets.SHAPES), frozenset({"secret"})),
    "pem": (r"-----BEGIN ", frozenset({"secret"})),
    "email": (contact.EMAIL_PATTERN, frozenset({"email"})),
    "iban": (r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{1,4}){3,8}", frozenset({"iban"})),
    "v6": (
        r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|[0-9A-Fa-f]{0,4})",
        frozenset({"ip"}),
    ),
    "digits": (r"[0-9+(][0-9 ()+.\-]{5,}[0-9]", digits.DIGIT_ENTITIES),
}
# Each family's bit for the sieve (_sieve.c), and the bit that also asks it for a byte that is not ASCII or a `\\u`.
SIEVE_BITS: Final = {"token": 1, "pem": 2, "email": 4, "iban": 8, "v6": 16, "digits": 32}
SIEVE_JSON: Final = 64
_TOKEN_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_V6_BORDER: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:")


class PiiScanner:
    """The built-in detectors of `entities`, as one detector whose findings name each entity."""

    def __init__(self, entities: Iterable[str]) -> None:
        self.entities = frozenset(entities)
        self.families = [name for name, (_, holds) in FAMILIES.items() if holds & self.entities]
        self.name = "pii"
        # No groups: RE2 then finds each match's bounds with its DFAs alone, where a group would run its slower
        # engines on every candidate; the candidate's family is read from the candidate itself (`_family`).
        alternation = "|".join(f"(?:{FAMILIES[name][0]})" for name in self.families)
        self._text: Any = _compile(alternation) if self.families else None
        # The same over the text's bytes, for ASCII text (offsets are the same), called through RE2's own matcher:
        # its Python module's `finditer` is a generator in Python that converts offsets and makes a match object
        # for each match, a third of a clean 2 KB text's scan (`_spans`).
        self._ascii: Any = _compile(alternation.encode())._regexp.Match if self.families else None
        # And over a JSON document's bytes (`clean_json`), where a `\\u` escape and a byte that is not ASCII are
        # found in the same pass (read as Latin-1, a byte a character: the candidates are ASCII either way).
        self._json: Any = (
            _compile((alternation + r"|\\u|[\x80-\xff]").encode(), latin1=True)._regexp.Match if self.families else None
        )
        self._digits = digits.DigitRuns(self.entities & digits.DIGIT_ENTITIES)
        # The sieve's answer is exact when it says no candidate is there: most texts skip RE2's pass.
        self._sieve = SIEVE if self.families else None
        self._kinds = sum(SIEVE_BITS[name] for name in self.families)
        self.longest = max((_LONGEST[name] for name in self.families), default=1)

    def find(self, text: str) -> list[Finding]:
        if self._text is None:
            return []
        data = text.encode()
        if self._sieve is not None and not self._sieve(data, self._kinds):
            return []  # a candidate is ASCII, the same bytes in UTF-8: none is there
        spans = _spans(self._ascii, data) if text.isascii() else [m.span() for m in self._text.finditer(text)]
        return self._checked(text, spans)

    def clean_json(self, raw: bytes) -> bool:
        """Whether no string of the JSON document `raw` can hold a finding, seen in its bytes without parsing it
        (False: it may; parse it and look at each text).

        In ASCII JSON without `\\u` escapes, a string's text is its bytes but for its escapes, and every escape
        stands for a quote, a backslash, a slash or a control character, none of which a candidate can hold: so
        a text's candidates are those of the bytes, checked with the same neighbours, except next to an escape
        (whose letter, `n` of `\\n`, could join a candidate in the bytes). A candidate within two bytes of a
        backslash therefore answers False, as does any candidate that passes its checks, inside a string or not,
        and the first byte that is not ASCII."""
        if self._text is None:
            return True
        if self._sieve is not None and not self._sieve(raw, self._kinds | SIEVE_JSON):
            return True
        for start, end in _spans(self._json, raw):
            if not raw[start : end + 1].isascii() or raw.find(b"\\", max(start - 2, 0), end + 2) >= 0:
                return False  # a byte that is not ASCII, or one next to a candidate; next to an escape, or one (`\\u`)
            if raw.startswith(b"-----", start):
                return False  # a private key's BEGIN line, whose block runs on
            before = min(start, 2)  # the neighbours the checks look at: two before (a lookbehind), one after
            if self._checked(raw[start - before : end + 1].decode("ascii"), [(before, before + end - start)]):
                return False
        return True

    def _checked(self, text: str, spans: list[tuple[int, int]]) -> list[Finding]:
        """The findings among the candidates RE2 found at `spans` of `text`."""
        out: list[Finding] = []
        for start, end in spans:
            candidate = text[start:end]
            family = _family(candidate)
            if family not in self.families:
                continue  # a candidate of a family this scanner was not asked for (an IBAN-like token, say)
            if family == "digits":
                if len(candidate) < 13 and candidate.isdigit():
                    continue  # a bare number shorter than a card's: the other entities have separators (a timestamp)
                out += self._digits.within(text, max(start - 1, 0), min(end + 1, len(text)))
            elif family == "email":
                out.append(Finding("email", start, end))
            elif family == "pem":
                block = secrets.PEM.match(text, start)
                if block is not None:
                    out.append(Finding("secret", start, block.end()))
            elif _alone(text, start, end, _BORDERS[family]) and _CHECKED[family](candidate):
                out.append(Finding(_ENTITY[family], start, end))
        return out

    def pending(self, text: str) -> int:
        held = len(text)
        for family in self.families:
            held = min(held, _PENDING[family](text))
        return held


_TOKEN: Final = re.compile("|".join(pattern for _, pattern in secrets.SHAPES))
_IBAN_START: Final = re.compile(r"[A-Z]{2}[0-9]{2}")


def _family(candidate: str) -> str:
    """Which family's pattern a candidate matched: each has a mark the others cannot have."""
    if candidate.startswith("-----"):
        return "pem"
    if candidate.find("@") >= 0:
        return "email"
    if candidate.find(":") >= 0:
        return "v6"
    if candidate[0] in digits.RUN_STARTS:  # tokens and IBANs begin with a letter
        return "digits"
    if _TOKEN.fullmatch(candidate) is not None:
        return "token"
    if _IBAN_START.match(candidate) is not None:
        return "iban"
    return "digits"


# RE2's unanchored search, for its matcher's first argument.
_UNANCHORED: Final = re2._Anchor.UNANCHORED


def _spans(match: Any, data: bytes) -> list[tuple[int, int]]:
    """Every match of RE2's matcher `match` in `data`, as `finditer` finds them (leftmost-first, one after the
    other, an empty match skipping a byte): each a (start, end) pair."""
    out: list[tuple[int, int]] = []
    at, end = 0, len(data)
    while True:
        span = match(_UNANCHORED, data, at, end)[0]
        if span[0] < 0:
            return out
        out.append(span)
        if span[1] == end:
            return out
        at = span[1] if span[1] > at else at + 1


def _compile(pattern: str | bytes, latin1: bool = False) -> Any:
    """RE2's pattern (its Python module has no types), over UTF-8 or, with `latin1`, over bytes as they are."""
    compile_: Any = re2.compile
    if not latin1:
        return compile_(pattern)
    options: Any = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1
    return compile_(pattern, options)


def _alone(text: str, start: int, end: int, border: frozenset[str]) -> bool:
    """Whether a candidate touches no character of `border` on either side (RE2 has no lookaround)."""
    return (start == 0 or text[start - 1] not in border) and (end == len(text) or text[end] not in border)


def _ipv6(candidate: str) -> bool:
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


_ALNUM: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
# The families checked by their borders and one test of the candidate, and the entity each finds.
_BORDERS: Final = {"token": _TOKEN_CHARS, "iban": _ALNUM, "v6": _V6_BORDER}
_CHECKED: Final[dict[str | None, Callable[[str], bool]]] = {
    "token": lambda candidate: True,
    "iban": lambda candidate: identity.valid_iban(candidate.replace(" ", "")),
    "v6": _ipv6,
}
_ENTITY: Final = {"token": "secret", "iban": "iban", "v6": "ip"}
_LONGEST: Final = {"token": 4096, "pem": 8300, "email": 254, "iban": 42, "v6": 45, "digits": 30}
_PENDING: Final[dict[str, Callable[[str], int]]] = {
    "token": lambda text: trailing(text, _TOKEN_CHARS | {"."}, 4096),
    "pem": secrets.pending_block,
    "email": lambda text: trailing(text, contact.EMAIL_CHARS, 254),
    "iban": lambda text: trailing(text, identity.IBAN_CHARS, 42, identity.CAPITALS),
    "v6": lambda text: trailing(text, network.V6_CHARS, 45),
    "digits": lambda text: trailing(text, digits.RUN_CHARS, 30, digits.RUN_STARTS),
}
