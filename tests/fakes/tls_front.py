"""TLS in front of a plain-HTTP port (a certificate of tests/fakes/pki.py): the gateway as it is served behind a
proxy that ends TLS, for clients that behave otherwise over HTTPS."""

from __future__ import annotations

import asyncio
import ssl


class TlsFront:
    """TLS in front of a plain-HTTP port: each connection's bytes piped both ways."""

    def __init__(self, port: int, certificate: str) -> None:
        self.port = port
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(certificate)
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", 0, ssl=self.context)
        self.url = f"https://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        back_reader, back_writer = await asyncio.open_connection("127.0.0.1", self.port)
        await asyncio.gather(_copy(reader, back_writer), _copy(back_reader, writer), return_exceptions=True)


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
