"""Thin I/O for Azure OpenAI and Microsoft Foundry: the resource's URLs, the `api-key` header or Entra ID
tokens, and each call handed to the road its model takes (wire.py): the OpenAI provider for OpenAI's models
and Foundry's serverless ones (the fast path's byte relay and the Responses road included), Anthropic's for
Claude in Foundry (the native Messages road included).

Azure's content filter: a refused prompt is a 400 `content_filter` (errors.map_error) and an answer the
filter stopped with nothing left is the same refusal (errors.filtered_answer; a stream stopped before its
first word too), so `content_policy_fallbacks` send it to another model. A stream the filter stops midway
ends with `finish_reason: "content_filter"` as Azure sent it (its first words are already the client's).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.errors import UnsupportedCapability
from babelgate.http import UpstreamClient
from babelgate.observability.logging import Scrubber
from babelgate.providers.anthropic.provider import AnthropicProvider
from babelgate.providers.azure import wire
from babelgate.providers.azure.credentials import check, entra_fetch, file_problem, kind_of, source_of
from babelgate.providers.azure.errors import CONTENT_FILTER, content_filtered, filtered_answer, map_error, stream_began
from babelgate.providers.base import (
    CallNotes,
    Capabilities,
    ProviderDefaults,
    RealtimeCall,
    RealtimeUpstream,
    RelayApi,
    provider_timeouts,
)
from babelgate.providers.batch import BatchLine, BatchOutcome, ProviderBatches, ProviderBatchStatus
from babelgate.providers.key_pool import KeyPool
from babelgate.providers.openai.provider import OpenAIProvider
from babelgate.providers.tokens import BearerTokens, closer
from babelgate.schema.audio import SpeechRequest, TranscriptionRequest, TranscriptionResponse
from babelgate.schema.chat import ChatRequest, ChatResponse
from babelgate.schema.chunks import ChatChunk
from babelgate.schema.embeddings import EmbeddingRequest, EmbeddingResponse
from babelgate.schema.images import ImageRequest, ImageResponse
from babelgate.schema.models import ModelInfo


class AzureOpenAIRoad(OpenAIProvider):
    """The OpenAI provider at the resource's `/openai/v1` (or, with `api_version`, its deployments), the
    key sent as `api-key`."""

    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        server: ServerConfig,
        client: UpstreamClient,
        *,
        resource: str,
        tokens: BearerTokens | None,
    ) -> None:
        self._api_version = config.api_version
        root = resource + (wire.DEPLOYMENT_ROOT if config.api_version else wire.V1_ROOT)
        update = {
            "base_url": root,
            "options": wire.claude_options(config.options, False),
            "profile": config.profile or "azure",
        }
        super().__init__(name, config.model_copy(update=update), server, client)
        self._upstream = dataclasses.replace(self._upstream, map_error=map_error, tokens=tokens)

    # Azure's Batch names the endpoint without `/v1`, in each line's `url` and the batch's `endpoint`.
    _batch_endpoint = "/chat/completions"

    def _key_headers(self, key: str) -> dict[str, str]:
        return {"api-key": key}

    def _url(self, url: str, model: str) -> str:
        version = self._api_version
        if version is None:
            return url
        return wire.deployment_url(self.base_url, url[len(self.base_url) :], model, version)

    def _realtime_url(self, model: str, call_id: str | None = None) -> str:
        version = self._api_version
        if version is None:  # the v1 API: `{resource}/openai/v1/realtime?model=<deployment>`
            return super()._realtime_url(model, call_id)
        return wire.realtime_url(self.base_url, model, version)

    def _calls_url(self) -> str:
        if self._api_version is not None:  # WebRTC calls are the v1 API's (`{resource}/openai/v1/realtime/calls`)
            raise UnsupportedCapability(provider=self.name, capability="realtime calls (WebRTC) without the v1 API")
        return super()._calls_url()

    async def relay(self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes) -> bytes:
        raw = await super().relay(api, body, model, notes)
        if api == "chat" and raw.find(b'"content_filter"') >= 0:  # a byte search first: the usual answer is not parsed
            refused = filtered_answer(orjson.loads(raw), provider=self.name)
            if refused is not None:
                raise refused
        return raw

    async def relay_stream(
        self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes
    ) -> AsyncIterator[bytes]:
        """A chat stream's first frames are held until its first words: a filter that ends it before them is
        the refusal, raised while the gateway may still send the request elsewhere."""
        frames = super().relay_stream(api, body, model, notes)
        held: list[bytes] | None = [] if api == "chat" else None
        async for piece in frames:
            if held is None:
                yield piece
                continue
            held.append(piece)
            if stream_began(piece):
                yield b"".join(held)
                held = None
            elif notes.finish_reason == CONTENT_FILTER:
                raise content_filtered(self.name)
        if held:
            yield b"".join(held)

    async def stream(self, request: ChatRequest, model: str, notes: CallNotes) -> AsyncIterator[ChatChunk]:
        """As `relay_stream`, on the translated road."""
        held: list[ChatChunk] | None = []
        async for chunk in super().stream(request, model, notes):
            if held is None:
                yield chunk
                continue
            held.append(chunk)
            if any(c.delta.content or c.delta.tool_calls or c.delta.refusal for c in chunk.choices):
                for earlier in held:
                    yield earlier
                held = None
            elif any(c.finish_reason == CONTENT_FILTER for c in chunk.choices):
                raise content_filtered(self.name)
        for earlier in held or ():
            yield earlier

    async def chat(self, request: ChatRequest, model: str, notes: CallNotes) -> ChatResponse:
        response = await super().chat(request, model, notes)
        choices = response.choices
        if choices and all(
            choice.finish_reason == "content_filter" and not choice.message.content and not choice.message.tool_calls
            for choice in choices
        ):
            raise content_filtered(self.name)
        return response


class FoundryClaudeRoad(AnthropicProvider):
    """Claude in Foundry: Anthropic's provider at the resource's `/anthropic`, its key sent as `x-api-key`
    (ANTF: Anthropic's own header, which Foundry takes), or an Entra token as a bearer."""

    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        server: ServerConfig,
        client: UpstreamClient,
        *,
        resource: str,
        tokens: BearerTokens | None,
    ) -> None:
        update = {"base_url": resource + wire.ANTHROPIC_ROOT, "options": wire.claude_options(config.options, True)}
        super().__init__(name, config.model_copy(update=update), server, client)
        self._upstream = dataclasses.replace(self._upstream, tokens=tokens)


class AzureProvider(ProviderDefaults):
    type = "azure"
    capabilities = Capabilities(
        images_out=True,
        audio_in=True,
        embeddings=True,
        embedding_batch_limit=2048,
        # Off: both APIs list the models the resource may deploy, not its deployments, which are what a
        # `model:` names (a listed name would be a DeploymentNotFound).
        list_models=False,
        image_generation=True,
        image_edits=True,
        transcription=True,
        speech=True,
        relays=frozenset({"chat", "responses", "completions", "messages", "messages.count_tokens"}),
        realtime=True,
        realtime_calls=True,
        # Azure OpenAI's Batch API (global batch deployments), for OpenAI's deployments (Claude in Foundry has none).
        batch=True,
    )

    def __init__(self, name: str, config: ProviderConfig, server: ServerConfig, client: UpstreamClient) -> None:
        self.name = name
        self.secrets = config.secret_values()
        if not config.base_url:
            raise ValueError(
                f"provider {name!r} (type azure) needs base_url: the resource's endpoint "
                "(https://{resource}.openai.azure.com, or a Foundry endpoint)"
            )
        resource = config.base_url.removesuffix("/openai/v1").removesuffix("/openai")
        self._tokens: BearerTokens | None = None
        self._files_problem: str | None = None  # what credentials_problem reports
        if not config.api_keys:
            kind = kind_of(config)
            check(kind, config, name)
            self._files_problem = file_problem(kind, config)
            scope = str(config.options.get("scope") or wire.SCOPE)
            self._tokens = BearerTokens(
                name,
                entra_fetch(kind, config, scope),
                source=source_of(kind, config),
                wait=provider_timeouts(config, server).connect,
                scrub=Scrubber(self.secrets),
            )
            client.on_close(closer(self._tokens))
        self._openai = AzureOpenAIRoad(name, config, server, client, resource=resource, tokens=self._tokens)
        self._headers = self._openai.key_pool
        self._claude = FoundryClaudeRoad(name, config, server, client, resource=resource, tokens=self._tokens)

    def credentials_problem(self) -> str | None:
        return self._files_problem

    def key_pools(self) -> tuple[KeyPool[Any], ...]:
        return (*self._openai.key_pools(), *self._claude.key_pools())

    def relays(self, api: RelayApi, model: str) -> bool:
        if wire.is_claude(model):
            return api == "messages" or api == "messages.count_tokens"
        return self._openai.relays(api, model) and api not in ("messages", "messages.count_tokens")

    # The dispatching methods hand back their road's coroutine (no frame of their own per request, as
    # transport.Upstream.post): the fast path goes through `relay` on every request.

    def relay(self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes) -> Coroutine[Any, Any, bytes]:
        if wire.is_claude(model):
            return self._claude.relay(api, body, model, notes)
        return self._openai.relay(api, body, model, notes)

    def relay_stream(self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        if wire.is_claude(model):
            return self._claude.relay_stream(api, body, model, notes)
        return self._openai.relay_stream(api, body, model, notes)

    def chat(self, request: ChatRequest, model: str, notes: CallNotes) -> Coroutine[Any, Any, ChatResponse]:
        if wire.is_claude(model):
            return self._claude.chat(request, model, notes)
        return self._openai.chat(request, model, notes)

    def stream(self, request: ChatRequest, model: str, notes: CallNotes) -> AsyncIterator[ChatChunk]:
        if wire.is_claude(model):
            return self._claude.stream(request, model, notes)
        return self._openai.stream(request, model, notes)

    def realtime_upstream(
        self, model: str, *, beta: bool, call_id: str | None = None
    ) -> Coroutine[Any, Any, RealtimeUpstream]:
        return self._media_road(model, "realtime").realtime_upstream(model, beta=beta, call_id=call_id)

    def realtime_call(self, model: str, sdp: bytes, session: dict[str, Any]) -> Coroutine[Any, Any, RealtimeCall]:
        return self._media_road(model, "realtime").realtime_call(model, sdp, session)

    def realtime_hangup(self, call_id: str) -> Coroutine[Any, Any, None]:
        return self._openai.realtime_hangup(call_id)

    def _media_road(self, model: str, capability: str) -> AzureOpenAIRoad:
        """Media and batches are OpenAI's deployments' (Claude in Foundry has chat only)."""
        if wire.is_claude(model):
            raise UnsupportedCapability(provider=self.name, capability=capability)
        return self._openai

    async def embed(self, request: EmbeddingRequest, model: str, notes: CallNotes) -> EmbeddingResponse:
        return await self._media_road(model, "embeddings").embed(request, model, notes)

    async def generate_images(self, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse:
        return await self._media_road(model, "image generation").generate_images(request, model, notes)

    async def edit_images(self, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse:
        return await self._media_road(model, "image edits").edit_images(request, model, notes)

    async def transcribe(self, request: TranscriptionRequest, model: str, notes: CallNotes) -> TranscriptionResponse:
        return await self._media_road(model, "transcription").transcribe(request, model, notes)

    def speech(self, request: SpeechRequest, model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        return self._media_road(model, "speech").speech(request, model, notes)

    def submit_batch(self, model: str, lines: Sequence[BatchLine]) -> Coroutine[Any, Any, str]:
        return self._media_road(model, "batch").submit_batch(model, lines)

    def batch_status(self, batch_id: str) -> Coroutine[Any, Any, ProviderBatchStatus]:
        return self._openai.batch_status(batch_id)

    def batch_results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        return self._openai.batch_results(batch_id)

    def cancel_batch(self, batch_id: str) -> Coroutine[Any, Any, None]:
        return self._openai.cancel_batch(batch_id)

    async def list_models(self) -> list[ModelInfo]:
        return []  # the configured models are the catalogue (`list_models` is off in the capabilities)


if TYPE_CHECKING:  # the `batch` capability's part, held to its protocol where `make typecheck` looks

    def _batches(provider: AzureProvider) -> ProviderBatches:
        return provider
