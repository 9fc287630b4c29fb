"""IP addresses: IPv4 in dotted quads (each part at most 255, not part of a longer dotted number), IPv6 as
`ipaddress` reads it (so `12:30:45` is not one)."""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from babelgate.guardrails.findings import Finding, trailing

_V6_CHARS: Final = frozenset("0123456789abcdefABCDEF:.")

_OCTET: Final = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4_PATTERN: Final = re.compile(rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\w]|\.\d)")
_IPV6: Final = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3})(?![\w:])")


# Two colons with at most four hex digits between them: where an IPv6 address may be (a literal first, so `re`
# finds colons at C speed; prose's colons are followed by a space).
_V6_HINT: Final = re.compile(r":[0-9A-Fa-f]{0,4}:")


class _Ipv6:
    """IPv6 addresses (IPv4 ones are found with the other digit-written entities: digits.py)."""

    name = "ip"
    longest = 45

    def pending(self, text: str) -> int:
        return trailing(text, _V6_CHARS, self.longest)

    def find(self, text: str) -> list[Finding]:
        out: list[Finding] = []
        at = 0
        while True:
            hint = _V6_HINT.search(text, at)
            if hint is None:
                return out
            window = max(hint.start() - 40, 0)
            match = _IPV6.search(text, window, hint.end() + 40)
            at = hint.end()
            while match is not None and match.end() < hint.start():
                match = _IPV6.search(text, match.end(), hint.end() + 40)
            if match is None:
                continue
            at = max(at, match.end())
            try:
                ipaddress.IPv6Address(match.group())
            except ValueError:
                continue
            if not out or match.start() >= out[-1].end:
                out.append(Finding("ip", match.start(), match.end()))


IPV6: Final = _Ipv6()
