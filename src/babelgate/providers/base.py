"""The Provider protocol every upstream family implements, its optional parts, and the values they exchange."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.errors import UnsupportedCapability
from babelgate.http import DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, Timeouts
from babelgate.providers.batch import ProviderBatches
from babelgate.providers.key_pool import KeyPool
from babelgate.providers.notes import CallNotes as CallNotes  # the values providers exchange are named here
from babelgate.schema.audio import SpeechRequest, TranscriptionRequest, TranscriptionResponse
from babelgate.schema.chat import ChatRequest, ChatResponse
from babelgate.schema.chunks import ChatChunk
from babelgate.schema.embeddings import EmbeddingRequest, EmbeddingResponse
from babelgate.schema.images import ImageRequest, ImageResponse
from babelgate.schema.models import ModelInfo
from babelgate.schema.rerank import RerankRequest, RerankResponse

# The client APIs a relay may serve natively, by the name of the frontend's road: "chat" (the OpenAI
# fast path), "responses" (OpenAI's Responses API), "completions" (legacy completions), "messages"
# (Anthropic's Messages API) and "messages.count_tokens" (its token counter, which has no stream).
# "generate_content" (the Gemini API's generateContent and its stream) and "generate_content.count_tokens".
# "responses.input_tokens": OpenAI's own count of a Responses body (`/v1/responses/input_tokens`).
# "converse": Bedrock's Converse and ConverseStream (the Bedrock Converse frontend's body).
RelayApi = Literal[
    "chat",
    "responses",
    "responses.input_tokens",
    "completions",
    "messages",
    "messages.count_tokens",
    "generate_content",
    "generate_content.count_tokens",
    "converse",
]


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
    # Services the guardrails ask (guardrails/external/): OpenAI's `/v1/moderations`, Bedrock's ApplyGuardrail.
    moderations: bool = False
    apply_guardrail: bool = False
    # The client APIs it serves natively (its Relay part: `relay_of`): "chat" is the fast path (the
    # OpenAI Chat Completions JSON forwarded as it is), "responses" lets models opt into
    # `native_responses`, "messages" relays `/v1/messages` without translation.
    relays: frozenset[RelayApi] = frozenset()
    # Issues tool-call ids that carry a signature (see tool_ids.py) and reads them back; every
    # other provider gets plain ids.
    signed_tool_ids: bool = False
    # Hosted tools (Responses API types: `web_search`…) the translator maps to the provider's own
    # equivalent; any other hosted tool is dropped or refused before the call (hosted_tools.py).
    hosted_tools: frozenset[str] = frozenset()
    # Serves OpenAI's Realtime API over a WebSocket of its own (`RealtimeRelay`): `/v1/realtime` relays to it.
    realtime: bool = False
    # Serves Gemini's Live API (`BidiGenerateContent`, `LiveApi`): `/v1/realtime` translates a session to it.
    live: bool = False
    # Takes a Realtime call over WebRTC (`RealtimeCalls`): `/v1/realtime/calls` relays the SDP offer to it.
    realtime_calls: bool = False
    # Orders documents by relevance to a query (`Rerank`): `/v1/rerank`.
    rerank: bool = False
    # Counts a chat request's input tokens with the upstream's own counter (`TokenCounter`); without it the
    # count routes estimate (frontends/token_count.py).
    count_tokens: bool = False
    # Runs batches of chat requests at the provider's batch price (`providers/batch.py`'s `ProviderBatches`): the
    # batch engine sends a batch's lines for this provider there instead of running them itself.
    batch: bool = False


class Provider(Protocol):
    """What every provider does. The rest is optional and comes in parts, each declared in the
    capabilities and found through them (`relay_of`, `embeddings_of`…): a `Relay` for the native
    roads, and one media part per media capability. A provider has only the parts it serves."""

    name: str
    type: str
    capabilities: Capabilities

    secrets: tuple[str, ...]

    @property
    def key_pool(self) -> KeyPool[Any]:
        """The upstream keys its requests take turns with: the router skips a provider whose keys
        all rest after a 429 while another deployment can serve."""
        ...

    def key_pools(self) -> tuple[KeyPool[Any], ...]:
        """Every key pool it sends with: `key_pool`, and the pools of the roads it hands requests to (a cloud's
        partner models). The gateway sets their cool-down and shares their rests with other instances."""
        ...

    async def chat(self, request: ChatRequest, model: str, notes: CallNotes) -> ChatResponse: ...

    def stream(self, request: ChatRequest, model: str, notes: CallNotes) -> AsyncIterator[ChatChunk]:
        """Chunks as they come; the upstream call happens on the first iteration."""
        ...

    async def list_models(self) -> list[ModelInfo]: ...

    def credentials_problem(self) -> str | None:
        """What is wrong with the credentials it can check without the network (a file that is not there,
        a key that does not parse), in words that hold no secret; None when nothing is. Asked once per
        configuration load: `check-config` fails on it, `/health` reports it."""
        ...


class Relay(Protocol):
    """Optional part: native roads. The client's own body goes to the upstream's own endpoint with only
    `model` rewritten, and the answer comes back as the upstream's bytes; the provider reads only what
    accounting needs into `notes`. `Capabilities.relays` lists the APIs it may serve; `relays` says
    whether it serves one for a model (legacy completions are served for some models only)."""

    def relays(self, api: RelayApi, model: str) -> bool: ...

    async def relay(self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes) -> bytes:
        """The upstream's exact body bytes."""
        ...

    def relay_stream(self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        """The upstream's SSE frames, relayed as they come; the call happens on the first iteration."""
        ...


@dataclass(frozen=True, slots=True)
class RealtimeUpstream:
    """Where a Realtime session's WebSocket goes and how it signs in: the URL (ws:// or wss://), the headers (the
    upstream key among them, never the caller's), the TLS context for wss:// and the proxy URL (None: direct)."""

    url: str
    headers: tuple[tuple[str, str], ...] = field(repr=False)  # they hold the upstream key
    tls: ssl.SSLContext | None = None
    proxy: str | None = field(default=None, repr=False)  # it may hold the proxy's credentials
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT


class RealtimeRelay(Protocol):
    """Optional part, with the `realtime` capability: the upstream speaks OpenAI's Realtime protocol itself."""

    async def realtime_upstream(self, model: str, *, beta: bool, call_id: str | None = None) -> RealtimeUpstream:
        """The upstream socket for `model` (the upstream's name); `beta`: the client asked for the beta protocol;
        `call_id`: the sideband of a WebRTC call (`RealtimeCalls`) instead of a session of its own."""
        ...


@dataclass(frozen=True, slots=True)
class RealtimeCall:
    """A call the upstream created from an SDP offer: its SDP answer and its id (None: it named none)."""

    sdp: bytes
    call_id: str | None


class RealtimeCalls(Protocol):
    """Optional part, with the `realtime_calls` capability: the upstream takes WebRTC calls (`/realtime/calls`);
    the media flow between the browser and the upstream, never through the gateway."""

    async def realtime_call(self, model: str, sdp: bytes, session: dict[str, Any]) -> RealtimeCall:
        """Creates a call of `model` (the upstream's name) from the caller's SDP offer, with `session`'s settings
        (the `session` part); raises the upstream's refusal as a GatewayError."""
        ...

    async def realtime_hangup(self, call_id: str) -> None:
        """Ends a call this provider created."""
        ...


@dataclass(frozen=True, slots=True)
class LiveUpstream:
    """Where a Gemini Live session's WebSocket goes (`socket`), and the model as the session's `setup` names it
    (`models/…`; on Vertex `projects/…/publishers/google/models/…`)."""

    socket: RealtimeUpstream
    model: str
    # Whether it takes `realtimeInput.audioStreamEnd` (Vertex's Live API has none: GEM refuses to send it there).
    audio_stream_end: bool = True


class LiveApi(Protocol):
    """Optional part, with the `live` capability: the upstream speaks Gemini's Live API (`BidiGenerateContent`);
    a Realtime session is translated to it."""

    async def live_upstream(self, model: str) -> LiveUpstream:
        """The upstream socket for `model` (the upstream's name)."""
        ...


class Embeddings(Protocol):
    """Optional part, with the `embeddings` capability."""

    async def embed(self, request: EmbeddingRequest, model: str, notes: CallNotes) -> EmbeddingResponse: ...


class ImageGeneration(Protocol):
    """Optional part, with the `image_generation` capability."""

    async def generate_images(self, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse: ...


class ImageEdits(Protocol):
    """Optional part, with the `image_edits` capability."""

    async def edit_images(self, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse: ...


class Transcription(Protocol):
    """Optional part, with the `transcription` capability (translations too: `request.translate`)."""

    async def transcribe(
        self, request: TranscriptionRequest, model: str, notes: CallNotes
    ) -> TranscriptionResponse: ...


class Speech(Protocol):
    """Optional part, with the `speech` capability."""

    def speech(self, request: SpeechRequest, model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        """The audio in `request.response_format`, as it arrives."""
        ...


class Moderation(Protocol):
    """Optional part, with the `moderations` capability: the upstream's OpenAI-style `/moderations`."""

    async def moderate(self, body: dict[str, Any], model: str) -> dict[str, Any]:
        """The upstream's answer to `body` (`input`; `model` is set to the upstream's `model`)."""
        ...


class Rerank(Protocol):
    """Optional part, with the `rerank` capability."""

    async def rerank(self, request: RerankRequest, model: str, notes: CallNotes) -> RerankResponse:
        """The results best first (at most `top_n`), indexes into `request.documents`; `notes.usage` set."""
        ...


class TokenCounter(Protocol):
    """Optional part, with the `count_tokens` capability: the upstream's own count of a request's input tokens."""

    async def count_input_tokens(self, request: ChatRequest, model: str, notes: CallNotes) -> int | None:
        """The input tokens `chat` would send for `request`; None where the model's road has no counter."""
        ...


class GuardrailService(Protocol):
    """Optional part, with the `apply_guardrail` capability: a guardrail the cloud keeps (Bedrock's)."""

    async def apply_guardrail(self, identifier: str, version: str, body: dict[str, Any]) -> dict[str, Any]: ...


# How callers find a part: the capabilities say, so finding one is a flag read (an isinstance on a
# runtime-checkable Protocol compares every member, too slow for the fast path, which asks per request).
# tests/unit/test_provider_parts.py holds every provider type to its word: a declared part is there.


def relay_of(provider: Provider, api: RelayApi, model: str) -> Relay | None:
    """The provider's relay when it serves `api` natively for `model`, else None (the frontend then
    takes its translated road, or refuses)."""
    if api in provider.capabilities.relays:
        relay: Relay = provider  # type: ignore[assignment]  # declared in its capabilities
        if relay.relays(api, model):
            return relay
    return None


# The media parts are not optional for the routes that need them: their frontends refuse a provider
# without the capability before any attempt (pipeline.require, so the router never picks it), and these
# refuse it too, rather than hand out a part that is not there.


def realtime_of(provider: Provider) -> RealtimeRelay | None:
    """The provider's Realtime relay, or None (a session then needs a translated road, or is refused)."""
    return provider if provider.capabilities.realtime else None  # type: ignore[return-value]


def live_of(provider: Provider) -> LiveApi | None:
    """The provider's Gemini Live part, or None."""
    return provider if provider.capabilities.live else None  # type: ignore[return-value]


def realtime_calls_of(provider: Provider) -> RealtimeCalls | None:
    """The provider's WebRTC calls part, or None (the call is refused)."""
    return provider if provider.capabilities.realtime_calls else None  # type: ignore[return-value]


def embeddings_of(provider: Provider) -> Embeddings:
    return cast(Embeddings, _part(provider, provider.capabilities.embeddings, "embeddings"))


def image_generation_of(provider: Provider) -> ImageGeneration:
    return cast(ImageGeneration, _part(provider, provider.capabilities.image_generation, "image generation"))


def image_edits_of(provider: Provider) -> ImageEdits:
    return cast(ImageEdits, _part(provider, provider.capabilities.image_edits, "image edits"))


def transcription_of(provider: Provider) -> Transcription:
    return cast(Transcription, _part(provider, provider.capabilities.transcription, "transcription"))


def speech_of(provider: Provider) -> Speech:
    return cast(Speech, _part(provider, provider.capabilities.speech, "speech"))


def moderation_of(provider: Provider) -> Moderation:
    return cast(Moderation, _part(provider, provider.capabilities.moderations, "moderations"))


def rerank_of(provider: Provider) -> Rerank:
    return cast(Rerank, _part(provider, provider.capabilities.rerank, "rerank"))


def token_counter_of(provider: Provider) -> TokenCounter | None:
    """The provider's own token counter, or None (the caller then estimates)."""
    return provider if provider.capabilities.count_tokens else None  # type: ignore[return-value]


def batches_of(provider: Provider) -> ProviderBatches | None:
    """The provider's own batch API, or None (the engine then runs the lines itself)."""
    return provider if provider.capabilities.batch else None  # type: ignore[return-value]


def guardrail_service_of(provider: Provider) -> GuardrailService:
    return cast(GuardrailService, _part(provider, provider.capabilities.apply_guardrail, "guardrails"))


def _part(provider: Provider, capable: bool, capability: str) -> Provider:
    """The provider as one of its media parts, which its capabilities declare (or the refusal)."""
    if not capable:
        raise UnsupportedCapability(provider=provider.name, capability=capability)
    return provider


class ProviderDefaults:
    """Base of every provider: its key pool as the Provider protocol's `key_pool`."""

    name: str
    _headers: KeyPool[Any]  # each provider's request headers, one set per upstream key

    @property
    def key_pool(self) -> KeyPool[Any]:
        return self._headers

    def key_pools(self) -> tuple[KeyPool[Any], ...]:
        return (self._headers,)

    def credentials_problem(self) -> str | None:
        return None  # keys in the configuration: nothing to check before a call

    def batches_model(self, model: str) -> bool:
        return True  # a provider with the `batch` capability batches all its models unless it says otherwise

    def minimum_lines(self, model: str) -> int:
        return 1  # any number of lines, unless the provider's batch API says otherwise


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
