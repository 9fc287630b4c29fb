"""Waiting for what a gateway does after its answer went out (hooks' `on_complete`, accounting):
the client can see the answer, and the test its next line, before that has run."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Whether `check` turns true within `seconds`, polled every 10 ms."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
