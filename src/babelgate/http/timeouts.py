"""How long an upstream call may take: connecting, waiting for bytes, and in all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DEFAULT_TIMEOUT: Final = 600.0  # the official OpenAI SDK's own default
DEFAULT_CONNECT_TIMEOUT: Final = 10.0


@dataclass(frozen=True, slots=True)
class Timeouts:
    """connect: TCP+TLS; first_byte: until the answer's head (None: `read`); read: every gap
    between chunks of the body; total: the whole exchange."""

    connect: float | None = DEFAULT_CONNECT_TIMEOUT
    read: float | None = DEFAULT_TIMEOUT
    total: float | None = None
    first_byte: float | None = None
