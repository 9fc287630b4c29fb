"""Thin I/O for Mistral: URL, Bearer auth, sending, and handing bodies to the translators."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.errors import UpstreamProtocolError
from babelgate.http import UpstreamClient
from babelgate.observability.logging import Scrubber
from babelgate.providers.base import CallNotes, Capabilities, ProviderDefaults, provider_timeouts
from babelgate.providers.batch import (
    BatchLine,
    BatchOutcome,
    ProviderBatches,
    ProviderBatchStatus,
    batches_on,
    checked_lines,
)
from babelgate.providers.key_pool import KeyPool
from babelgate.providers.mistral import batches, wire
from babelgate.providers.mistral.errors import map_error
from babelgate.providers.mistral.moderation import moderation_from_wire, moderation_to_wire
from babelgate.providers.mistral.stream import MistralStreamTranslator
from babelgate.providers.mistral.translate import embedding_from_wire, embedding_to_wire, from_wire, to_wire
from babelgate.providers.openai.batches import jsonl as jsonl_lines
from babelgate.providers.openai.batches import outcome_of, results, string_field, submitted
from babelgate.providers.openai.stream import stream_error
from babelgate.providers.sse import translate_sse
from babelgate.providers.transport import (
    Upstream,
    checked_embeddings,
    read_json_object,
)
from babelgate.schema.chat import ChatRequest, ChatResponse
from babelgate.schema.chunks import ChatChunk
from babelgate.schema.embeddings import EmbeddingRequest, EmbeddingResponse
from babelgate.schema.models import ModelInfo


class MistralProvider(ProviderDefaults):
    type = "mistral"
    capabilities = Capabilities(
        audio_in=True,
        embeddings=True,
        embedding_batch_limit=wire.EMBEDDING_BATCH_LIMIT,
        list_models=True,
        moderations=True,
        # Batch jobs (batches.py); `options.batches: false` turns them off.
        batch=True,
    )

    def __init__(self, name: str, config: ProviderConfig, server: ServerConfig, client: UpstreamClient) -> None:
        self.name = name
        self.secrets = config.api_keys
        self.list_models_enabled = config.list_models
        base = (config.base_url or wire.DEFAULT_BASE_URL).removesuffix("/v1")
        self._chat_url = base + wire.CHAT_PATH
        self._embeddings_url = base + wire.EMBEDDINGS_PATH
        self._models_url = base + wire.MODELS_PATH
        self._moderations_url = base + wire.MODERATIONS_PATH
        self._base = base
        self._client = client
        self._timeouts = provider_timeouts(config, server)
        self._scrub = Scrubber(config.api_keys)
        common = {"content-type": "application/json", **config.headers}
        self._headers = KeyPool.for_keys(
            name,
            config.api_keys,
            lambda key: MappingProxyType({**common, "authorization": f"Bearer {key}"}),
            MappingProxyType(common),
        )
        self._upstream = Upstream(client, name, self._headers, self._timeouts, map_error, self._scrub)
        if not batches_on(config.options, True):
            self.capabilities = dataclasses.replace(self.capabilities, batch=False)

    async def _post(self, request: ChatRequest, model: str, notes: CallNotes) -> Any:
        return await self._send(self._chat_url, to_wire(request, model, notes.adjusted))

    async def _send(self, url: str, body: dict[str, Any]) -> Any:
        return await self._upstream.post(url, orjson.dumps(body))

    async def _answer(self, response: Any) -> dict[str, Any]:
        _, parsed = await read_json_object(response, self.name)
        if "error" in parsed or parsed.get("object") == "error":
            raise stream_error({"error": parsed.get("error", parsed)}, self.name, self._scrub)
        return parsed

    async def chat(self, request: ChatRequest, model: str, notes: CallNotes) -> ChatResponse:
        parsed = await self._answer(await self._post(request, model, notes))
        try:
            response = from_wire(parsed)
        except (AttributeError, TypeError, ValueError, KeyError):
            raise UpstreamProtocolError(provider=self.name, detail="the body has the wrong shape") from None
        notes.usage = response.usage
        notes.finish_reason = response.choices[0].finish_reason if response.choices else None
        return response

    async def stream(self, request: ChatRequest, model: str, notes: CallNotes) -> AsyncIterator[ChatChunk]:
        response = await self._post(request, model, notes)
        translator = MistralStreamTranslator(self.name, self._scrub)
        async for canonical in translate_sse(response, translator, notes, provider=self.name):
            yield canonical

    async def embed(self, request: EmbeddingRequest, model: str, notes: CallNotes) -> EmbeddingResponse:
        body = embedding_to_wire(request, model, notes.adjusted)
        parsed = await self._answer(await self._send(self._embeddings_url, body))
        answer = checked_embeddings(
            parsed, len(request.inputs), self.name, lambda body: embedding_from_wire(body, model)
        )
        notes.usage = answer.usage
        return answer

    async def moderate(self, body: dict[str, Any], model: str) -> dict[str, Any]:
        """OpenAI's moderation body through Mistral's `/v1/moderations`, answered in OpenAI's shape (moderation.py)."""
        parsed = await self._answer(await self._send(self._moderations_url, moderation_to_wire(body, model)))
        return moderation_from_wire(parsed, self.name)

    # The ProviderBatches part (batches.py): a JSONL file of the bodies `chat` sends, and a batch job.

    async def submit_batch(self, model: str, lines: Sequence[BatchLine]) -> str:
        data = jsonl_lines(
            checked_lines(lines), lambda line: batches.line_body(to_wire(line.request, model, [])), url=None
        )

        async def create(file_id: str) -> str:
            body = {"input_files": [file_id], "model": model, "endpoint": batches.CHAT_ENDPOINT}
            job = await self._answer(await self._send(self._base + batches.JOBS_PATH, body))
            return string_field(job, "id", self.name)

        return await submitted(self._upstream, self._base + batches.FILES_PATH, data, self.name, create)

    def _job_url(self, job_id: str, tail: str = "") -> str:
        return f"{self._base}{batches.JOBS_PATH}/{quote(job_id, safe='')}{tail}"

    async def batch_status(self, batch_id: str) -> ProviderBatchStatus:
        return batches.status_of(await self._upstream.get_json(self._job_url(batch_id)), self.name)

    async def batch_results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        job = await self._upstream.get_json(self._job_url(batch_id))
        urls = [
            f"{self._base}{batches.FILES_PATH}/{quote(file_id, safe='')}/content"
            for file_id in (job.get("output_file"), job.get("error_file"))
            if isinstance(file_id, str) and file_id
        ]

        def read(line: dict[str, Any]) -> BatchOutcome | None:
            return outcome_of(line, from_wire=from_wire, map_error=map_error, provider=self.name, scrub=self._scrub)

        async for outcome in results(self._upstream, urls, read, self.name):
            yield outcome

    async def cancel_batch(self, batch_id: str) -> None:
        await self._answer(await self._upstream.post(self._job_url(batch_id, "/cancel"), b""))

    async def list_models(self) -> list[ModelInfo]:
        parsed = await self._upstream.get_json(self._models_url)
        return [
            _model_info(entry)
            for entry in parsed.get("data") or ()
            if isinstance(entry, dict) and isinstance(entry.get("id"), str)
        ]


def _model_info(entry: dict[str, Any]) -> ModelInfo:
    """Mistral's listing names the context length and what the model can do (`capabilities`)."""
    capabilities = entry.get("capabilities")
    window = entry.get("max_context_length")
    return ModelInfo(
        id=entry["id"],
        owned_by=str(entry.get("owned_by") or "mistralai"),
        created=int(entry.get("created") or 0),
        display_name=entry.get("name") if isinstance(entry.get("name"), str) else None,
        context_window=window if isinstance(window, int) and window > 0 else None,
        capabilities=tuple(sorted(name for name, able in capabilities.items() if able is True))
        if isinstance(capabilities, dict)
        else (),
    )


if TYPE_CHECKING:  # the `batch` capability's part, held to its protocol where `make typecheck` looks

    def _batches(provider: MistralProvider) -> ProviderBatches:
        return provider
