"""Files' contents in an S3-compatible bucket (http/s3.py's `S3Bucket`): one object per file id under `prefix`,
each request signed with botocore's credential chain (environment, shared files, an instance's role).

botocore's credential chain may block (a metadata service, a credentials process): it is asked on a worker
thread. What is written piece by piece (a batch's output) waits in a temporary file that spills to disk past a
few megabytes, and goes up in one PUT when committed, so a large output never sits in memory."""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any, Final

from babelgate.http.s3 import S3Bucket, S3Error
from babelgate.store.file_contents import ContentWriter, checked_id

__all__ = ["S3Contents", "S3Error"]

_SPOOL_BYTES: Final = 4 * 1024 * 1024  # a writer's pieces kept in memory up to this, on disk past it


class S3Contents:
    def __init__(self, bucket: str, region: str, endpoint_url: str | None, prefix: str) -> None:
        self.bucket, self.region, self.prefix = bucket, region, prefix
        self._credentials: Any = None
        self._objects = S3Bucket(bucket, region, endpoint_url, self._frozen_credentials)

    async def _frozen_credentials(self) -> Any:
        def lookup() -> Any:
            from botocore.session import get_session

            if self._credentials is None:
                self._credentials = get_session().get_credentials()
                if self._credentials is None:
                    raise S3Error("no AWS credentials found for the files bucket")
            return self._credentials.get_frozen_credentials()

        return await asyncio.to_thread(lookup)

    def _key(self, file_id: str) -> str:
        return self.prefix + checked_id(file_id)

    async def write(self, file_id: str, data: bytes) -> None:
        await self._objects.put(self._key(file_id), data, len(data))

    def writer(self, file_id: str) -> ContentWriter:
        return _S3Writer(self._objects, self._key(file_id))

    async def read(self, file_id: str, start: int = 0, stop: int | None = None) -> bytes:
        try:
            return await self._objects.read(self._key(file_id), start, stop)
        except FileNotFoundError:
            raise FileNotFoundError(file_id) from None

    async def delete(self, file_id: str) -> None:
        await self._objects.delete(self._key(file_id))

    async def close(self) -> None:
        await self._objects.close()


class _S3Writer:
    def __init__(self, objects: S3Bucket, key: str) -> None:
        self._objects, self._key = objects, key
        self._file: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (closed by commit or discard)
        self._size = 0

    async def append(self, data: bytes) -> None:
        self._size += len(data)
        await asyncio.to_thread(self._file.write, data)

    async def commit(self) -> int:
        try:
            await asyncio.to_thread(self._file.seek, 0)
            data = await asyncio.to_thread(self._file.read) if self._size <= _SPOOL_BYTES else self._file
            await self._objects.put(self._key, data, self._size)
        finally:
            self._file.close()
        return self._size

    async def discard(self) -> None:
        self._file.close()
