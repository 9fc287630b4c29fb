"""What every part of a gateway does (`Part`), and the gateway's own tasks beside the requests (`Background`).

A part holds what outlives one config and knows how to start it, move it to a new config, and stop it. The
gateway (app.py) lists its parts once, in the order they depend on each other: it starts and reloads them in
that order and stops them in reverse, so that no part stops before a part that uses it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, Protocol

from babelgate.config.models import Config

log = logging.getLogger("babelgate")

Closer = Callable[[], Awaitable[None]]


class Part(Protocol):
    def start(self, lifespan: bool) -> None:
        """Begin what runs beside the requests, inside the running loop: at the startup of the gateway's own
        lifespan (`lifespan`), or at the first request of a gateway mounted in another app, whose lifespan it
        never sees (what only a gateway served alone runs waits for `lifespan`)."""
        ...

    def reload(self, config: Config) -> Sequence[Closer]:
        """Serve `config` from now on. Answers how to close what the old config had and the new one has not (an
        old store, an old poller): the gateway closes those once every part serves the new config, the last
        part's first, so that what used an old store closes before the store does."""
        ...

    async def aclose(self) -> None:
        """Release what the part holds, at the gateway's shutdown."""
        ...


class Background:
    """The gateway's tasks beside the requests (the keys' first read, what a reload replaced), each held until
    it ends: a task nobody references may be collected before it ends."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def run(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close_in_turn(self, closers: Iterable[Closer]) -> None:
        """Run `closers` one after the other, in the background: one that fails is logged, the next still runs."""
        self.run(_close_in_turn(tuple(closers)))


async def _close_in_turn(closers: Sequence[Closer]) -> None:
    for close in closers:
        try:
            await close()
        except Exception:
            log.warning("could not close what a reload replaced", exc_info=True)
