"""A TCP proxy on 127.0.0.1 in front of a real service (PostgreSQL, Redis), switched by the test
between passing traffic, refusing it (the service killed: the port closed, open connections reset)
and hanging (the service alive but silent: connections accepted, nothing answered, open ones
stalled). Deterministic outages without touching the shared service itself.

It counts the connections it accepted, so a test can tell how often a client tried to reach the
service while it was down (a client that spins reconnects thousands of times)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field
from enum import StrEnum


class Mode(StrEnum):
    PASS = "pass"
    REFUSE = "refuse"
    HANG = "hang"


@dataclass
class TcpProxy:
    target_host: str
    target_port: int
    mode: Mode = Mode.PASS
    port: int = 0
    accepted: int = 0  # connections accepted since the start (in every mode but refuse)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _flowing: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        # The port is chosen once and kept across refuse → pass, as a restarted service keeps its port.
        if not self.port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
        await self._listen()
        self._flowing.set()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def switch(self, mode: Mode) -> None:
        """Refuse: the listener goes and every open connection is cut (as when the service is killed).
        Hang: new and open connections stall (bytes are held, not dropped). Pass: traffic flows again."""
        if mode is self.mode:
            return
        if mode is Mode.REFUSE:
            await self._close_all()
        elif self.mode is Mode.REFUSE:
            await self._listen()
        if mode is Mode.HANG:
            self._flowing.clear()
        else:
            self._flowing.set()
        self.mode = mode

    async def stop(self) -> None:
        """Closes everything, and waits for its connection handlers: a test's loop ends with none left."""
        await self._close_all()
        self._flowing.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _close_all(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            with contextlib.suppress(OSError):
                writer.transport.abort()  # a reset, as from a killed process
        self._writers.clear()

    @property
    def dsn_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._writers.add(client_writer)
        try:
            await self._flowing.wait()  # hang mode: accepted, never answered
            server_reader, server_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            client_writer.transport.abort()
            self._writers.discard(client_writer)
            return
        self._writers.add(server_writer)
        try:
            await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer))
        finally:
            for writer in (client_writer, server_writer):
                self._writers.discard(writer)
                writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                await self._flowing.wait()  # hang mode: held until traffic flows again
                if writer.transport.is_closing():
                    return
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()
