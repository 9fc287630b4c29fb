"""The Provider protocol every upstream family implements, and the values it exchanges."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.errors import UnsupportedCapability
from babelgate.governance.model_facts import Price
from babelgate.http import DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, Timeouts
from babelgate.providers.key_pool import KeyPool
from babelgate.schema.audio import SpeechRequest, TranscriptionRequest, TranscriptionResponse
from babelgate.schema.chat import ChatRequest, ChatResponse, Usage
from babelgate.schema.chunks import ChatChunk
from babelgate.schema.embeddings import EmbeddingRequest, EmbeddingResponse
from babelgate.schema.images import ImageRequest, ImageResponse
from babelgate.schema.models import ModelInfo


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider can do, declared up front so the gateway refuses the rest before any call."""

    # What `docs/providers.md`'s feature matrix is generated from (providers/matrix.py).
    text: bool = True
    streaming: bool = True
    tools: bool = True
    streamed_tools: bool = True
    structured_output: bool = True
    images_in: bool = True
    images_out: bool = False
    audio_in: bool = False
    reasoning: bool = True
    embeddings: bool = False
    image_edits: bool = False
    transcription: bool = False
    speech: bool = False
    # Most inputs one embeddings call may carry; the gateway splits larger requests (0: no limit).
    embedding_batch_limit: int = 0
    image_generation: bool = False
    list_models: bool = False
    # Accepts the OpenAI Chat Completions JSON as it is: the fast path forwards bytes.
    openai_passthrough: bool = False
    # Serves OpenAI's Responses API itself: models may opt into `native_responses`.
    native_responses: bool = False
    # Serves Anthropic's Messages API itself: `/v1/messages` is forwarded without translation.
    native_messages: bool = False
    # Issues tool-call ids that carry a signature (see tool_ids.py) and reads them back; every
    # other provider gets plain ids.
    signed_tool_ids: bool = False
    # Hosted tools (Responses API types: `web_search`…) the translator maps to the provider's own
    # equivalent; any other hosted tool is dropped or refused before the call (hosted_tools.py).
    hosted_tools: frozenset[str] = frozenset()


@dataclass(slots=True)
class CallNotes:
    """What one upstream call reports besides its answer, filled in by the provider as it goes.

    `adjusted` lists parameters the gateway renamed, dropped or clamped (sent to the client in
    `x-babelgate-adjusted-params`); usage and finish reason feed accounting; `completed` says a
    stream reached its proper end.
    """

    adjusted: list[str] = field(default_factory=list)
    # Where each tool the provider is given stood in the client's chat request, set only when the
    # call path dropped some (hosted_tools.py): translators name `tools[i]` by the client's numbering.
    tool_positions: tuple[int, ...] | None = None
    usage: Usage | None = None
    finish_reason: str | None = None
    completed: bool = False
    # What the deployment's tokens cost (set by the call path): with `usage`, the request's cost.
    price: Price | None = None
    # The cost worked out for the usage it was worked out for: asked for by the answer's header, each
    # budget and the ledger row.
    _priced: tuple[Usage, float] | None = field(default=None, repr=False, compare=False)

    @property
    def cost(self) -> float | None:
        usage = self.usage
        if self.price is None or usage is None:
            return None
        priced = self._priced
        if priced is not None and priced[0] is usage:
            return priced[1]
        cost = self.price.cost(usage)
        self._priced = (usage, cost)
        return cost


class Provider(Protocol):
    name: str
    type: str
    capabilities: Capabilities

    secrets: tuple[str, ...]

    @property
    def key_pool(self) -> KeyPool[Any]:
        """The upstream keys its requests take turns with: the router skips a provider whose keys
        all rest after a 429 while another deployment can serve."""
        ...

    async def chat(self, request: ChatRequest, model: str, notes: CallNotes) -> ChatResponse: ...

    def stream(self, request: ChatRequest, model: str, notes: CallNotes) -> AsyncIterator[ChatChunk]:
        """Chunks as they come; the upstream call happens on the first iteration."""
        ...

    async def list_models(self) -> list[ModelInfo]: ...

    async def embed(self, request: EmbeddingRequest, model: str, notes: CallNotes) -> EmbeddingResponse:
        """Only with `embeddings` in the capabilities; others raise UnsupportedCapability."""
        ...

    async def generate_images(self, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse:
        """Only with `image_generation`; others raise UnsupportedCapability."""
        ...

    async def edit_images(self, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse:
        """Only with `image_edits`; others raise UnsupportedCapability."""
        ...

    async def transcribe(self, request: TranscriptionRequest, model: str, notes: CallNotes) -> TranscriptionResponse:
        """Only with `transcription` (translations too: `request.translate`)."""
        ...

    def speech(self, request: SpeechRequest, model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        """Only with `speech`: the audio in `request.response_format`, as it arrives."""
        ...

    async def forward_chat(self, body: dict[str, Any], model: str, notes: CallNotes) -> bytes:
        """Fast path (only with `openai_passthrough`): the upstream's exact body bytes."""
        ...

    def forward_stream(self, body: dict[str, Any], model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        """Fast path, streaming: the upstream's SSE frames, relayed as they come."""
        ...

    async def forward_responses(self, body: dict[str, Any], model: str, notes: CallNotes) -> bytes:
        """Only with `native_responses`: a Responses API body, relayed to the upstream's own."""
        ...

    def forward_responses_stream(self, body: dict[str, Any], model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        """Only with `native_responses`: the upstream's Responses SSE frames, relayed as they come."""
        ...

    async def forward_messages(self, body: dict[str, Any], model: str, notes: CallNotes) -> bytes:
        """Only with `native_messages`: an Anthropic Messages body, relayed to the upstream's own."""
        ...

    def forward_messages_stream(self, body: dict[str, Any], model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        """Only with `native_messages`: the upstream's Messages SSE frames, relayed as they come."""
        ...

    async def count_tokens(self, body: dict[str, Any], model: str) -> int:
        """Only with `native_messages`: the upstream's token count for a Messages body."""
        ...

    def accepts_completions(self, model: str) -> bool:
        """Whether legacy `/completions` requests for `model` go to the upstream as they are."""
        ...

    async def forward_completions(self, body: dict[str, Any], model: str, notes: CallNotes) -> bytes:
        """Only when `accepts_completions`: a legacy completions body, relayed."""
        ...

    def forward_completions_stream(self, body: dict[str, Any], model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        """Only when `accepts_completions`: the upstream's completion SSE frames, relayed."""
        ...


class ProviderDefaults:
    """Base of every provider: the optional roads of the Provider protocol exist on each (so every
    provider has one shape) and refuse, as their capabilities say; a provider overrides the ones
    it has. Core code asks the capabilities (or `accepts_completions`) before it takes a road."""

    name: str
    _headers: KeyPool[Any]  # each provider's request headers, one set per upstream key

    @property
    def key_pool(self) -> KeyPool[Any]:
        return self._headers

    async def embed(self, request: EmbeddingRequest, model: str, notes: CallNotes) -> EmbeddingResponse:
        raise UnsupportedCapability(provider=self.name, capability="embeddings")

    async def generate_images(self, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse:
        raise UnsupportedCapability(provider=self.name, capability="image generation")

    async def edit_images(self, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse:
        raise UnsupportedCapability(provider=self.name, capability="image edits")

    async def transcribe(self, request: TranscriptionRequest, model: str, notes: CallNotes) -> TranscriptionResponse:
        raise UnsupportedCapability(provider=self.name, capability="transcription")

    def speech(self, request: SpeechRequest, model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        raise UnsupportedCapability(provider=self.name, capability="speech")

    async def forward_chat(self, body: dict[str, Any], model: str, notes: CallNotes) -> bytes:
        raise NotImplementedError(f"{type(self).__name__} is translated, never passed through")

    def forward_stream(self, body: dict[str, Any], model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        raise NotImplementedError(f"{type(self).__name__} is translated, never passed through")

    async def forward_responses(self, body: dict[str, Any], model: str, notes: CallNotes) -> bytes:
        raise NotImplementedError(f"{type(self).__name__} has no native Responses API")

    def forward_responses_stream(self, body: dict[str, Any], model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        raise NotImplementedError(f"{type(self).__name__} has no native Responses API")

    async def forward_messages(self, body: dict[str, Any], model: str, notes: CallNotes) -> bytes:
        raise NotImplementedError(f"{type(self).__name__} has no native Messages API")

    def forward_messages_stream(self, body: dict[str, Any], model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        raise NotImplementedError(f"{type(self).__name__} has no native Messages API")

    async def count_tokens(self, body: dict[str, Any], model: str) -> int:
        """Anthropic's `count_tokens` for a Messages body (only with `native_messages`)."""
        raise NotImplementedError(f"{type(self).__name__} has no native Messages API")

    def accepts_completions(self, model: str) -> bool:
        """Whether the upstream serves legacy `/completions` for `model` (then it gets it as is)."""
        return False

    async def forward_completions(self, body: dict[str, Any], model: str, notes: CallNotes) -> bytes:
        raise NotImplementedError(f"{type(self).__name__} has no legacy completions API")

    def forward_completions_stream(self, body: dict[str, Any], model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        raise NotImplementedError(f"{type(self).__name__} has no legacy completions API")


def provider_timeouts(config: ProviderConfig, server: ServerConfig) -> Timeouts:
    default = server.default_timeout
    read = config.timeout or default or DEFAULT_TIMEOUT
    return Timeouts(
        connect=config.connect_timeout or default or DEFAULT_CONNECT_TIMEOUT,
        read=config.chunk_timeout or read,
        total=config.total_timeout,
        # None: the first byte waits as long as `timeout` says (not a chunk_timeout of its own).
        first_byte=config.first_byte_timeout or (read if config.chunk_timeout else None),
    )
