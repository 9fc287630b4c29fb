"""API keys and tokens of the common providers and clouds, private-key blocks and JWTs, each by its documented
shape: a fixed prefix and a body of the right alphabet and length. Hex digests, UUIDs and git hashes have no
such prefix and are not taken."""

from __future__ import annotations

import re
from typing import Final

from babelgate.guardrails.findings import Finding

_SHAPES: Final = (
    r"sk-ant-[A-Za-z0-9_\-]{20,}",  # Anthropic
    r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",  # OpenAI
    r"(?:AKIA|ASIA)[0-9A-Z]{16}",  # AWS access key ids
    r"gh[pousr]_[A-Za-z0-9]{36,}",  # GitHub
    r"github_pat_[A-Za-z0-9_]{22,}",
    r"glpat-[A-Za-z0-9_\-]{20,}",  # GitLab
    r"xox[abposr]-[A-Za-z0-9\-]{10,}",  # Slack
    r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe
    r"AIza[0-9A-Za-z_\-]{35}",  # Google API keys
    r"ya29\.[0-9A-Za-z_\-]{20,}",  # Google OAuth access tokens
    r"hf_[A-Za-z0-9]{30,}",  # Hugging Face
    r"npm_[A-Za-z0-9]{36}",  # npm
    r"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}",  # SendGrid
    r"SK[0-9a-f]{32}",  # Twilio
    r"bg-[A-Za-z0-9_\-]{24,}",  # babelgate's virtual keys
    r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",  # JWTs
)
_TOKEN: Final = re.compile(r"(?<![A-Za-z0-9_\-])(?:" + "|".join(_SHAPES) + r")(?![A-Za-z0-9_\-])")
# Where a token may begin: cheap searches before the pattern runs (most texts hold none of them).
_ANCHORS: Final = (
    "sk-",
    "AKIA",
    "ASIA",
    "gh",
    "glpat-",
    "xox",
    "_live_",
    "_test_",
    "AIza",
    "ya29.",
    "hf_",
    "npm_",
    "SG.",
    "SK",
    "bg-",
    "eyJ",
)
# A PEM private key, whole; one whose END line is missing runs to the end of the text, up to a bound.
_PEM: Final = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:.{0,8192}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|.{0,8192})",
    re.DOTALL,
)


class _Secret:
    name = "secret"
    longest = 8300

    def find(self, text: str) -> list[Finding]:
        out = []
        if any(text.find(anchor) >= 0 for anchor in _ANCHORS):
            out = [Finding("secret", match.start(), match.end()) for match in _TOKEN.finditer(text)]
        if text.find("-----BEGIN") >= 0:
            out += [Finding("secret", match.start(), match.end()) for match in _PEM.finditer(text)]
            out.sort(key=lambda finding: finding.start)
        return out


SECRET: Final = _Secret()
