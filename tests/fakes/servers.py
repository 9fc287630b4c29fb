"""Test plumbing: an event loop in a background thread that hosts fake upstreams and gateways on
real loopback sockets, so tests can drive them with the official (synchronous) SDK clients."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading
import traceback
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from babelgate.server_protocol import UVICORN_OPTIONS, GatewayHttpProtocol

T = TypeVar("T")


def _unwatched(loop: asyncio.AbstractEventLoop) -> list[str]:
    """The descriptors the loop believes it watches but its epoll set does not hold (Linux: /proc's fdinfo): a
    socket closed behind the loop's back leaves its number registered, and the next socket given that number
    never wakes the loop."""
    selector = getattr(loop, "_selector", None)
    epoll = getattr(selector, "_selector", None)
    if selector is None or epoll is None or not hasattr(epoll, "fileno"):
        return []
    try:
        info = Path(f"/proc/self/fdinfo/{epoll.fileno()}").read_text()
    except OSError:
        return []
    held = {int(line.split()[1]) for line in info.splitlines() if line.startswith("tfd:")}
    lost = sorted(fd for fd in selector.get_map() if fd not in held and fd != epoll.fileno())
    return [f"registered with the loop but not with its epoll set: fds {lost}"] if lost else []


def _awaiting(coro: Any) -> list[str]:
    """Where a suspended coroutine waits, outermost first, down the chain of what each one awaits."""
    places = []
    while coro is not None and len(places) < 12:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        places.append(f"{frame.f_code.co_filename.rsplit('/', 2)[-1]}:{frame.f_lineno} {frame.f_code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return places


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-servers", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def state(self) -> str:
        """What the loop is doing, for a failed test's report: every task's stack, or, when the loop does not
        answer within a second, the stack of the thread that holds it."""

        async def tasks() -> str:
            lines = []
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    lines.append(f"{task.get_name()}: {' -> '.join(_awaiting(task.get_coro()))}")
            return "\n".join(sorted(lines) + _unwatched(asyncio.get_running_loop())) or "(no task)"

        try:
            return self.run(tasks(), timeout=1)
        except TimeoutError:
            frame = sys._current_frames().get(self._thread.ident or 0)
            stack = "".join(traceback.format_stack(frame)) if frame is not None else "(no frame)"
            return "the loop is blocked, in:\n" + stack

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class _PromptServer(uvicorn.Server):
    """uvicorn's server, whose main loop also wakes when asked to stop: uvicorn's own looks at `should_exit`
    every 0.1 s, and the ~1,300 integration tests each stop a server or two (minutes of the suite)."""

    stopping: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self.stopping = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown, without its fixed 0.1 s pause for connections to close: this waits for them
        (and the requests still running) by looking every 5 ms, up to the graceful timeout, as uvicorn does;
        and without the gateway's linger for idle connections."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            # No proxy writes on a test's idle connections: they close at once (a stop would wait out
            # STOP_LINGER for each client a test left open). test_graceful_shutdown.py tests the linger.
            if isinstance(connection, GatewayHttpProtocol):
                connection.shutdown(linger=0)
            else:
                connection.shutdown()
        try:
            await asyncio.wait_for(self._drained(), self.config.timeout_graceful_shutdown)
        except TimeoutError:
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        if not self.force_exit:
            await self.lifespan.shutdown()

    async def _drained(self) -> None:
        while (self.server_state.connections or self.server_state.tasks) and not self.force_exit:  # noqa: ASYNC110 (uvicorn sets no event for these)
            await asyncio.sleep(0.005)
        for server in self.servers:
            await server.wait_closed()

    def stop_now(self) -> None:
        self.should_exit = True
        if self.stopping is not None:
            self.stopping.set()


class RunningApp:
    """An ASGI app served by uvicorn on 127.0.0.1 and a free port."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = 0
        self._server: _PromptServer | None = None
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
        self._server = _PromptServer(config)
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
            self._server.stop_now()
            await asyncio.wait_for(self._task, 10)
