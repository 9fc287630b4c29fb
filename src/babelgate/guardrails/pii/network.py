"""IP addresses: IPv4 in dotted quads (each part at most 255, not part of a longer dotted number), IPv6 as
`ipaddress` reads it (so `12:30:45` is not one)."""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from babelgate.guardrails.findings import Finding

_OCTET: Final = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4: Final = re.compile(rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\w]|\.\d)")
_IPV6: Final = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3})(?![\w:])")


class _Ip:
    name = "ip"
    longest = 45

    def find(self, text: str) -> list[Finding]:
        out = []
        if text.find(".") >= 0:
            out = [Finding("ip", match.start(), match.end()) for match in _IPV4.finditer(text)]
        if text.find(":") >= 0:
            for match in _IPV6.finditer(text):
                try:
                    ipaddress.IPv6Address(match.group())
                except ValueError:
                    continue
                out.append(Finding("ip", match.start(), match.end()))
            out.sort(key=lambda finding: finding.start)
        return out


IP: Final = _Ip()
