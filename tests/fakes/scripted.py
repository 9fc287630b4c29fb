"""What every fake upstream does the same way: play a scripted stream, and fail it on request
(drop the connection, stall, pause between events), noting when the gateway hung up."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    """One scripted answer. `stream` events are dicts (sent as JSON) or raw bytes (sent as is)."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stream: list[dict[str, Any] | bytes] | None = None
    done: bool = True  # send `data: [DONE]` after the stream
    first_byte_delay: float = 0.0
    chunk_delay: float = 0.0
    drop_after: int | None = None  # close the connection after this many stream events
    stall_after: int | None = None  # stop sending (but keep the connection) after this many events
    end_delay: float = 0.0  # wait between the last event ([DONE] included) and the body's end
    # Hold the stream before event `gate_at` until the test sets `gate` (from the fake's loop): a pause the test
    # ends when it has seen what it waits for, where a delay would only make that likely.
    gate: asyncio.Event | None = None
    gate_at: int = 0


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    json: Any


Responder = Callable[[Any, str], "Reply | None"]


class ScriptedStreams:
    """Base of the fake upstreams: a loopback server, a queue of scripted replies, stream playing.
    When nothing is scripted, `responder(body, path)` may answer (tests/agents: a scripted agent's
    upstream that decides from the conversation); None leaves it to the fake's default answer."""

    stream_closed_at: float | None = None
    replies: deque[Reply]
    responder: Responder | None = None
    port: int = 0
    _runner: web.AppRunner | None = None
    ssl_context: Any = None  # set before start() to serve https (tests/integration/test_proxies_tls.py)

    def next_reply(self, body: Any, path: str) -> Reply | None:
        """The scripted reply next in line, else the responder's, else None."""
        if self.replies:
            return self.replies.popleft()
        return self.responder(body, path) if self.responder is not None else None

    @property
    def base_url(self) -> str:
        """The server's root; clients add their API's version path themselves."""
        return f"http://127.0.0.1:{self.port}"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def serve(self, app: web.Application) -> None:
        """Serve `app` on 127.0.0.1 and a free port (`self.port`)."""
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def write_stream(
        self,
        request: web.Request,
        reply: Reply,
        *,
        frame: Callable[[dict[str, Any]], bytes],
        headers: Mapping[str, str],
        done_frame: bytes | None = None,
    ) -> web.StreamResponse:
        """`reply.stream` framed by `frame` (bytes go out as they are), then `done_frame` if the
        reply wants one; `drop_after` closes the connection, `stall_after` goes quiet."""
        response = web.StreamResponse(status=reply.status, headers={**headers, **reply.headers})
        await response.prepare(request)
        try:
            for index, event in enumerate(reply.stream or ()):
                if reply.drop_after is not None and index >= reply.drop_after:
                    request.transport.close()  # type: ignore[union-attr]
                    return response
                if reply.stall_after is not None and index >= reply.stall_after:
                    await self.until_closed(request)
                    return response
                if reply.gate is not None and index == reply.gate_at:
                    await asyncio.wait_for(reply.gate.wait(), 20)
                await response.write(event if isinstance(event, bytes) else frame(event))
                if reply.chunk_delay:
                    await asyncio.sleep(reply.chunk_delay)
            if done_frame is not None and reply.done:
                await response.write(done_frame)
            if reply.end_delay:
                await asyncio.sleep(reply.end_delay)
            await response.write_eof()
        except (ConnectionResetError, ConnectionError, asyncio.CancelledError):
            self.stream_closed_at = time.monotonic()
            raise
        return response

    async def until_closed(self, request: web.Request) -> None:
        """Send nothing more, for as long as the gateway keeps the connection (bounded)."""
        for _ in range(600):
            if request.transport is None or request.transport.is_closing():
                self.stream_closed_at = time.monotonic()
                return
            await asyncio.sleep(0.05)
