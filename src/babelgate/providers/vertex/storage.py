"""The few Cloud Storage calls a Vertex batch needs, through the JSON API with the provider's own bearer token
(GCS = Cloud Storage's JSON API reference: `objects.insert` as a media upload, `objects.list`, `objects.get` with
`alt=media`): the batch's input file is written to `batch_bucket`, and the job's predictions read back from it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode

from babelgate.errors import UpstreamProtocolError
from babelgate.http import UpstreamResponse
from babelgate.providers.transport import Upstream, read_json_object

ROOT: Final = "https://storage.googleapis.com"  # `options.storage_url` in tests
_LIST_PAGES: Final = 100  # pages of a listing followed at most (a job writes a handful of files)


@dataclass(frozen=True, slots=True)
class BucketPath:
    """`gs://bucket/prefix`, parsed: the bucket, and the folder (no slash at either end; may be empty)."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, uri: str) -> BucketPath:
        if not uri.startswith("gs://"):
            raise ValueError("batch_bucket: expected gs://bucket or gs://bucket/prefix")
        bucket, _, prefix = uri.removeprefix("gs://").partition("/")
        if not bucket or any(char in bucket for char in "?#"):
            raise ValueError("batch_bucket: expected gs://bucket or gs://bucket/prefix")
        return cls(bucket, prefix.strip("/"))

    def object_name(self, *parts: str) -> str:
        return "/".join(part for part in (self.prefix, *parts) if part)

    def uri(self, object_name: str) -> str:
        return f"gs://{self.bucket}/{object_name}"

    def object_of(self, uri: str) -> str | None:
        """The object name of a `gs://` URI in this bucket; None for another bucket's."""
        head = f"gs://{self.bucket}/"
        return uri[len(head) :] if uri.startswith(head) else None


@dataclass(frozen=True, slots=True)
class CloudStorage:
    root: str
    path: BucketPath
    upstream: Upstream  # carries the provider's bearer tokens and maps Google's error bodies

    def _objects(self) -> str:
        return f"{self.root}/storage/v1/b/{quote(self.path.bucket, safe='')}/o"

    async def upload(self, object_name: str, body: bytes) -> None:
        query = urlencode({"uploadType": "media", "name": object_name})
        url = f"{self.root}/upload/storage/v1/b/{quote(self.path.bucket, safe='')}/o?{query}"
        await read_json_object(
            await self.upstream.post(url, body, {"content-type": "application/jsonl"}), self.upstream.provider
        )

    async def names(self, prefix: str) -> AsyncIterator[str]:
        """The names of the objects under `prefix`, page by page."""
        token = ""
        for _ in range(_LIST_PAGES):
            query = {"prefix": prefix, "fields": "items(name),nextPageToken"}
            if token:
                query["pageToken"] = token
            _, page = await read_json_object(
                await self.upstream.get(f"{self._objects()}?{urlencode(query)}"), self.upstream.provider
            )
            items = page.get("items", [])  # an empty listing has no `items`
            if not isinstance(items, list):
                raise UpstreamProtocolError(provider=self.upstream.provider, detail="the listing has no items")
            for item in items:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    yield item["name"]
            token = page.get("nextPageToken") or ""
            if not isinstance(token, str) or not token:
                return

    def download(self, object_name: str) -> Coroutine[Any, Any, UpstreamResponse]:
        """The object's bytes, for the caller to read as they arrive."""
        return self.upstream.get(f"{self._objects()}/{quote(object_name, safe='')}?alt=media")
