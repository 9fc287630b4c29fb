"""Large answers of the files and batches routes sent as they are read (a file's contents a mebibyte at a time, a
message batch's results a page of outcomes at a time), so that a 200 MiB file or a 100,000-line batch never sits
in memory. A failure after the first bytes cuts the body (`answer.StreamCut`: the connection is dropped), so a
client never takes a truncated file for a whole one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

from babelgate.answer import Answer, StreamCut
from babelgate.errors import GatewayError
from babelgate.store.file_contents import FileContents

PIECE: Final = 1024 * 1024
OCTETS: Final = (b"content-type", b"application/octet-stream")


async def streamed(first: bytes, rest: AsyncIterator[bytes], content_type: tuple[bytes, bytes]) -> Answer:
    """An answer whose first piece is in hand (a failure before it is still an ordinary error answer)."""
    return Answer(first, None, content_type=content_type, rest=_cut_on_error(rest), on_error=_no_event)


def _no_event(error: GatewayError, language: str) -> Any:
    raise StreamCut(error)


async def _cut_on_error(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for piece in pieces:
            yield piece
    except GatewayError as error:
        raise StreamCut(error) from None
    except Exception:  # a disk's or a bucket's failure: the gateway's, never the client's leaving
        raise StreamCut(GatewayError()) from None


async def file_answer(contents: FileContents, file_id: str) -> Answer:
    """A file's contents; FileNotFoundError before anything is sent when they are gone."""
    first = await contents.read(file_id, 0, PIECE)
    return await streamed(first, _rest_of(contents, file_id, len(first)), OCTETS)


async def _rest_of(contents: FileContents, file_id: str, start: int) -> AsyncIterator[bytes]:
    if start < PIECE:
        return
    while True:
        piece = await contents.read(file_id, start, start + PIECE)
        if piece:
            yield piece
        if len(piece) < PIECE:
            return
        start += len(piece)


async def paged(page: Callable[[int], Awaitable[tuple[bytes, int | None]]]) -> AsyncIterator[bytes]:
    """The pieces `page(after)` answers, each with where the next begins (None: it was the last)."""
    after: int | None = -1
    while after is not None:
        piece, after = await page(after)
        if piece:
            yield piece
