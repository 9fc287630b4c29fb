"""The Vertex provider's `ProviderBatches` part, for Gemini models: batch prediction jobs (batch_jobs.py) over a
JSONL file in the provider's `batch_bucket` (storage.py). Each line is the generateContent body the Google road's
`chat` would send, and each answer is read back with the same translator."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from babelgate.errors import UnsupportedCapability, UpstreamProtocolError
from babelgate.providers.batch import BatchLine, BatchOutcome, ProviderBatchStatus, checked_lines, jsonl_objects
from babelgate.providers.gemini.translate import from_wire
from babelgate.providers.transport import Upstream, read_json_object
from babelgate.providers.vertex import batch_jobs, wire
from babelgate.providers.vertex.storage import CloudStorage

if TYPE_CHECKING:
    from babelgate.providers.gemini.provider import GeminiProvider


class VertexBatches:
    def __init__(
        self,
        *,
        provider: str,
        google: GeminiProvider,
        upstream: Upstream,
        storage: CloudStorage,
        base_url: str,
        root: str,
        jobs_prefix: str,
        scrub: Callable[[str], str],
    ) -> None:
        self._provider = provider
        self._google = google
        self._upstream = upstream
        self._storage = storage
        self._base_url = base_url  # a job's URL is `{base_url}/v1/{name}`
        self._jobs_url = f"{root}/batchPredictionJobs"
        self._jobs_prefix = jobs_prefix  # `projects/{p}/locations/{l}/batchPredictionJobs/`
        self._scrub = scrub

    @staticmethod
    def takes(model: str) -> bool:
        """Gemini models only: Claude's and partner models' batch formats are not translated here."""
        return wire.road(model) is wire.Road.GOOGLE

    async def submit(self, model: str, lines: Sequence[BatchLine]) -> str:
        if not self.takes(model):
            raise UnsupportedCapability(provider=self._provider, capability=f"batch prediction with {model}")
        body = b"".join(
            [
                batch_jobs.input_line(line.custom_id, await self._google.generate_content_body(line.request, model))
                + b"\n"
                for line in checked_lines(lines)
            ]
        )
        # One folder per job, so that its input and its predictions are never another job's.
        folder = self._storage.path.object_name(f"babelgate-{uuid.uuid4().hex}")
        input_name = f"{folder}/input.jsonl"
        await self._storage.upload(input_name, body)
        job = batch_jobs.job_body(
            f"babelgate {model} ({len(lines)} lines)",
            model,
            self._storage.path.uri(input_name),
            self._storage.path.uri(f"{folder}/output"),
        )
        _, made = await read_json_object(await self._upstream.post(self._jobs_url, orjson.dumps(job)), self._provider)
        return batch_jobs.job_name(made, self._jobs_prefix, self._provider)

    def _job_url(self, batch_id: str) -> str:
        return f"{self._base_url}/{wire.API_VERSION}/{batch_jobs.checked_name(batch_id, self._jobs_prefix)}"

    async def status(self, batch_id: str) -> ProviderBatchStatus:
        return batch_jobs.status_of(await self._upstream.get_json(self._job_url(batch_id)), self._provider)

    async def results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        """The lines of every predictions file the job wrote (a cancelled job may have written some)."""
        job = await self._upstream.get_json(self._job_url(batch_id))
        directory = batch_jobs.output_directory(job)
        if directory is None:
            return
        prefix = self._storage.path.object_of(directory)
        if prefix is None:  # only the configured bucket is read, with this provider's token
            raise UpstreamProtocolError(provider=self._provider, detail="the job wrote outside batch_bucket")
        model, created = batch_jobs.model_of(job), int(time.time())

        def answer(body: dict[str, Any]) -> Any:
            return from_wire(body, created=created, model=model)

        names = [name async for name in self._storage.names(prefix.rstrip("/") + "/")]
        for name in names:
            if not batch_jobs.is_predictions_file(name):
                continue
            response = await self._storage.download(name)
            async for line in jsonl_objects(response, self._provider):
                yield batch_jobs.outcome_of(line, from_wire=answer, provider=self._provider, scrub=self._scrub)

    async def cancel(self, batch_id: str) -> None:
        await read_json_object(await self._upstream.post(self._job_url(batch_id) + ":cancel", b"{}"), self._provider)
