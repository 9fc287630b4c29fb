"""API keys and tokens of the common providers and clouds, private-key blocks and JWTs, each by its documented
shape: a fixed prefix and a body of the right alphabet and length. Hex digests, UUIDs and git hashes have no
such prefix and are not taken.

Each shape is looked for only where its prefix is: `str.find` runs at C speed and most texts hold none, so a
text without a token costs about one search per prefix."""

from __future__ import annotations

import re
from typing import Final

from babelgate.guardrails.findings import Finding, trailing

_TOKEN_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")
_LONGEST_TOKEN: Final = 4096  # a JWT may be long; a token's run of characters is held whole up to this

_BODY_END: Final = r"(?![A-Za-z0-9_\-])"
# Each prefix, and the whole token's pattern from that prefix on.
_SHAPES: Final = (
    ("sk-ant-", r"sk-ant-[A-Za-z0-9_\-]{20,}"),  # Anthropic
    ("sk-", r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),  # OpenAI
    ("AKIA", r"AKIA[0-9A-Z]{16}"),  # AWS access key ids
    ("ASIA", r"ASIA[0-9A-Z]{16}"),
    ("ghp_", r"ghp_[A-Za-z0-9]{36,}"),  # GitHub
    ("gho_", r"gho_[A-Za-z0-9]{36,}"),
    ("ghu_", r"ghu_[A-Za-z0-9]{36,}"),
    ("ghs_", r"ghs_[A-Za-z0-9]{36,}"),
    ("ghr_", r"ghr_[A-Za-z0-9]{36,}"),
    ("github_pat_", r"github_pat_[A-Za-z0-9_]{22,}"),
    ("glpat-", r"glpat-[A-Za-z0-9_\-]{20,}"),  # GitLab
    ("xox", r"xox[abposr]-[A-Za-z0-9\-]{10,}"),  # Slack
    ("_live_", r"[sr]k_live_[A-Za-z0-9]{16,}"),  # Stripe
    ("_test_", r"[sr]k_test_[A-Za-z0-9]{16,}"),
    ("AIza", r"AIza[0-9A-Za-z_\-]{35}"),  # Google API keys
    ("ya29.", r"ya29\.[0-9A-Za-z_\-]{20,}"),  # Google OAuth access tokens
    ("hf_", r"hf_[A-Za-z0-9]{30,}"),  # Hugging Face
    ("npm_", r"npm_[A-Za-z0-9]{36}"),  # npm
    ("SG.", r"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"),  # SendGrid
    ("SK", r"SK[0-9a-f]{32}"),  # Twilio
    ("bg-", r"bg-[A-Za-z0-9_\-]{24,}"),  # babelgate's virtual keys
    ("eyJ", r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),  # JWTs
)
# Where each pattern starts relative to its prefix's place (Stripe's prefix is found after its first two letters).
_SHAPE_PATTERNS: Final = tuple(
    (prefix, -2 if prefix in ("_live_", "_test_") else 0, re.compile(pattern + _BODY_END))
    for prefix, pattern in _SHAPES
)
# A PEM private key, whole; one whose END line is missing runs to the end of the text, up to a bound.
_PEM: Final = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:.{0,8192}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|.{0,8192})",
    re.DOTALL,
)
_WORD: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Secret:
    name = "secret"
    longest = 8300

    def pending(self, text: str) -> int:
        held = trailing(text, _TOKEN_CHARS, _LONGEST_TOKEN)
        # A private-key block is held from its BEGIN line until its END line (or the bound) arrives.
        begin = text.rfind("-----BEGIN", max(len(text) - self.longest, 0))
        if begin >= 0 and text.find("-----END", begin) < 0:
            held = min(held, begin)
        return held

    def find(self, text: str) -> list[Finding]:
        out: list[Finding] = []
        for prefix, shift, pattern in _SHAPE_PATTERNS:
            at = text.find(prefix)
            while at >= 0:
                start = at + shift
                match = pattern.match(text, start) if start >= 0 else None
                if match is not None and (start == 0 or text[start - 1] not in _WORD):
                    out.append(Finding("secret", start, match.end()))
                at = text.find(prefix, at + 1)
        if text.find("-----BEGIN") >= 0:
            out += [Finding("secret", match.start(), match.end()) for match in _PEM.finditer(text)]
        if len(out) > 1:
            out.sort(key=lambda finding: (finding.start, -finding.end))  # `sk-ant-` is also found as `sk-`
        return out


SECRET: Final = _Secret()
