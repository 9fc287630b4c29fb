"""API keys and tokens of the common providers and clouds, private-key blocks and JWTs, each by its documented
shape: a fixed prefix and a body of the right alphabet and length (candidates.py finds them; a token must not
touch other letters of its alphabet on either side). Hex digests, UUIDs and git hashes have no such prefix and
are not taken."""

from __future__ import annotations

import re
from typing import Final

SHAPES: Final = (
    ("sk-ant-", r"sk-ant-[A-Za-z0-9_\-]{20,}"),  # Anthropic
    ("sk-", r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),  # OpenAI
    ("AKIA", r"(?:AKIA|ASIA)[0-9A-Z]{16}"),  # AWS access key ids
    ("gh", r"gh[pousr]_[A-Za-z0-9]{36,}"),  # GitHub
    ("github_pat_", r"github_pat_[A-Za-z0-9_]{22,}"),
    ("glpat-", r"glpat-[A-Za-z0-9_\-]{20,}"),  # GitLab
    ("xox", r"xox[abposr]-[A-Za-z0-9\-]{10,}"),  # Slack
    ("k_live_", r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"),  # Stripe
    ("AIza", r"AIza[0-9A-Za-z_\-]{35}"),  # Google API keys
    ("ya29.", r"ya29\.[0-9A-Za-z_\-]{20,}"),  # Google OAuth access tokens
    ("hf_", r"hf_[A-Za-z0-9]{30,}"),  # Hugging Face
    ("npm_", r"npm_[A-Za-z0-9]{36}"),  # npm
    ("SG.", r"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"),  # SendGrid
    ("SK", r"SK[0-9a-f]{32}"),  # Twilio
    ("bg-", r"bg-[A-Za-z0-9_\-]{24,}"),  # babelgate's virtual keys
    ("eyJ", r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),  # JWTs
)
# A PEM private key, whole; one whose END line is missing runs to the end of the text, up to a bound.
PEM: Final = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:.{0,8192}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|.{0,8192})",
    re.DOTALL,
)
_BOUND: Final = 8300


def pending_block(text: str) -> int:
    """A private-key block is held from its BEGIN line until its END line (or the bound) arrives."""
    begin = text.rfind("-----BEGIN", max(len(text) - _BOUND, 0))
    if begin >= 0 and text.find("-----END", begin) < 0:
        return begin
    return _partial_begin(text)


def _partial_begin(text: str) -> int:
    """Where a BEGIN line still being written ends the text (its dashes so far), else the text's length."""
    for size in range(min(len("-----BEGIN "), len(text)), 0, -1):
        if "-----BEGIN "[:size] == text[len(text) - size :]:
            return len(text) - size
    return len(text)
