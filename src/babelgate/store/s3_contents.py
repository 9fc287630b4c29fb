"""Files' contents in an S3-compatible bucket (AWS S3, MinIO, R2, GCS's S3 API): one object per file id under
`prefix`, each request signed with botocore's SigV4 signer and its credential chain (environment, shared files,
an instance's role), sent with aiohttp. A custom `endpoint_url` is addressed path-style (what MinIO and most
S3-compatible servers expect), AWS itself virtual-hosted-style.

botocore's credential chain may block (a metadata service, a credentials process): it is asked on a worker
thread. What is written piece by piece (a batch's output) waits in a temporary file that spills to disk past a
few megabytes, and goes up in one PUT when committed, so a large output never sits in memory."""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any, Final
from urllib.parse import quote

import aiohttp

from babelgate.store.file_contents import ContentWriter, checked_id

_SPOOL_BYTES: Final = 4 * 1024 * 1024  # a writer's pieces kept in memory up to this, on disk past it
_TIMEOUT: Final = aiohttp.ClientTimeout(total=300, connect=10)


class S3Error(OSError):
    """The bucket refused or failed a request (its status and S3's error code, never a credential)."""


class S3Contents:
    def __init__(self, bucket: str, region: str, endpoint_url: str | None, prefix: str) -> None:
        self.bucket, self.region, self.prefix = bucket, region, prefix
        if endpoint_url:
            self._base = f"{endpoint_url.rstrip('/')}/{quote(bucket)}/"
        else:
            self._base = f"https://{bucket}.s3.{region}.amazonaws.com/"
        self._session: aiohttp.ClientSession | None = None
        self._credentials: Any = None

    def _url(self, file_id: str) -> str:
        return self._base + quote(self.prefix + checked_id(file_id))

    async def _signed(self, method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
        def sign() -> dict[str, str]:
            from botocore.auth import S3SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.session import get_session

            if self._credentials is None:
                self._credentials = get_session().get_credentials()
                if self._credentials is None:
                    raise S3Error("no AWS credentials found for the files bucket")
            request = AWSRequest(
                method=method, url=url, headers={**headers, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
            )
            S3SigV4Auth(self._credentials.get_frozen_credentials(), "s3", self.region).add_auth(request)
            return dict(request.headers.items())

        return await asyncio.to_thread(sign)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=_TIMEOUT)
        return self._session

    async def _request(
        self, method: str, file_id: str, *, data: Any = None, headers: dict[str, str] | None = None
    ) -> bytes:
        url = self._url(file_id)
        signed = await self._signed(method, url, headers or {})
        async with self._client().request(method, url, data=data, headers=signed) as answer:
            body = await answer.read()
            if answer.status == 404 and method == "GET":
                raise FileNotFoundError(file_id)
            if answer.status >= 300 and not (answer.status == 404 and method == "DELETE"):
                raise S3Error(f"the files bucket answered {method} with {answer.status}: {_code(body)}")
            return body

    async def write(self, file_id: str, data: bytes) -> None:
        await self._request("PUT", file_id, data=data, headers={"Content-Length": str(len(data))})

    def writer(self, file_id: str) -> ContentWriter:
        return _S3Writer(self, file_id)

    async def read(self, file_id: str, start: int = 0, stop: int | None = None) -> bytes:
        if start == 0 and stop is None:
            return await self._request("GET", file_id)
        last = "" if stop is None else str(stop - 1)
        if stop is not None and stop <= start:
            return b""
        return await self._request("GET", file_id, headers={"Range": f"bytes={start}-{last}"})

    async def delete(self, file_id: str) -> None:
        await self._request("DELETE", file_id)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _code(body: bytes) -> str:
    """S3's error code out of its XML answer, or nothing."""
    start, end = body.find(b"<Code>"), body.find(b"</Code>")
    return body[start + 6 : end].decode("utf-8", "replace") if 0 <= start < end else "no error code"


class _S3Writer:
    def __init__(self, contents: S3Contents, file_id: str) -> None:
        self._contents, self._id = contents, file_id
        self._file: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (closed by commit or discard)
        self._size = 0

    async def append(self, data: bytes) -> None:
        self._size += len(data)
        await asyncio.to_thread(self._file.write, data)

    async def commit(self) -> int:
        try:
            await asyncio.to_thread(self._file.seek, 0)
            data = await asyncio.to_thread(self._file.read) if self._size <= _SPOOL_BYTES else self._file
            await self._contents._request("PUT", self._id, data=data, headers={"Content-Length": str(self._size)})
        finally:
            self._file.close()
        return self._size

    async def discard(self) -> None:
        self._file.close()
