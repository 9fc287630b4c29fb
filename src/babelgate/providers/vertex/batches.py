"""The Vertex provider's `ProviderBatches` part, for Gemini and Claude models: batch prediction jobs (batch_jobs.py)
over a JSONL file in the provider's `batch_bucket` (storage.py). Each line is the body the model's road would send
from `chat` (Gemini's generateContent body, Claude's rawPredict body), and each answer is read back with the same
translator."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate import tool_ids
from babelgate.errors import UnsupportedCapability, UpstreamProtocolError
from babelgate.providers.batch import BatchLine, BatchOutcome, ProviderBatchStatus, checked_lines, jsonl_objects
from babelgate.providers.gemini.translate import from_wire
from babelgate.providers.transport import Upstream, read_json_object
from babelgate.providers.vertex import batch_jobs, wire
from babelgate.providers.vertex.storage import CloudStorage
from babelgate.providers.vertex.translate import raw_predict_body
from babelgate.schema.chat import ChatRequest, ChatResponse

if TYPE_CHECKING:
    from babelgate.providers.anthropic.provider import AnthropicProvider
    from babelgate.providers.gemini.provider import GeminiProvider

# Each road's publisher, as batch prediction names the model (`publishers/{publisher}/models/{model}`).
PUBLISHERS: Final = {wire.Road.GOOGLE: "google", wire.Road.ANTHROPIC: "anthropic"}


class VertexBatches:
    def __init__(
        self,
        *,
        provider: str,
        google: GeminiProvider,
        claude: AnthropicProvider | None,
        upstream: Upstream,
        storage: CloudStorage,
        base_url: str,
        root: str,
        jobs_prefix: str,
        scrub: Callable[[str], str],
    ) -> None:
        self._provider = provider
        self._google = google
        self._claude = claude
        self._upstream = upstream
        self._storage = storage
        self._base_url = base_url  # a job's URL is `{base_url}/v1/{name}`
        self._jobs_url = f"{root}/batchPredictionJobs"
        self._jobs_prefix = jobs_prefix  # `projects/{p}/locations/{l}/batchPredictionJobs/`
        self._scrub = scrub

    @staticmethod
    def takes(model: str) -> bool:
        """Gemini and Claude models; partner and open models (`endpoints/openapi`) have no batch format here."""
        return wire.road(model) in PUBLISHERS

    async def _request(self, request: ChatRequest, model: str, road: wire.Road) -> dict[str, Any]:
        if road is wire.Road.ANTHROPIC and self._claude is not None:  # tool-call ids without Gemini's signatures
            return raw_predict_body(self._claude.messages_body(tool_ids.strip_request(request), model))
        return await self._google.generate_content_body(request, model)

    async def submit(self, model: str, lines: Sequence[BatchLine]) -> str:
        road = wire.road(model)
        publisher = PUBLISHERS.get(road)
        if publisher is None or (road is wire.Road.ANTHROPIC and self._claude is None):
            raise UnsupportedCapability(provider=self._provider, capability=f"batch prediction with {model}")
        body = b"".join(
            [
                batch_jobs.input_line(publisher, line.custom_id, await self._request(line.request, model, road)) + b"\n"
                for line in checked_lines(lines)
            ]
        )
        # One folder per job, so that its input and its predictions are never another job's.
        folder = self._storage.path.object_name(f"babelgate-{uuid.uuid4().hex}")
        input_name = f"{folder}/input.jsonl"
        await self._storage.upload(input_name, body)
        job = batch_jobs.job_body(
            f"babelgate {model} ({len(lines)} lines)",
            publisher,
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
        publisher, model, created = batch_jobs.publisher_of(job), batch_jobs.model_of(job), int(time.time())
        answer = self._reader(publisher, model, created)
        folder = prefix.rstrip("/") + "/"
        names = [name async for name in self._storage.names(folder)]
        for name in names:
            # The directory's own predictions files, not a subfolder's (the progress a running job exports).
            if "/" in name[len(folder) :] or not batch_jobs.is_predictions_file(name):
                continue
            response = await self._storage.download(name)
            async for line in jsonl_objects(response, self._provider):
                yield batch_jobs.outcome_of(
                    line, publisher=publisher, answer=answer, provider=self._provider, scrub=self._scrub
                )

    def _reader(self, publisher: str, model: str, created: int) -> Callable[[dict[str, Any]], ChatResponse]:
        """The translator of the publisher's answers, as its road's `chat` reads one."""
        claude = self._claude
        if publisher == "anthropic" and claude is not None:
            return lambda message: claude.batch_answer(message, created)

        def gemini(body: dict[str, Any]) -> ChatResponse:
            if "candidates" not in body and "promptFeedback" not in body:  # not a GenerateContentResponse
                raise ValueError("the body has no candidates")
            return from_wire(body, created=created, model=model)

        return gemini

    async def cancel(self, batch_id: str) -> None:
        await read_json_object(await self._upstream.post(self._job_url(batch_id) + ":cancel", b"{}"), self._provider)
