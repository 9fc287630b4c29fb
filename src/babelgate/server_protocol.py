"""uvicorn's httptools protocol, with a response's head and first body bytes sent as one.

uvicorn writes a response's head when the app sends `http.response.start` and its body when the
app sends `http.response.body`: two `send` system calls per answer, each running the loopback
TCP stack and waking the client. The gateway sends the body right after the head, so holding the
head until the body comes makes them one `writev` — measured in docs/performance.md. A head
with no body after it goes out at the end of that turn of the event loop; later writes (a
stream's chunks) go out at once, as before. Everything else is uvicorn's own protocol, unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """A transport that holds a response head (uvicorn's, starting with its status line) until the
    next write, which leaves with it, or the end of the current loop iteration, whichever comes
    first. Nothing is written around what is held, so the order of bytes never changes.

    Whatever is not about writing is the wrapped transport's own; closing sends what is pending
    first, aborting drops it (as the transport itself would)."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pending = self._pending
        if pending is not None:
            # The body after the head: both leave now (not at the end of the turn, so nothing the
            # app does after sending its answer delays it).
            self._pending = None
            pending.append(bytes(data))
            if not self._transport.is_closing():
                self._transport.writelines(pending)
        elif data[:5] == b"HTTP/":
            self._pending = [bytes(data)]
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            if len(pending) == 1:
                self._transport.write(pending[0])
            else:
                self._transport.writelines(pending)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def get_write_buffer_size(self) -> int:
        pending = self._pending
        return self._transport.get_write_buffer_size() + (sum(map(len, pending)) if pending else 0)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """The protocol `babelgate serve` runs uvicorn with."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
