"""The gateway's running Realtime sessions and client secrets: one `RealtimeState` per gateway, kept across
config reloads (a reload neither ends a session nor forgets a secret)."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from babelgate.errors import GatewayError, RateLimitExceeded
from babelgate.realtime.calls import Calls
from babelgate.realtime.secrets import ClientSecrets

SERVICE_RESTART = 1012  # the WebSocket close code for "the server restarts: try again"
CLOSING_SECONDS = 2.0  # for stopped sessions to send their last event and close


class Stoppable(Protocol):
    def stop(self, error: GatewayError, code: int) -> None:
        """End the session with `error` as its last event and `code` as its close."""
        ...


class Sessions:
    """Sessions open now, by caller's key (the per-key bound), and each one's handle (to drain them)."""

    def __init__(self) -> None:
        self._by_key: dict[str, int] = {}
        self._running: set[Stoppable] = set()
        self._empty: asyncio.Event | None = None
        self._drainer: asyncio.Future[None] | None = None
        self.draining = False

    def reserve(self, key_id: str | None, limit: int | None) -> str:
        """Counts one more session of `key_id`; RateLimitExceeded when it already has `limit`. Answers the name
        to `release` it by."""
        name = key_id or ""
        count = self._by_key.get(name, 0)
        if limit is not None and count >= limit:
            raise RateLimitExceeded("realtime_sessions_per_key", code="too_many_sessions", limit=limit)
        self._by_key[name] = count + 1
        return name

    def release(self, name: str) -> None:
        count = self._by_key.get(name, 0) - 1
        if count > 0:
            self._by_key[name] = count
        else:
            self._by_key.pop(name, None)

    def add(self, session: Stoppable) -> None:
        self._running.add(session)

    def discard(self, session: Stoppable) -> None:
        self._running.discard(session)
        if not self._running and self._empty is not None:
            self._empty.set()

    def __len__(self) -> int:
        return len(self._running)

    def begin_drain(self, seconds: float) -> None:
        """Shutdown began (the server asks: server_protocol.py): new sessions are refused, running ones go on for
        up to `seconds`, then each ends with close code 1012. Once per gateway, whoever asks first."""
        self.draining = True
        if self._drainer is None:
            self._drainer = asyncio.ensure_future(self._drain(seconds))

    async def drain(self, seconds: float) -> None:
        """`begin_drain`, and wait until every session ended."""
        self.begin_drain(seconds)
        assert self._drainer is not None
        await asyncio.shield(self._drainer)

    async def _drain(self, seconds: float) -> None:
        await self._until_empty(time.monotonic() + seconds)
        error = GatewayError("realtime_shutting_down", code="service_restart", status=503)
        for session in list(self._running):
            session.stop(error, SERVICE_RESTART)
        await self._until_empty(time.monotonic() + CLOSING_SECONDS)

    async def _until_empty(self, deadline: float) -> None:
        while self._running and time.monotonic() < deadline:
            self._empty = asyncio.Event()
            try:
                await asyncio.wait_for(self._empty.wait(), timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return


class RealtimeState:
    """What the Realtime door keeps across requests: the client secrets, the running sessions, the WebRTC calls."""

    def __init__(self) -> None:
        self.secrets = ClientSecrets()
        self.sessions = Sessions()
        self.calls = Calls()
