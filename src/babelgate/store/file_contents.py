"""Where uploaded files' contents live (their records are in the batch store): a directory, one file per id,
written to a temporary name and renamed so that a reader never sees half of one (blocking file I/O on the loop's
default executor, never on the loop); or an S3-compatible bucket (s3_contents.py)."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import BinaryIO, Final, Protocol

# Ids are the gateway's own (`file-` and 24 letters and digits); checked again before one names a path.
_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ContentWriter(Protocol):
    async def append(self, data: bytes) -> None: ...

    async def commit(self) -> int:
        """Makes the contents visible under the id; answers their size."""

    async def discard(self) -> None: ...


class FileContents(Protocol):
    async def write(self, file_id: str, data: bytes) -> None: ...

    def writer(self, file_id: str) -> ContentWriter:
        """Contents written piece by piece (a batch's output), visible once committed."""

    async def read(self, file_id: str, start: int = 0, stop: int | None = None) -> bytes:
        """Bytes `[start, stop)` of the contents (all of them by default); FileNotFoundError when absent."""

    async def delete(self, file_id: str) -> None:
        """Gone (absent already is no error)."""

    async def close(self) -> None:
        """Releases connections; the contents are not used afterwards."""


def checked_id(file_id: str) -> str:
    if not _ID.fullmatch(file_id):
        raise ValueError(f"not a file id: {file_id!r}")
    return file_id


class DirectoryContents:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, file_id: str) -> Path:
        return self.root / checked_id(file_id)

    async def write(self, file_id: str, data: bytes) -> None:
        writer = self.writer(file_id)
        await writer.append(data)
        await writer.commit()

    def writer(self, file_id: str) -> ContentWriter:
        return _DirectoryWriter(self._path(file_id))

    async def read(self, file_id: str, start: int = 0, stop: int | None = None) -> bytes:
        return await asyncio.to_thread(_read, self._path(file_id), start, stop)

    async def delete(self, file_id: str) -> None:
        await asyncio.to_thread(self._path(file_id).unlink, missing_ok=True)

    async def close(self) -> None:
        pass


def _read(path: Path, start: int, stop: int | None) -> bytes:
    with path.open("rb") as file:
        file.seek(start)
        return file.read() if stop is None else file.read(stop - start)


class _DirectoryWriter:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
        self._file: BinaryIO | None = None
        self._size = 0

    def _open(self) -> BinaryIO:
        if self._file is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self._temporary.open("wb")
        return self._file

    async def append(self, data: bytes) -> None:
        self._size += len(data)
        await asyncio.to_thread(lambda: self._open().write(data))

    async def commit(self) -> int:
        def finish() -> None:
            file = self._open()
            file.flush()
            os.fsync(file.fileno())
            file.close()
            os.replace(self._temporary, self._path)

        await asyncio.to_thread(finish)
        return self._size

    async def discard(self) -> None:
        def drop() -> None:
            if self._file is not None:
                self._file.close()
            self._temporary.unlink(missing_ok=True)

        await asyncio.to_thread(drop)
