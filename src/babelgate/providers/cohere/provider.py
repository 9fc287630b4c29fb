"""Thin I/O for Cohere: its v2 rerank with a bearer key. Chat is not served here (Cohere's chat models are
reached through an OpenAI-compatible provider: Cohere's `/compatibility/v1`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import MappingProxyType

import orjson

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.errors import UnsupportedCapability
from babelgate.http import UpstreamClient
from babelgate.observability.logging import Scrubber
from babelgate.providers import rerank as rerank_wire
from babelgate.providers.base import CallNotes, Capabilities, ProviderDefaults, provider_timeouts
from babelgate.providers.cohere import wire
from babelgate.providers.cohere.errors import map_error
from babelgate.providers.key_pool import KeyPool
from babelgate.providers.transport import Upstream, read_json_object
from babelgate.schema.chat import ChatRequest, ChatResponse
from babelgate.schema.chunks import ChatChunk
from babelgate.schema.models import ModelInfo
from babelgate.schema.rerank import RerankRequest, RerankResponse


class CohereProvider(ProviderDefaults):
    type = "cohere"
    capabilities = Capabilities(
        text=False,
        streaming=False,
        tools=False,
        streamed_tools=False,
        structured_output=False,
        images_in=False,
        reasoning=False,
        rerank=True,
    )

    def __init__(self, name: str, config: ProviderConfig, server: ServerConfig, client: UpstreamClient) -> None:
        self.name = name
        self.secrets = config.api_keys
        self._rerank_url = (config.base_url or wire.DEFAULT_BASE_URL).rstrip("/") + wire.RERANK_PATH
        scrub = Scrubber(config.api_keys)
        common = {"content-type": "application/json", **config.headers}
        self._headers = KeyPool.for_keys(
            name,
            config.api_keys,
            lambda key: MappingProxyType({**common, "authorization": f"Bearer {key}"}),
            MappingProxyType(common),
        )
        self._upstream = Upstream(client, name, self._headers, provider_timeouts(config, server), map_error, scrub)

    async def rerank(self, request: RerankRequest, model: str, notes: CallNotes) -> RerankResponse:
        body = rerank_wire.cohere_body(request, model)
        response = await self._upstream.post(self._rerank_url, orjson.dumps(body))
        _, parsed = await read_json_object(response, self.name)
        answer = rerank_wire.read_answer(parsed, request, self.name)
        notes.usage = answer.usage
        return answer

    async def chat(self, request: ChatRequest, model: str, notes: CallNotes) -> ChatResponse:
        raise UnsupportedCapability(provider=self.name, capability="chat", param="model")

    async def stream(self, request: ChatRequest, model: str, notes: CallNotes) -> AsyncIterator[ChatChunk]:
        raise UnsupportedCapability(provider=self.name, capability="chat", param="model")
        yield  # an async generator, as the protocol's stream is

    async def list_models(self) -> list[ModelInfo]:
        return []  # its rerank models are the declared ones (declaration.py)
