"""Reading an upstream answer's body: whole, as it arrives, or the little left after a stream's end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from babelgate.errors import GatewayError
from babelgate.http.seam import UpstreamResponse


async def read_body(response: UpstreamResponse) -> bytes:
    """The whole body; the connection goes back to the pool, or is dropped if the read fails."""
    try:
        return await response.read()
    except BaseException:
        response.close()
        raise


async def iter_body(response: UpstreamResponse) -> AsyncGenerator[bytes, None]:
    """The body's bytes as they arrive; the connection is closed if the reader stops early."""
    try:
        while True:
            chunk = await response.readany()
            if not chunk:
                return
            yield chunk
    finally:
        let_go(response)


def let_go(response: UpstreamResponse) -> None:
    """Done with an answer: its connection goes back to the pool when the body was read to its end.
    Closing (not releasing) an unfinished answer drops the upstream connection, so the upstream stops
    generating when our client has gone."""
    if response.at_eof():
        response.release()
    else:
        response.close()


async def drain(response: UpstreamResponse, *, seconds: float = 1.0, max_bytes: int = 65536) -> None:
    """Read what little follows a stream's logical end (the chunked terminator), so the
    connection goes back to the pool instead of being closed; give up quickly if more comes."""
    if response.at_eof():
        return
    received = 0
    try:
        async with asyncio.timeout(seconds):
            while not response.at_eof() and received <= max_bytes:
                received += len(await response.readany())
    except (TimeoutError, GatewayError):
        pass
