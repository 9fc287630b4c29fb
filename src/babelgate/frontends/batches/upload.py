"""An upload to `/v1/files` read as it arrives: the `multipart/form-data` body parsed piece by piece, its file
part written straight to the files' contents (a directory, or a bucket through a spooled temporary file), its
other fields kept (each small). A 200 MiB upload never sits in memory, and one past `files.max_bytes` is refused
as soon as it passes the bound."""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Final

from babelgate.errors import InvalidRequest, RequestTooLarge
from babelgate.exchange import WHOLE_BODY, ClientGone, Exchange
from babelgate.store.file_contents import ContentWriter

_HEADERS: Final = email.parser.BytesHeaderParser(policy=email.policy.HTTP)
_HEAD_MOST: Final = 16 * 1024  # a part's headers
_FIELD_MOST: Final = 64 * 1024  # a field that is not the file


@dataclass(slots=True)
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None  # the file part's, once one was read
    size: int = 0  # its bytes


def boundary_of(content_type: str | None) -> bytes:
    kind = (content_type or "").lower()
    if not kind.startswith("multipart/form-data") or "boundary=" not in kind:
        raise InvalidRequest(
            "invalid_value", param="content-type", detail="expected multipart/form-data with a boundary"
        )
    assert content_type is not None
    value = content_type[content_type.lower().index("boundary=") + 9 :].split(";")[0].strip().strip('"')
    if not value:
        raise InvalidRequest(
            "invalid_value", param="content-type", detail="expected multipart/form-data with a boundary"
        )
    return value.encode("latin-1")


async def body_pieces(exchange: Exchange, limit: int) -> AsyncIterator[bytes]:
    """The request's body as it arrives, refused with 413 as soon as it is known to pass `limit`."""
    declared = exchange.header(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(limit=limit)
    whole = getattr(getattr(exchange.receive, "__self__", None), WHOLE_BODY, None)
    body = whole() if whole is not None else None
    if body is not None:  # all of it came with the head
        if len(body) > limit:
            raise RequestTooLarge(limit=limit)
        exchange.call.body_size = len(body)
        yield body
        return
    received = 0
    while True:
        message = await exchange.receive()
        if message["type"] == "http.disconnect":
            exchange.disconnected = True
            raise ClientGone()
        piece = message.get("body", b"")
        if piece:
            received += len(piece)
            if received > limit:
                raise RequestTooLarge(limit=limit)
            exchange.call.body_size = received
            yield piece
        if not message.get("more_body", False):
            return


async def read_form(
    pieces: AsyncIterator[bytes], boundary: bytes, writer: Callable[[], ContentWriter], file_field: str = "file"
) -> tuple[Form, ContentWriter | None]:
    """The form's fields, and the writer its file part went to (not committed: the caller decides)."""
    delimiter = b"\r\n--" + boundary
    keep = len(delimiter) - 1  # bytes held back at a piece's end: a delimiter may begin there
    form = Form()
    written: ContentWriter | None = None
    buffer = b"\r\n"  # the first delimiter has no line break before it
    state = "preamble"
    name: str | None = None
    value = bytearray()
    target: ContentWriter | None = None
    try:
        async for piece in pieces:
            buffer += piece
            while True:
                if state == "preamble":
                    found = buffer.find(delimiter)
                    if found < 0:
                        buffer = buffer[-keep:]
                        break
                    buffer, state = buffer[found + len(delimiter) :], "after"
                if state == "after":
                    if len(buffer) < 2:
                        break
                    if buffer[:2] == b"--":
                        return form, written
                    if buffer[:2] != b"\r\n":
                        raise _malformed("a boundary is not followed by a line break")
                    buffer, state = buffer[2:], "headers"
                if state == "headers":
                    end = buffer.find(b"\r\n\r\n")
                    if end < 0:
                        if len(buffer) > _HEAD_MOST:
                            raise _malformed("a part's headers are too long")
                        break
                    headers = _HEADERS.parsebytes(buffer[:end] + b"\r\n\r\n")
                    buffer, state = buffer[end + 4 :], "data"
                    name = headers.get_param("name", header="content-disposition")  # type: ignore[assignment]
                    if not isinstance(name, str) or not name:
                        raise _malformed("a form part has no name")
                    filename = headers.get_filename()
                    value = bytearray()
                    target = None
                    if filename is not None and name == file_field:
                        if written is not None:
                            raise _malformed(f"more than one '{file_field}' part")
                        form.filename = filename
                        target = written = writer()
                if state == "data":
                    found = buffer.find(delimiter)
                    end = found if found >= 0 else max(0, len(buffer) - keep)
                    if end:
                        await _take(form, target, value, buffer[:end])
                        buffer = buffer[end:]
                    if found < 0:
                        break
                    if target is None and name is not None:
                        form.fields[name] = value.decode("utf-8", "replace")
                    buffer, state, name = buffer[len(delimiter) :], "after", None
        raise _malformed("the body ends before its closing boundary")
    except BaseException:
        if written is not None:
            await written.discard()
        raise


async def _take(form: Form, target: ContentWriter | None, value: bytearray, data: bytes) -> None:
    if target is not None:
        form.size += len(data)
        await target.append(data)
    else:
        value += data
        if len(value) > _FIELD_MOST:
            raise _malformed("a form field is too long")


def _malformed(detail: str) -> InvalidRequest:
    return InvalidRequest("invalid_value", param="body", detail=detail)
