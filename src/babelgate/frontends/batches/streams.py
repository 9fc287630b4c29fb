"""Large files and answers read and sent a piece at a time: a file's contents a mebibyte at a time, a message
batch's results a page of outcomes at a time, a stored batch file's lines as they are checked or cut into chunks,
so that a 200 MiB file or a 100,000-line batch never sits in memory. A failure after an answer's first bytes cuts
its body (`answer.StreamCut`: the connection is dropped), so a client never takes a truncated file for a whole
one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

from babelgate.answer import Answer, StreamCut
from babelgate.errors import GatewayError
from babelgate.frontends.batches.jsonl import Line, invalid
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


async def stored_lines(contents: FileContents, file_id: str, longest: int) -> AsyncIterator[Line]:
    """A stored file's lines that are not blank, read a piece at a time (jsonl.Line: number, start, stop, bytes);
    a line longer than `longest` bytes is refused (no request it could hold would be taken)."""
    number = base = 0  # `base`: where `carry` begins in the file
    carry = b""
    while True:
        piece = await contents.read(file_id, base + len(carry), base + len(carry) + PIECE)
        data = carry + piece if carry else piece
        start = 0
        while True:
            stop = data.find(b"\n", start)
            if stop < 0:
                break
            number += 1
            if stop - start > longest:
                raise invalid(number, f"longer than {longest} bytes")
            if data[start:stop].strip():
                yield number, base + start, base + stop, data[start:stop]
            start = stop + 1
        base, carry = base + start, data[start:]
        if len(carry) > longest:
            raise invalid(number + 1, f"longer than {longest} bytes")
        if len(piece) < PIECE:
            if carry.strip():
                yield number + 1, base, base + len(carry), carry
            return
