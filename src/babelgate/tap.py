"""A stream of an answer's frames, read as it passes: by the response cache and the conversation log, which each
keep a copy. An async generator: outside the compiled modules (mypyc compiles none)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable


async def tapped(frames: AsyncIterator[bytes], keep: Callable[[bytes], None]) -> AsyncIterator[bytes]:
    """`frames` as they pass, each also given to `keep` (a copy of an answer for the cache or the conversation
    log); the source is closed however the reader stops."""
    try:
        async for frame in frames:
            keep(frame)
            yield frame
    finally:
        aclose = getattr(frames, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
