"""Logging setup and the scrubber that keeps upstream secrets out of logs and responses."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Final

# Shapes of common provider keys, caught even when we do not know the exact value.
_KEY_SHAPES: Final = re.compile(
    r"(sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|Bearer\s+[A-Za-z0-9._\-]{8,})"
)
REDACTED: Final = "[redacted]"


class Scrubber:
    """Replaces known secret values, and anything shaped like a provider key, with a marker."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so that a key containing another is replaced whole.
        self._secrets = tuple(sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _KEY_SHAPES.sub(REDACTED, text)


class ScrubbingFilter(logging.Filter):
    """Scrubs every record that passes through a handler, whatever logger produced it."""

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self.scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = self.scrubber(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


def configure_logging(level: str, scrubber: Scrubber) -> None:
    """Root handler for `babelgate serve`; an embedding app keeps its own logging setup."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ScrubbingFilter(scrubber))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
