"""Test plumbing: an event loop in a background thread that hosts fake upstreams and gateways on
real loopback sockets, so tests can drive them with the official (synchronous) SDK clients."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvicorn

from babelgate.server_protocol import UVICORN_OPTIONS

T = TypeVar("T")


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-servers", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class RunningApp:
    """An ASGI app served by uvicorn on 127.0.0.1 and a free port."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        # The HTTP protocol `babelgate serve` runs (uvicorn's, with coalesced writes), for fakes and gateway alike.
        config = uvicorn.Config(
            self.app,
            lifespan="on",
            log_level="warning",
            loop="none",
            timeout_graceful_shutdown=2,
            **{**UVICORN_OPTIONS, "log_config": uvicorn.config.LOGGING_CONFIG},
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.005)

    def connections(self) -> list[Any]:
        """The open connections' protocol instances."""
        return list(self._server.server_state.connections) if self._server is not None else []

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, 10)
