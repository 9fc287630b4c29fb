"""A real forward proxy on 127.0.0.1 for the tests: CONNECT tunnels (piped bytes) and absolute-form
http requests (rewritten to origin form), with optional Basic authentication. It resolves the host
names it is asked for through `hosts` (so tests can use names like `upstream.test` that only the
proxy knows, as a corporate proxy resolves names its clients cannot), and records what it saw."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Seen:
    method: str
    target: str
    authorization: str | None


@dataclass
class FakeProxy:
    hosts: dict[str, str] = field(default_factory=dict)  # name → address
    require_auth: str | None = None  # the Proxy-Authorization value it wants, else 407
    refuse: int | None = None  # answer CONNECT with this status instead
    seen: list[Seen] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Closes the open connections too, so a test's event loop ends with none left behind."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def url(self, credentials: str = "") -> str:
        return f"http://{credentials + '@' if credentials else ''}127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        self.seen.append(Seen(method, target, headers.get("proxy-authorization")))
        if self.require_auth is not None and headers.get("proxy-authorization") != self.require_auth:
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            if self.refuse is not None:
                writer.write(f"HTTP/1.1 {self.refuse} Forbidden\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
                writer.close()
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(self.hosts.get(host, host), int(port))
            self._writers.add(upstream_writer)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await _pipe_both(reader, writer, upstream_reader, upstream_writer)
            return
        # An http request in absolute form: one exchange per connection is enough for the tests.
        parts = urlsplit(target)
        host = parts.hostname or ""
        upstream_reader, upstream_writer = await asyncio.open_connection(self.hosts.get(host, host), parts.port or 80)
        self._writers.add(upstream_writer)
        origin_form = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        kept = [line for line in lines[1:] if line and not line.lower().startswith("proxy-authorization")]
        upstream_writer.write(
            ("\r\n".join([f"{method} {origin_form} HTTP/1.1", *kept, "Connection: close"]) + "\r\n\r\n").encode()
        )
        await _pipe_both(reader, writer, upstream_reader, upstream_writer)


async def _pipe_both(
    a_reader: asyncio.StreamReader,
    a_writer: asyncio.StreamWriter,
    b_reader: asyncio.StreamReader,
    b_writer: asyncio.StreamWriter,
) -> None:
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(Exception):
            writer.close()

    await asyncio.gather(pipe(a_reader, b_writer), pipe(b_reader, a_writer))
