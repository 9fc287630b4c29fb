"""IP addresses: IPv4 in dotted quads (each part at most 255, not part of a longer dotted number), checked inside
runs of digits (digits.py); IPv6 as `ipaddress` reads it (candidates.py), so `12:30:45` is not one."""

from __future__ import annotations

import re
from typing import Final

V6_CHARS: Final = frozenset("0123456789abcdefABCDEF:.")
_OCTET: Final = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4_PATTERN: Final = re.compile(rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\w]|\.\d)")
