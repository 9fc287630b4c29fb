"""Thin I/O for Google Vertex AI: the project's URLs, Google's credentials, and each call handed to the
road its model takes (wire.road: Gemini's, Anthropic's or OpenAI's provider, roads.py).

Credentials: a service-account key (`credentials_file`) or application default credentials, whose
access token providers/tokens.py keeps fresh in the background; or an API key (`api_key`, express
mode), sent as `x-goog-api-key` to Google's models only (express mode serves no others).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Coroutine, Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import orjson

from babelgate import tool_ids
from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.errors import UnsupportedCapability, UpstreamCredentialsFailed, UpstreamProtocolError
from babelgate.http import UpstreamClient
from babelgate.observability.logging import Scrubber
from babelgate.providers import rerank as rerank_wire
from babelgate.providers.base import (
    CallNotes,
    Capabilities,
    LiveUpstream,
    ProviderDefaults,
    RelayApi,
    provider_timeouts,
)
from babelgate.providers.batch import BatchLine, BatchOutcome, ProviderBatches, ProviderBatchStatus, batches_on
from babelgate.providers.gemini.provider import GeminiProvider
from babelgate.providers.key_pool import KeyPool
from babelgate.providers.tokens import BearerTokens, closer
from babelgate.providers.transport import Upstream, read_json_object, websocket_url
from babelgate.providers.vertex import storage, wire
from babelgate.providers.vertex.batches import VertexBatches
from babelgate.providers.vertex.credentials import file_problem, google_fetch, source_of
from babelgate.providers.vertex.errors import map_error
from babelgate.providers.vertex.roads import ClaudeRoad, GoogleRoad, OpenRoad
from babelgate.providers.vertex.wire import Road
from babelgate.schema.audio import SpeechRequest, TranscriptionRequest, TranscriptionResponse
from babelgate.schema.chat import ChatRequest, ChatResponse
from babelgate.schema.chunks import ChatChunk
from babelgate.schema.embeddings import EmbeddingRequest, EmbeddingResponse
from babelgate.schema.images import ImageRequest, ImageResponse
from babelgate.schema.models import ModelInfo
from babelgate.schema.rerank import RerankRequest, RerankResponse

DEFAULT_LOCATION = "global"  # GEM's default when no location is given


class VertexProvider(ProviderDefaults):
    type = "vertex"
    capabilities = Capabilities(
        images_out=True,
        audio_in=True,
        embeddings=True,
        transcription=True,
        speech=True,
        embedding_batch_limit=wire.EMBEDDING_BATCH_LIMIT,
        image_generation=True,
        image_edits=True,
        # Claude's native Messages road (rawPredict), the chat fast path to the OpenAI-compatible endpoint, and
        # Gemini API clients' native road to Google's models (the Gemini provider's relay at Vertex's URLs).
        relays=frozenset(
            {"chat", "messages", "messages.count_tokens", "generate_content", "generate_content.count_tokens"}
        ),
        signed_tool_ids=True,
        hosted_tools=frozenset({"web_search"}),
        live=True,  # Google's models only (`_google_road`)
        count_tokens=True,
        rerank=True,
        # Batch prediction for Gemini models (batches.py), when `batch_bucket` is set: off without it.
        batch=True,
    )

    def __init__(self, name: str, config: ProviderConfig, server: ServerConfig, client: UpstreamClient) -> None:
        self.name = name
        self.secrets = config.secret_values()
        express = bool(config.api_keys)
        if not config.project and not express:
            raise ValueError(f"provider {name!r} (type vertex) needs `project` (or `api_key`, for express mode)")
        location = config.location or DEFAULT_LOCATION
        base_url = config.base_url or wire.host("global" if express and not config.project else location)
        scrub = Scrubber(self.secrets)
        self._tokens: BearerTokens | None = None
        self._credentials_file = config.credentials_file  # checked by credentials_problem when tokens are used
        if config.project:
            self._tokens = BearerTokens(
                name,
                google_fetch(config.credentials_file),
                source=source_of(config.credentials_file),
                wait=provider_timeouts(config, server).connect,
                scrub=scrub,
            )
            client.on_close(closer(self._tokens))
        root = wire.location_root(base_url, config.project, location) if config.project else None
        google_models = wire.express_models(base_url) if express else wire.publisher_models(root or "", "google")
        self._google = GoogleRoad(
            name,
            config,
            server,
            client,
            models=google_models,
            tokens=None if express else self._tokens,
            live_url=websocket_url(base_url) + wire.LIVE_PATH,
            live_models=wire.live_models(None if express else config.project, location),
        )
        self._headers = self._google.key_pool
        self._claude = (
            ClaudeRoad(
                name, config, server, client, models=wire.publisher_models(root, "anthropic"), tokens=self._tokens
            )
            if root is not None
            else None
        )
        ranking = str(config.options.get("ranking_url") or wire.RANKING_ROOT).rstrip("/")
        self._ranking_url = ranking + wire.RANKING_PATH.format(project=config.project) if config.project else None
        # Google Cloud's own APIs (the Ranking API, batch prediction jobs, Cloud Storage), with the bearer token.
        self._ranking = Upstream(
            client, name, self._google.key_pool, provider_timeouts(config, server), map_error, scrub, self._tokens
        )
        self._batches = self._batch_part(config, base_url, root, location, scrub)
        if self._batches is None:
            self.capabilities = dataclasses.replace(self.capabilities, batch=False)
        self._open = (
            OpenRoad(name, config, server, client, root=f"{root}/endpoints/openapi", tokens=self._tokens)
            if root is not None
            else None
        )

    def _batch_part(
        self, config: ProviderConfig, base_url: str, root: str | None, location: str, scrub: Scrubber
    ) -> VertexBatches | None:
        """Batch prediction, when `batch_bucket` names where its files go (and `options.batches` is not false)."""
        if not batches_on(config.options, config.batch_bucket is not None):
            return None
        if config.batch_bucket is None:
            raise ValueError(f"provider {self.name!r}: options.batches needs batch_bucket (gs://bucket/prefix)")
        if root is None or config.project is None:
            raise ValueError(
                f"provider {self.name!r}: batch_bucket needs `project` (batch prediction takes OAuth tokens, never an"
                " express-mode key)"
            )
        storage_root = str(config.options.get("storage_url") or storage.ROOT).rstrip("/")
        return VertexBatches(
            provider=self.name,
            google=self._google,
            claude=self._claude,
            upstream=self._ranking,
            storage=storage.CloudStorage(storage_root, storage.BucketPath.parse(config.batch_bucket), self._ranking),
            base_url=base_url,
            root=root,
            jobs_prefix=f"projects/{config.project}/locations/{location}/batchPredictionJobs/",
            scrub=scrub,
        )

    # The ProviderBatches part (batches.py), with the `batch` capability when `batch_bucket` is set.

    def batches_model(self, model: str) -> bool:
        return VertexBatches.takes(model)

    def _batch_jobs(self) -> VertexBatches:
        if self._batches is None:  # the engine asks only a provider with the capability
            raise UnsupportedCapability(provider=self.name, capability="batch")
        return self._batches

    def submit_batch(self, model: str, lines: Sequence[BatchLine]) -> Coroutine[Any, Any, str]:
        return self._batch_jobs().submit(model, lines)

    def batch_status(self, batch_id: str) -> Coroutine[Any, Any, ProviderBatchStatus]:
        return self._batch_jobs().status(batch_id)

    def batch_results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        return self._batch_jobs().results(batch_id)

    def cancel_batch(self, batch_id: str) -> Coroutine[Any, Any, None]:
        return self._batch_jobs().cancel(batch_id)

    def credentials_problem(self) -> str | None:
        return file_problem(self._credentials_file) if self._tokens is not None else None

    def key_pools(self) -> tuple[KeyPool[Any], ...]:
        roads = (self._google, self._claude, self._open)
        return tuple(pool for road in roads if road is not None for pool in road.key_pools())

    def _claude_road(self) -> ClaudeRoad:
        if self._claude is None:
            raise self._express_only("Claude")
        return self._claude

    def _open_road(self) -> OpenRoad:
        if self._open is None:
            raise self._express_only("partner and open models")
        return self._open

    def _express_only(self, what: str) -> UpstreamCredentialsFailed:
        return UpstreamCredentialsFailed(
            provider=self.name,
            source="express mode (api_key)",
            cause=f"{what} on Vertex need a project and Google credentials; an API key serves Google's models only",
        )

    def _google_road(self, model: str, capability: str) -> GeminiProvider:
        if wire.road(model) is not Road.GOOGLE:
            raise UnsupportedCapability(provider=self.name, capability=capability)
        return self._google

    # Gemini's thought signatures ride in tool-call ids (tool_ids.py): this provider declares
    # `signed_tool_ids` for its Gemini road, so the gateway leaves them in; the other roads make them plain,
    # as the gateway does for every provider without signatures.

    def relays(self, api: RelayApi, model: str) -> bool:
        road = wire.road(model)
        if api == "chat":
            return road is Road.OPENAPI
        if api == "generate_content" or api == "generate_content.count_tokens":
            return road is Road.GOOGLE
        return (api == "messages" or api == "messages.count_tokens") and road is Road.ANTHROPIC

    # The dispatching methods hand back their road's coroutine (no frame of their own per request, as
    # transport.Upstream.post).

    def relay(self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes) -> Coroutine[Any, Any, bytes]:
        if api == "chat":
            return self._open_road().relay(api, plain_ids(body), model, notes)
        if api == "generate_content":
            return self._google.relay(api, body, model, notes)
        if api == "generate_content.count_tokens":
            return self._google.relay(api, count_tokens_body(body), model, notes)
        return self._claude_road().relay(api, body, model, notes)

    def relay_stream(self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        if api == "chat":
            return self._open_road().relay_stream(api, plain_ids(body), model, notes)
        if api == "generate_content":
            return self._google.relay_stream(api, body, model, notes)
        return self._claude_road().relay_stream(api, body, model, notes)

    def chat(self, request: ChatRequest, model: str, notes: CallNotes) -> Coroutine[Any, Any, ChatResponse]:
        road = wire.road(model)
        if road is Road.ANTHROPIC:
            return self._claude_road().chat(tool_ids.strip_request(request), model, notes)
        if road is Road.OPENAPI:
            return self._open_road().chat(tool_ids.strip_request(request), model, notes)
        return self._google.chat(request, model, notes)

    def stream(self, request: ChatRequest, model: str, notes: CallNotes) -> AsyncIterator[ChatChunk]:
        road = wire.road(model)
        if road is Road.ANTHROPIC:
            return self._claude_road().stream(tool_ids.strip_request(request), model, notes)
        if road is Road.OPENAPI:
            return self._open_road().stream(tool_ids.strip_request(request), model, notes)
        return self._google.stream(request, model, notes)

    async def count_input_tokens(self, request: ChatRequest, model: str, notes: CallNotes) -> int | None:
        """Google's countTokens or Claude's count-tokens on Vertex; partner and open models have no counter."""
        road = wire.road(model)
        if road is Road.ANTHROPIC:
            return await self._claude_road().count_input_tokens(tool_ids.strip_request(request), model, notes)
        if road is Road.OPENAPI:
            return None
        return await self._google.count_input_tokens(request, model, notes)

    async def rerank(self, request: RerankRequest, model: str, notes: CallNotes) -> RerankResponse:
        """The Ranking API: documents as records whose ids are their indexes, `topN` for `top_n`."""
        if not any(fnmatchcase(model, pattern) for pattern in wire.RANKER_PATTERNS):
            raise UnsupportedCapability(provider=self.name, capability=f"rerank with {model}", param="model")
        if self._ranking_url is None:
            raise self._express_only("the Ranking API")
        body: dict[str, Any] = {
            "model": model,
            "query": request.query,
            "records": [{"id": str(index), "content": text} for index, text in enumerate(request.documents)],
            "ignoreRecordDetailsInResponse": True,
        }
        if request.top_n is not None:
            body["topN"] = request.top_n
        _, parsed = await read_json_object(await self._ranking.post(self._ranking_url, orjson.dumps(body)), self.name)
        records = parsed.get("records", [])  # no record scored is no `records` (proto3 leaves it out)
        if not isinstance(records, list):
            raise UpstreamProtocolError(provider=self.name, detail="the answer's records are not a list")
        results = [
            {
                "index": int(r["id"]) if isinstance(r, dict) and str(r.get("id", "")).isdigit() else None,
                "relevance_score": r.get("score", 0.0) if isinstance(r, dict) else None,
            }
            for r in records
        ]
        answer = rerank_wire.read_answer({"results": results}, request, self.name)
        notes.usage = answer.usage
        return answer

    async def embed(self, request: EmbeddingRequest, model: str, notes: CallNotes) -> EmbeddingResponse:
        return await self._google_road(model, "embeddings").embed(request, model, notes)

    async def generate_images(self, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse:
        return await self._google_road(model, "image generation").generate_images(request, model, notes)

    async def edit_images(self, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse:
        return await self._google_road(model, "image edits").edit_images(request, model, notes)

    async def transcribe(self, request: TranscriptionRequest, model: str, notes: CallNotes) -> TranscriptionResponse:
        return await self._google_road(model, "transcription").transcribe(request, model, notes)

    def speech(self, request: SpeechRequest, model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        return self._google_road(model, "speech").speech(request, model, notes)

    async def live_upstream(self, model: str) -> LiveUpstream:
        return await self._google_road(model, "live").live_upstream(model)

    async def list_models(self) -> list[ModelInfo]:
        # Vertex lists no models of a project through these APIs (its Model Garden is another API): the
        # configured models are the catalogue (`list_models` is off in the capabilities).
        return []


def count_tokens_body(body: dict[str, Any]) -> dict[str, Any]:
    """A Gemini API countTokens body as Vertex's CountTokensRequest takes it: Vertex has no
    `generateContentRequest` wrapper, and reads the generateContent fields at the top level."""
    inner = body.get("generateContentRequest")
    if not isinstance(inner, dict):
        return body
    fields = ("contents", "systemInstruction", "tools", "generationConfig")
    return {name: inner[name] for name in fields if name in inner}


def plain_ids(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat body whose tool-call ids carry no signature (a copy only when one does)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not any(_signed(message) for message in messages):
        return body
    plain: list[Any] = []
    for message in messages:
        if isinstance(message, dict) and _signed(message):
            message = dict(message)
            if isinstance(message.get("tool_call_id"), str):
                message["tool_call_id"] = tool_ids.plain(message["tool_call_id"])
            if isinstance(message.get("tool_calls"), list):
                message["tool_calls"] = [
                    {**call, "id": tool_ids.plain(call["id"])}
                    if isinstance(call, dict) and isinstance(call.get("id"), str)
                    else call
                    for call in message["tool_calls"]
                ]
        plain.append(message)
    return {**body, "messages": plain}


def _signed(message: Any) -> bool:
    if not isinstance(message, dict):
        return False
    if tool_ids.MARK in str(message.get("tool_call_id") or ""):
        return True
    calls = message.get("tool_calls")
    return isinstance(calls, list) and any(
        isinstance(call, dict) and tool_ids.MARK in str(call.get("id") or "") for call in calls
    )


if TYPE_CHECKING:  # the `batch` capability's part, held to its protocol where `make typecheck` looks

    def _batches(provider: VertexProvider) -> ProviderBatches:
        return provider
