"""Request ids: the client's `x-request-id` when it sent a sane one, else a fresh unique one."""

from __future__ import annotations

import itertools
import os
import re
from typing import Final

_SANE: Final = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")  # used with fullmatch


class RequestIds:
    """A random per-process prefix and a counter: unique without a system call per request."""

    __slots__ = ("_counter", "_prefix")

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(1)

    def __call__(self, client_value: bytes | None) -> bytes:
        if client_value is not None and _SANE.fullmatch(client_value):
            return client_value
        return f"{self._prefix}{next(self._counter):08x}".encode()
