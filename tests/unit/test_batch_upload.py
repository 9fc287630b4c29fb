"""An upload read as it arrives (frontends/batches/upload.py) and a stored file read a piece at a time
(streams.py): whatever the pieces' sizes, the same fields, the same file bytes, the same lines; and malformed
forms refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from babelgate.errors import InvalidRequest
from babelgate.frontends.batches import jsonl, streams
from babelgate.frontends.batches.upload import boundary_of, read_form
from babelgate.store.file_contents import DirectoryContents


class Kept:
    def __init__(self) -> None:
        self.data = bytearray()
        self.discarded = False

    async def append(self, data: bytes) -> None:
        self.data += data

    async def commit(self) -> int:
        return len(self.data)

    async def discard(self) -> None:
        self.discarded = True


def form_body(file_bytes: bytes) -> tuple[bytes, str]:
    request = httpx.Request(
        "POST",
        "http://x/v1/files",
        data={"purpose": "batch", "expires_after[seconds]": "3600"},
        files={"file": ("in.jsonl", file_bytes, "application/jsonl")},
    )
    return request.read(), request.headers["content-type"]


async def pieces_of(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 17, 64, 1000, 1 << 20])
async def test_the_form_is_read_the_same_whatever_the_pieces(size: int) -> None:
    file_bytes = b"\r\n--not-the-boundary\r\n" + bytes(range(256)) * 20 + b"\r\n-"
    body, content_type = form_body(file_bytes)
    kept = Kept()
    form, writer = await read_form(pieces_of(body, size), boundary_of(content_type), lambda: kept)
    assert writer is kept and bytes(kept.data) == file_bytes and form.size == len(file_bytes)
    assert form.filename == "in.jsonl"
    assert form.fields == {"purpose": "batch", "expires_after[seconds]": "3600"}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue', "closing boundary"),
        (b"--B\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--B--\r\n", "no name"),
        (b"--Bxx", "line break"),
    ],
)
async def test_a_malformed_form_is_refused(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await read_form(pieces_of(body, 4), b"B", Kept)
    assert reason in refused.value.params["detail"]


async def test_a_refused_form_discards_what_its_file_wrote() -> None:
    body, content_type = form_body(b"data")
    kept = Kept()
    with pytest.raises(InvalidRequest):
        await read_form(pieces_of(body[:-20], 7), boundary_of(content_type), lambda: kept)
    assert kept.discarded


def test_the_boundary_is_required() -> None:
    assert boundary_of('multipart/form-data; boundary="ab c"') == b"ab c"
    for wrong in (None, "application/json", "multipart/form-data", "multipart/form-data; boundary="):
        with pytest.raises(InvalidRequest):
            boundary_of(wrong)


@pytest.mark.parametrize("piece", [1, 4, 9, 64, 1 << 20])
async def test_stored_lines_match_the_lines_of_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    monkeypatch.setattr(streams, "PIECE", piece)
    data = b"\n  \n" + b"\n".join(b'{"n": %d, "pad": "%s"}' % (n, b"x" * n) for n in range(30)) + b"\r\n\n{}"
    contents = DirectoryContents(tmp_path)
    await contents.write("file-1", data)
    found = [line async for line in streams.stored_lines(contents, "file-1", 1000)]
    assert found == list(jsonl.lines_of(data))
    for _, start, stop, raw in found:
        assert data[start:stop] == raw
    with pytest.raises(InvalidRequest) as refused:
        _ = [line async for line in streams.stored_lines(contents, "file-1", 20)]
    assert "longer than 20 bytes" in refused.value.params["reason"]
