"""Vertex's three roads, each the provider of the API it speaks with Vertex's URLs and credentials: one
translator, two transports. The Gemini, Anthropic and OpenAI providers do the translating, the
sending and the stream reading; a road changes only where requests go and how they are authorized."""

from __future__ import annotations

import asyncio
import dataclasses
from fnmatch import fnmatchcase
from typing import Any, Final

import orjson

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.http import UpstreamClient, UpstreamResponse
from babelgate.providers.anthropic.provider import AnthropicProvider
from babelgate.providers.base import CallNotes
from babelgate.providers.gemini.provider import GeminiProvider
from babelgate.providers.openai.provider import OpenAIProvider
from babelgate.providers.tokens import BearerTokens
from babelgate.providers.transport import checked_embeddings
from babelgate.providers.vertex import wire
from babelgate.providers.vertex.errors import map_error
from babelgate.providers.vertex.translate import (
    embedding_from_wire,
    embedding_to_wire,
    merged_embeddings,
    raw_predict_body,
)
from babelgate.schema.embeddings import EmbeddingRequest, EmbeddingResponse

IN_FLIGHT: Final = 4  # one-instance embedding calls of one request that may run at once


class GoogleRoad(GeminiProvider):
    """Google's models (`publishers/google`): Gemini's provider as it is, at Vertex's URLs, except for
    embeddings, which Vertex takes through `:predict`."""

    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        server: ServerConfig,
        client: UpstreamClient,
        *,
        models: str,
        tokens: BearerTokens | None,
        live_url: str,
        live_models: str,
    ) -> None:
        super().__init__(
            name,
            config.model_copy(update={"options": wire.road_options(config.options, wire.Road.GOOGLE)}),
            server,
            client,
        )
        self._base = models  # `_url(model, method)` is `{models}{model}:{method}`
        self._live_url, self._live_models = live_url, live_models
        self._live_stream_end = False  # GEM `_LiveClientRealtimeInput_to_vertex` refuses `audio_stream_end`
        self._upstream = dataclasses.replace(self._upstream, map_error=map_error, tokens=tokens)

    def _count_body(self, body: dict[str, Any], model: str) -> dict[str, Any]:
        """Vertex's CountTokensRequest reads the generateContent fields at its top level, without a wrapper."""
        fields = ("contents", "systemInstruction", "tools", "generationConfig")
        return {name: body[name] for name in fields if name in body}

    async def embed(self, request: EmbeddingRequest, model: str, notes: CallNotes) -> EmbeddingResponse:
        profile = self._profiles.for_model(model)
        url = self._url(model, "predict")
        if any(fnmatchcase(model, pattern) for pattern in wire.ONE_INSTANCE_EMBEDDINGS):
            # One instance per call: the calls of one request run a few at a time, answers in input order.
            limit = asyncio.Semaphore(IN_FLIGHT)

            async def one(text: Any) -> EmbeddingResponse:
                async with limit:
                    single = dataclasses.replace(request, inputs=[text])
                    return await self._predict(url, single, model, profile.task_type, notes.adjusted)

            answers = await asyncio.gather(*(one(text) for text in request.inputs))
            answer = merged_embeddings(list(answers), model)
        else:
            answer = await self._predict(url, request, model, profile.task_type, notes.adjusted)
        notes.usage = answer.usage
        return answer

    async def _predict(
        self, url: str, request: EmbeddingRequest, model: str, task_type: str | None, adjusted: list[str]
    ) -> EmbeddingResponse:
        body = embedding_to_wire(request, adjusted, task_type=task_type)
        parsed = await self._answer(await self._post(url, orjson.dumps(body)))
        return checked_embeddings(parsed, len(request.inputs), self.name, lambda body: embedding_from_wire(body, model))


class ClaudeRoad(AnthropicProvider):
    """Claude (`publishers/anthropic`): Anthropic's provider, its translated road and its native Messages
    relay alike, with each body made a rawPredict body (no `model`, `anthropic_version` in it) and sent to
    the model's `:rawPredict` or `:streamRawPredict`."""

    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        server: ServerConfig,
        client: UpstreamClient,
        *,
        models: str,
        tokens: BearerTokens | None,
    ) -> None:
        # Claude on Vertex takes OAuth tokens only: an express-mode key is never sent to it.
        options = wire.road_options(config.options, wire.Road.ANTHROPIC)
        super().__init__(name, config.model_copy(update={"api_keys": (), "options": options}), server, client)
        self._models = models
        self._upstream = dataclasses.replace(self._upstream, map_error=map_error, tokens=tokens)

    async def _post(
        self, body: dict[str, Any], model: str, *, url: str | None = None, client_beta: tuple[str, ...] = ()
    ) -> UpstreamResponse:
        if url is not None and url == self._count_tokens_url:
            # ANTV: count-tokens is one model of its own; the body keeps the model it counts for.
            target, sent = self._models + "count-tokens:rawPredict", raw_predict_body(body, keep_model=True)
        else:
            method = "streamRawPredict" if body.get("stream") else "rawPredict"
            target, sent = wire.model_method(self._models, model, method), raw_predict_body(body)
        return await self._upstream.post(target, orjson.dumps(sent), self._beta_header(model, client_beta))


class OpenRoad(OpenAIProvider):
    """Partner and open models (`endpoints/openapi`): the OpenAI provider, chat fast path included, at
    Vertex's OpenAI-compatible endpoint (`model` in the body: `meta/llama-…`)."""

    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        server: ServerConfig,
        client: UpstreamClient,
        *,
        root: str,
        tokens: BearerTokens | None,
    ) -> None:
        options = wire.road_options(config.options, wire.Road.OPENAPI)
        super().__init__(
            name, config.model_copy(update={"base_url": root, "api_keys": (), "options": options}), server, client
        )
        self._upstream = dataclasses.replace(self._upstream, map_error=map_error, tokens=tokens)
