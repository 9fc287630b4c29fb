"""The batches part: the store of files, batches and their lines' outcomes (its tables beside the response
store's), the uploaded files' contents (a directory or a bucket), and the batch engine that runs batches' lines
beside the requests (batch_engine/). A reload that changes the store, the files' place or the engine's settings
starts a new engine; the old one stops claiming, and what it had not recorded runs again once its leases end."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from babelgate.assembly.part import Closer
from babelgate.batch_engine.engine import BatchEngine
from babelgate.config.models import Config
from babelgate.frontends.route import Route
from babelgate.observability.request_id import RequestIds
from babelgate.store.batch_open import open_batch_store
from babelgate.store.file_contents import DirectoryContents, FileContents

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


class BatchesPart:
    def __init__(
        self, config: Config, current: Callable[[], Runtime], routes: Mapping[str, Route], ids: RequestIds
    ) -> None:
        self._current, self._routes, self._ids = current, routes, ids
        self._started = False
        self.engine = self._engine(config)

    def _engine(self, config: Config) -> BatchEngine:
        self._settings = (config.store.url, config.files, config.batches)
        store = open_batch_store(config.store.url, timeout=config.store.timeout)
        return BatchEngine(self._current, self._routes, self._ids, config.batches, store, contents_of(config))

    def start(self, lifespan: bool) -> None:
        self._started = True
        self.engine.start()

    def reload(self, config: Config) -> Sequence[Closer]:
        if (config.store.url, config.files, config.batches) == self._settings:
            return ()
        old = self.engine
        self.engine = self._engine(config)
        if self._started:
            self.engine.start()

        async def close() -> None:
            await old.aclose()
            await old.store.close()
            await old.contents.close()

        return (close,)

    async def aclose(self) -> None:
        await self.engine.aclose()
        await self.engine.store.close()
        await self.engine.contents.close()


def contents_of(config: Config) -> FileContents:
    bucket = config.files.s3
    if bucket is not None:
        # Imported only for a bucket: its HTTP client (aiohttp, ~14 MiB) stays out of a gateway that never needs it.
        from babelgate.store.s3_contents import S3Contents

        return S3Contents(bucket.bucket, bucket.region, bucket.endpoint_url, bucket.prefix)
    return DirectoryContents(config.files.dir)
