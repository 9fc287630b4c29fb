"""One S3-compatible bucket's objects (AWS S3, MinIO, R2, GCS's S3 API): put, read (whole, a range, or streamed
piece by piece) and delete, each request signed with botocore's S3 SigV4 signer and sent with aiohttp. A custom
`endpoint_url` is addressed path-style (what MinIO and most S3-compatible servers expect), AWS itself
virtual-hosted-style.

Who signs is the caller's to say (`credentials`: an awaitable of botocore-style credentials, `access_key`,
`secret_key` and `token`): the files' bucket uses botocore's credential chain, a Bedrock provider its own
credentials. Used by the files' contents (store/s3_contents.py) and Bedrock's batch jobs (providers/bedrock/).
aiohttp and botocore are imported at the first request (a gateway without a bucket loads neither), and a
connection's failure is an S3Error as the bucket's own refusals are."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

if TYPE_CHECKING:
    import aiohttp

_TOTAL_SECONDS: Final = 300
_CONNECT_SECONDS: Final = 10
_READ_PIECE: Final = 256 * 1024  # what a streamed read hands over at most at once

Credentials = Callable[[], Awaitable[Any]]


class S3Error(OSError):
    """The bucket refused or failed a request (its status and S3's error code, never a credential)."""


class S3Bucket:
    def __init__(self, bucket: str, region: str, endpoint_url: str | None, credentials: Credentials) -> None:
        self.bucket, self.region = bucket, region
        if endpoint_url:
            self._base = f"{endpoint_url.rstrip('/')}/{quote(bucket)}/"
        else:
            self._base = f"https://{bucket}.s3.{region}.amazonaws.com/"
        self._credentials = credentials
        self._session: aiohttp.ClientSession | None = None

    def url(self, key: str) -> str:
        return self._base + quote(key)

    async def _signed(self, method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest

        credentials = await self._credentials()
        request = AWSRequest(method=method, url=url, headers={**headers, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
        S3SigV4Auth(credentials, "s3", self.region).add_auth(request)
        return dict(request.headers.items())

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            import aiohttp

            timeout = aiohttp.ClientTimeout(total=_TOTAL_SECONDS, connect=_CONNECT_SECONDS)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def request(self, method: str, key: str, *, data: Any = None, headers: dict[str, str] | None = None) -> bytes:
        """The answer's body; a GET of an object that is not there is FileNotFoundError, a DELETE of one is done."""
        import aiohttp

        url = self.url(key)
        signed = await self._signed(method, url, headers or {})
        try:
            async with self._client().request(method, url, data=data, headers=signed) as answer:
                body = await answer.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise S3Error(f"the bucket could not be reached ({type(error).__name__})") from None
        _check(answer.status, method, key, body)
        return body

    async def put(self, key: str, data: Any, size: int, content_type: str | None = None) -> None:
        headers = {"Content-Length": str(size)}
        if content_type:
            headers["Content-Type"] = content_type
        await self.request("PUT", key, data=data, headers=headers)

    async def read(self, key: str, start: int = 0, stop: int | None = None) -> bytes:
        if start == 0 and stop is None:
            return await self.request("GET", key)
        if stop is not None and stop <= start:
            return b""
        last = "" if stop is None else str(stop - 1)
        return await self.request("GET", key, headers={"Range": f"bytes={start}-{last}"})

    async def pieces(self, key: str) -> AsyncGenerator[bytes, None]:
        """The object's bytes as they arrive (a large object is never held whole)."""
        import aiohttp

        url = self.url(key)
        signed = await self._signed("GET", url, {})
        try:
            async with self._client().get(url, headers=signed) as answer:
                if answer.status >= 300:
                    _check(answer.status, "GET", key, await answer.read())
                async for piece in answer.content.iter_chunked(_READ_PIECE):
                    yield piece
        except (aiohttp.ClientError, TimeoutError) as error:
            raise S3Error(f"the bucket could not be reached ({type(error).__name__})") from None

    async def delete(self, key: str) -> None:
        await self.request("DELETE", key)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _check(status: int, method: str, key: str, body: bytes) -> None:
    if status == 404 and method == "GET":
        raise FileNotFoundError(key)
    if status >= 300 and not (status == 404 and method == "DELETE"):
        raise S3Error(f"the bucket answered {method} with {status}: {_code(body)}")


def _code(body: bytes) -> str:
    """S3's error code out of its XML answer, or nothing."""
    start, end = body.find(b"<Code>"), body.find(b"</Code>")
    return body[start + 6 : end].decode("utf-8", "replace") if 0 <= start < end else "no error code"
