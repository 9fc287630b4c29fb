"""Request ids: the client's `x-request-id` when it sent a sane one, else a fresh random one."""

from __future__ import annotations

import os
import re
from typing import Final

_SANE: Final = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")  # used with fullmatch


def request_id(client_value: bytes | None) -> bytes:
    if client_value is not None and _SANE.fullmatch(client_value):
        return client_value
    return os.urandom(12).hex().encode()
