"""Thin I/O for Gemini: URLs, the `x-goog-api-key` header, remote media inlining, sending."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import time
from collections.abc import AsyncIterator, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.errors import UpstreamProtocolError
from babelgate.http import DEFAULT_CONNECT_TIMEOUT, UpstreamClient, UpstreamResponse
from babelgate.observability.logging import Scrubber
from babelgate.providers.base import (
    CallNotes,
    Capabilities,
    LiveUpstream,
    ProviderDefaults,
    RealtimeUpstream,
    RelayApi,
    provider_timeouts,
)
from babelgate.providers.batch import (
    BatchLine,
    BatchOutcome,
    ProviderBatches,
    ProviderBatchStatus,
    batches_on,
    checked_lines,
)
from babelgate.providers.gemini import batches, images, wire
from babelgate.providers.gemini import relay as native
from babelgate.providers.gemini.audio import (
    audio_usage,
    speech_from_wire,
    speech_to_wire,
    transcription_from_wire,
    transcription_to_wire,
)
from babelgate.providers.gemini.chat_audio import requested_format
from babelgate.providers.gemini.errors import error_from_object, map_error, stream_error_status
from babelgate.providers.gemini.profiles import build_profiles
from babelgate.providers.gemini.stream import GeminiStreamTranslator
from babelgate.providers.gemini.translate import embedding_from_wire, embedding_to_wire, from_wire, to_wire
from babelgate.providers.gemini.translate_parts import InlineMedia
from babelgate.providers.key_pool import KeyPool
from babelgate.providers.media_policy import MediaPolicy
from babelgate.providers.sse import translate_sse
from babelgate.providers.transport import (
    Upstream,
    checked_embeddings,
    read_json_object,
    socket_headers,
    websocket_url,
)
from babelgate.schema.audio import SpeechRequest, TranscriptionRequest, TranscriptionResponse
from babelgate.schema.chat import ChatRequest, ChatResponse, ImagePart
from babelgate.schema.chunks import ChatChunk
from babelgate.schema.embeddings import EmbeddingRequest, EmbeddingResponse
from babelgate.schema.images import ImageRequest, ImageResponse
from babelgate.schema.models import ModelInfo

if TYPE_CHECKING:
    from babelgate.providers.media import MediaFetcher

_URLS_KEPT = 1024  # models' endpoint URLs remembered (then forgotten all at once)


class GeminiProvider(ProviderDefaults):
    type = "gemini"
    capabilities = Capabilities(
        images_out=True,
        audio_in=True,
        embeddings=True,
        transcription=True,
        speech=True,
        embedding_batch_limit=wire.EMBEDDING_BATCH_LIMIT,
        list_models=True,
        image_generation=True,
        image_edits=True,
        signed_tool_ids=True,
        hosted_tools=frozenset({"web_search"}),
        relays=frozenset({"generate_content", "generate_content.count_tokens"}),
        live=True,
        count_tokens=True,
        # Batch mode with inlined requests (batches.py); `options.batches: false` turns it off.
        batch=True,
    )

    def __init__(self, name: str, config: ProviderConfig, server: ServerConfig, client: UpstreamClient) -> None:
        self.name = name
        self.secrets = config.api_keys
        self.list_models_enabled = config.list_models
        self._root = (config.base_url or wire.DEFAULT_BASE_URL) + f"/{wire.API_VERSION}/"
        self._base = self._root + "models/"
        self._urls: dict[tuple[str, str], str] = {}
        self._models_url = (config.base_url or wire.DEFAULT_BASE_URL) + wire.MODELS_PATH
        self._live_url = websocket_url(config.base_url or wire.DEFAULT_BASE_URL) + wire.LIVE_PATH
        self._live_models = wire.LIVE_MODELS
        self._live_stream_end = True
        self._client = client
        self._timeouts = provider_timeouts(config, server)
        self._scrub = Scrubber(config.api_keys)
        self._profiles = build_profiles(config.options)
        self._media_policy = _media_policy(config.options.get("media") or {})
        self._media: MediaFetcher | None = None
        common = {"content-type": "application/json", **config.headers}
        self._headers = KeyPool.for_keys(
            name,
            config.api_keys,
            lambda key: MappingProxyType({**common, "x-goog-api-key": key}),
            MappingProxyType(common),
        )
        self._upstream = Upstream(client, name, self._headers, self._timeouts, map_error, self._scrub)
        if not batches_on(config.options, True):
            self.capabilities = dataclasses.replace(self.capabilities, batch=False)

    def _url(self, model: str, method: str) -> str:
        # Made once per model and method: quoting the model's name was ~70 bytecodes of every request.
        url = self._urls.get((model, method))
        if url is None:
            url = f"{self._base}{quote(model, safe='-._')}:{method}"
            if len(self._urls) >= _URLS_KEPT:  # names a wildcard route passes through are the clients'
                self._urls.clear()
            self._urls[model, method] = url
        return url

    async def live_upstream(self, model: str) -> LiveUpstream:
        """The Live API's socket, signed as the provider's HTTP calls are, through its TLS and proxy settings."""
        headers = await socket_headers(self._headers, self._upstream.tokens)
        tls, proxy = self._client.websocket_route(self._live_url, self.name)
        connect = self._timeouts.connect or DEFAULT_CONNECT_TIMEOUT
        socket = RealtimeUpstream(self._live_url, tuple(headers), tls, proxy, connect)
        return LiveUpstream(socket, self._live_models + model, self._live_stream_end)

    async def _body(self, request: ChatRequest, model: str, notes: CallNotes) -> bytes:
        return orjson.dumps(await self._wire_request(request, model, notes))

    async def _wire_request(self, request: ChatRequest, model: str, notes: CallNotes) -> dict[str, Any]:
        profile = self._profiles.for_model(model)
        inline = await self._inline_media(request) if profile.inline_remote_media else {}
        return to_wire(request, profile, notes.adjusted, inline=inline, tool_positions=notes.tool_positions)

    async def generate_content_body(self, request: ChatRequest, model: str) -> dict[str, Any]:
        """The generateContent body `chat` would send for `request`: a batch line's (here, and on Vertex)."""
        return await self._wire_request(request, model, CallNotes())

    # The ProviderBatches part (batches.py): each line inlined as the generateContent body `chat` sends.

    async def submit_batch(self, model: str, lines: Sequence[BatchLine]) -> str:
        requests = [
            {"request": await self.generate_content_body(line.request, model), "metadata": {"key": line.custom_id}}
            for line in checked_lines(lines)
        ]
        body = batches.batch_body(requests, f"babelgate {model} ({len(requests)} lines)")
        response = await self._post(self._url(model, "batchGenerateContent"), batches.checked_size(orjson.dumps(body)))
        return batches.batch_name(await self._answer(response), self.name)

    async def batch_status(self, batch_id: str) -> ProviderBatchStatus:
        operation = await self._upstream.get_json(self._root + batches.checked_name(batch_id))
        return batches.status_of(operation, self.name)

    async def batch_results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        operation = await self._upstream.get_json(self._root + batches.checked_name(batch_id))
        model, created = batches.model_of(operation), int(time.time())
        for item in batches.inlined_responses(operation):
            yield batches.outcome_of(
                item,
                from_wire=lambda body: from_wire(body, created=created, model=model),
                provider=self.name,
                scrub=self._scrub,
            )

    async def cancel_batch(self, batch_id: str) -> None:
        response = await self._post(self._root + batches.checked_name(batch_id) + ":cancel", b"{}")
        await self._answer(response)

    async def count_input_tokens(self, request: ChatRequest, model: str, notes: CallNotes) -> int | None:
        """countTokens of the generateContent body `chat` would send."""
        body = self._count_body(orjson.loads(await self._body(request, model, notes)), model)
        response = await self._post(self._url(model, "countTokens"), orjson.dumps(body))
        _, parsed = await read_json_object(response, self.name)
        tokens = parsed.get("totalTokens", 0)  # an empty request's count is left out (proto3's default)
        if isinstance(tokens, bool) or not isinstance(tokens, int):
            raise UpstreamProtocolError(provider=self.name, detail="the body has no totalTokens")
        return tokens

    def _count_body(self, body: dict[str, Any], model: str) -> dict[str, Any]:
        """The Gemini API counts a whole generateContent request (system instruction and tools too) when it comes
        wrapped, with its model named."""
        return {"generateContentRequest": {"model": f"models/{model}", **body}}

    async def _inline_media(self, request: ChatRequest) -> dict[str, InlineMedia]:
        """Fetch http(s) images through the safe fetcher, for upstreams that cannot fetch them."""
        urls = {
            part.url: f"messages[{i}].content[{j}].image_url"
            for i, message in enumerate(request.messages)
            if isinstance(message.content, list)
            for j, part in enumerate(message.content)
            if isinstance(part, ImagePart) and part.url.startswith(("https://", "http://"))
        }
        if not urls:
            return {}
        if self._media is None:
            from babelgate.providers.media import MediaFetcher  # aiohttp, loaded by the first URL to fetch

            self._media = MediaFetcher(self._media_policy)
            self._client.on_close(self._media.close)
        fetched = await asyncio.gather(*(self._media.fetch(url, param=param) for url, param in urls.items()))
        return {
            url: InlineMedia(media.mime_type, base64.b64encode(media.data).decode())
            for url, media in zip(urls, fetched, strict=True)
        }

    async def _post(self, url: str, body: bytes) -> Any:
        return await self._upstream.post(url, body)

    async def _answer(self, response: UpstreamResponse) -> dict[str, Any]:
        """A generateContent-like body; an error object in it (answered with HTTP 200) is raised, mapped
        as one inside a stream is: by its own `code`."""
        _, parsed = await read_json_object(response, self.name)
        error = parsed.get("error")
        if isinstance(error, dict):
            raise error_from_object(error, stream_error_status(error), provider=self.name, scrub=self._scrub)
        return parsed

    async def chat(self, request: ChatRequest, model: str, notes: CallNotes) -> ChatResponse:
        response = await self._post(self._url(model, "generateContent"), await self._body(request, model, notes))
        parsed = await self._answer(response)
        if "candidates" not in parsed and "promptFeedback" not in parsed:
            # Neither an answer nor a blocked prompt: not a GenerateContentResponse at all.
            raise UpstreamProtocolError(provider=self.name, detail="the body has no candidates")
        try:
            answer = from_wire(parsed, created=int(time.time()), model=model, audio_format=requested_format(request))
        except (AttributeError, TypeError, ValueError, KeyError):
            raise UpstreamProtocolError(provider=self.name, detail="the body has the wrong shape") from None
        notes.usage, notes.finish_reason = answer.usage, answer.choices[0].finish_reason
        return answer

    async def stream(self, request: ChatRequest, model: str, notes: CallNotes) -> AsyncIterator[ChatChunk]:
        body = await self._body(request, model, notes)
        response = await self._post(self._url(model, "streamGenerateContent") + "?alt=sse", body)
        translator = GeminiStreamTranslator(
            self.name, created=int(time.time()), model=model, scrub=self._scrub, audio_format=requested_format(request)
        )
        async for canonical in translate_sse(response, translator, notes, provider=self.name):
            yield canonical

    def relays(self, api: RelayApi, model: str) -> bool:
        return api == "generate_content" or api == "generate_content.count_tokens"

    async def relay(self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes) -> bytes:
        """A Gemini API client's body, sent to the same method (the model is in the URL)."""
        if api == "generate_content":
            response = await self._post(self._url(model, "generateContent"), orjson.dumps(body))
            return await native.whole(response, provider=self.name, notes=notes, scrub=self._scrub)
        if api == "generate_content.count_tokens":
            response = await self._post(self._url(model, "countTokens"), orjson.dumps(body))
            raw, parsed = await read_json_object(response, self.name)
            if not isinstance(parsed.get("totalTokens", 0), int):
                raise UpstreamProtocolError(provider=self.name, detail="the body has no totalTokens")
            return raw
        raise ValueError(f"{self.name} does not relay {api!r}")  # relay_of hands out only what it relays

    async def relay_stream(
        self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes
    ) -> AsyncIterator[bytes]:
        if api != "generate_content":  # countTokens has no stream
            raise ValueError(f"{self.name} does not relay a stream of {api!r}")
        response = await self._post(self._url(model, "streamGenerateContent") + "?alt=sse", orjson.dumps(body))
        async for frames in native.frames(response, provider=self.name, notes=notes, scrub=self._scrub):
            yield frames

    async def embed(self, request: EmbeddingRequest, model: str, notes: CallNotes) -> EmbeddingResponse:
        body = embedding_to_wire(request, model, self._profiles.for_model(model), notes.adjusted)
        response = await self._post(self._url(model, wire.EMBED_METHOD), orjson.dumps(body))
        parsed = await self._answer(response)
        answer = checked_embeddings(
            parsed, len(request.inputs), self.name, lambda body: embedding_from_wire(body, model)
        )
        notes.usage = answer.usage
        return answer

    async def transcribe(self, request: TranscriptionRequest, model: str, notes: CallNotes) -> TranscriptionResponse:
        body = transcription_to_wire(request, model, notes.adjusted)
        response = await self._post(self._url(model, "generateContent"), orjson.dumps(body))
        parsed = await self._answer(response)
        answer = transcription_from_wire(parsed, request, provider=self.name)
        notes.usage = answer.usage
        return answer

    async def speech(self, request: SpeechRequest, model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        """One `generateContent` call: the WAV header needs the length of the whole audio."""
        body = speech_to_wire(request, model, notes.adjusted)
        response = await self._post(self._url(model, "generateContent"), orjson.dumps(body))
        parsed = await self._answer(response)
        notes.usage = audio_usage(parsed.get("usageMetadata"))
        yield speech_from_wire(parsed, request.response_format, provider=self.name)
        notes.completed = True

    async def generate_images(self, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse:
        return await images.generate(self._image_calls(model), request, model, notes)

    async def edit_images(self, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse:
        return await images.edit(self._image_calls(model), request, model, notes)

    def _image_calls(self, model: str) -> images.ImageCalls:
        return images.ImageCalls(
            provider=self.name,
            post=self._post,
            url=lambda method: self._url(model, method),
            profile=self._profiles.for_model(model),
        )

    async def list_models(self) -> list[ModelInfo]:
        parsed = await self._upstream.get_json(self._models_url)
        models = []
        for entry in parsed.get("models") or ():
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                continue
            # Chat models and embedding models; not the ones only other APIs serve (Imagen's predict, ...).
            methods = entry.get("supportedGenerationMethods") or ("generateContent",)
            if not {"generateContent", "embedContent", "predict"} & set(methods):  # predict: Imagen
                continue
            window, output = entry.get("inputTokenLimit"), entry.get("outputTokenLimit")
            models.append(
                ModelInfo(
                    id=entry["name"].removeprefix("models/"),
                    owned_by="google",
                    display_name=entry.get("displayName") if isinstance(entry.get("displayName"), str) else None,
                    context_window=window if isinstance(window, int) and window > 0 else None,
                    max_output_tokens=output if isinstance(output, int) and output > 0 else None,
                    capabilities=(
                        *(m for m in methods if isinstance(m, str)),
                        *(("thinking",) if entry.get("thinking") else ()),
                    ),
                )
            )
        return models


def _media_policy(options: Any) -> MediaPolicy:
    if not isinstance(options, dict):
        raise ValueError("options.media must be a mapping")
    known = set(MediaPolicy.__dataclass_fields__)
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"options.media: unknown field(s) {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, value in options.items():
        where = f"options.media.{name}"
        if name in ("allow_http", "allow_private"):
            if not isinstance(value, bool):
                raise ValueError(f"{where}: expected true or false")
        elif name in ("max_bytes", "max_redirects"):  # MediaPolicy checks the ranges itself
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{where}: expected a whole number")
        elif name == "timeout":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{where}: expected a number of seconds")
        elif not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError(f"{where}: expected a list of strings")
        else:
            value = tuple(value) if name == "allowed_types" else frozenset(value)
        values[name] = value
    return MediaPolicy(**values)


if TYPE_CHECKING:  # the `batch` capability's part, held to its protocol where `make typecheck` looks

    def _batches(provider: GeminiProvider) -> ProviderBatches:
        return provider
