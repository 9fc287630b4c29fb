"""Thin I/O for OpenAI-compatible upstreams: URL, auth headers, sending, and handing bodies over.

Besides `chat` and `stream` it has every optional part: the relay of the native roads (the chat fast
path, the Responses API, legacy completions: relay.py reads what accounting needs) and the media parts."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Coroutine, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import orjson

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.errors import UnsupportedCapability, UpstreamProtocolError
from babelgate.http import DEFAULT_CONNECT_TIMEOUT, UpstreamClient, UpstreamResponse, read_body
from babelgate.observability.logging import Scrubber
from babelgate.providers import rerank as rerank_wire
from babelgate.providers.base import (
    CallNotes,
    Capabilities,
    ProviderDefaults,
    RealtimeCall,
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
from babelgate.providers.key_pool import KeyPool
from babelgate.providers.openai import batches, images, translate, wire
from babelgate.providers.openai.audio import (
    SPEECH_PATH,
    TRANSCRIPTIONS_PATH,
    TRANSLATIONS_PATH,
    read_transcription,
    relay_audio,
    speech_to_wire,
    transcription_form,
)
from babelgate.providers.openai.calls import CALLS_PATH, call_form, call_of
from babelgate.providers.openai.chat_road import post_body, relay_chat
from babelgate.providers.openai.errors import map_error
from babelgate.providers.openai.profiles import select_profile
from babelgate.providers.openai.relay import (
    ask_for_usage,
    relay_frames,
    relay_response_events,
    responses_usage,
)
from babelgate.providers.openai.stream import OpenAIStreamTranslator, stream_error
from babelgate.providers.sse import translate_sse
from babelgate.providers.transport import (
    Upstream,
    checked_embeddings,
    read_json_object,
    socket_headers,
    websocket_url,
)
from babelgate.schema.audio import SpeechRequest, TranscriptionRequest, TranscriptionResponse
from babelgate.schema.chat import ChatRequest, ChatResponse
from babelgate.schema.chunks import ChatChunk
from babelgate.schema.embeddings import EmbeddingRequest, EmbeddingResponse
from babelgate.schema.images import ImageRequest, ImageResponse
from babelgate.schema.models import ModelInfo
from babelgate.schema.rerank import RerankRequest, RerankResponse

if TYPE_CHECKING:  # aiohttp (~14 MiB) loads with the first form sent, not with the gateway
    import aiohttp


class OpenAIProvider(ProviderDefaults):
    type = "openai"
    # Everything the upstream can do passes through; compatible servers decide per model.
    capabilities = Capabilities(
        images_out=True,
        audio_in=True,
        embeddings=True,
        embedding_batch_limit=2048,
        list_models=True,
        image_generation=True,
        image_edits=True,
        transcription=True,
        speech=True,
        relays=frozenset({"chat", "responses", "completions", "responses.input_tokens"}),
        moderations=True,
        realtime=True,
        realtime_calls=True,
        rerank=True,
        # OpenAI's Batch API; an instance whose profile has none (every compatible server) leaves it out.
        batch=True,
    )
    # What each batch line's `url` and the batch's `endpoint` name (Azure's have no `/v1`).
    _batch_endpoint = batches.CHAT_ENDPOINT

    def __init__(self, name: str, config: ProviderConfig, server: ServerConfig, client: UpstreamClient) -> None:
        self.name = name
        self.base_url = config.base_url or wire.DEFAULT_BASE_URL
        self.list_models_enabled = config.list_models
        self.secrets = config.api_keys
        self._chat_url = self.base_url + wire.CHAT_PATH
        self._responses_url = self.base_url + wire.RESPONSES_PATH
        self._embeddings_url = self.base_url + wire.EMBEDDINGS_PATH
        # Ollama lists its models at /api/tags (its native API), beside the /v1 root.
        self._ollama_tags = config.options.get("models_endpoint") == "ollama_tags"
        self._models_url = (
            self.base_url.removesuffix("/v1") + "/api/tags" if self._ollama_tags else self.base_url + wire.MODELS_PATH
        )
        self._client = client
        self._timeouts = provider_timeouts(config, server)
        self._profile = select_profile(config.profile, self.base_url, config.options)
        if not batches_on(config.options, self._profile.batches):
            self.capabilities = dataclasses.replace(self.capabilities, batch=False)
        root = self._profile.completions_root
        self._completions_url = (
            self.base_url.removesuffix("/v1") + root if root is not None else self.base_url
        ) + wire.COMPLETIONS_PATH
        self._scrub = Scrubber(config.api_keys)
        common = {"Content-Type": "application/json", **config.headers}
        # Header dicts are built once per key; a request only picks one.
        self._headers = KeyPool.for_keys(
            name,
            config.api_keys,
            lambda key: MappingProxyType({**common, **self._key_headers(key)}),
            MappingProxyType(common),
        )
        self._upstream = Upstream(client, name, self._headers, self._timeouts, map_error, self._scrub)

    def _key_headers(self, key: str) -> dict[str, str]:
        """How a key is sent (Azure sends it as `api-key`)."""
        return {"Authorization": f"Bearer {key}"}

    def _url(self, url: str, model: str) -> str:
        """The URL of an endpoint for `model`: the endpoint's own here; Azure's deployment-style API
        puts the model (its deployment) in the path."""
        return url

    def _realtime_url(self, model: str, call_id: str | None = None) -> str:
        """The Realtime WebSocket's URL for `model`: `{base_url}/realtime?model=…` as ws:// or wss://; a call's
        sideband is `?call_id=…`."""
        query = {"call_id": call_id} if call_id is not None else {"model": model}
        return websocket_url(self.base_url) + "/realtime?" + urlencode(query)

    async def realtime_upstream(self, model: str, *, beta: bool, call_id: str | None = None) -> RealtimeUpstream:
        """The upstream's Realtime socket, signed with a key of the pool (or the cloud's current token)."""
        url = self._realtime_url(model, call_id)
        headers = await socket_headers(self._headers, self._upstream.tokens)
        if beta:  # only a client that asked for the beta protocol gets it (GA upstreams answer GA events)
            headers.append(("OpenAI-Beta", "realtime=v1"))
        tls, proxy = self._client.websocket_route(url, self.name)
        return RealtimeUpstream(url, tuple(headers), tls, proxy, self._timeouts.connect or DEFAULT_CONNECT_TIMEOUT)

    def _calls_url(self) -> str:
        """Where WebRTC calls are created: `{base_url}/realtime/calls`."""
        return self.base_url + CALLS_PATH

    async def realtime_call(self, model: str, sdp: bytes, session: dict[str, Any]) -> RealtimeCall:
        """The call, created with a key of the pool; the session part names the upstream's model."""
        body, content_type = call_form(sdp, {**session, "type": "realtime", "model": model})
        headers = {"Content-Type": content_type, "Accept": "application/sdp"}
        response = await self._upstream.post(self._calls_url(), body, headers)
        answer = await read_body(response)
        return call_of(answer, response.headers.get("Location"))

    async def realtime_hangup(self, call_id: str) -> None:
        response = await self._upstream.post(f"{self._calls_url()}/{call_id}/hangup", b"", {"Accept": "*/*"})
        await read_body(response)

    def _post(
        self, body: dict[str, Any], model: str, notes: CallNotes, *, url: str | None = None, profile: bool = True
    ) -> Coroutine[Any, Any, UpstreamResponse]:
        url = self._url(url or self._chat_url, model)
        return post_body(self._upstream, url, self._profile if profile else None, body, model, notes)

    async def moderate(self, body: dict[str, Any], model: str) -> dict[str, Any]:
        """`/moderations` with this provider's key, as every call of it is sent."""
        body["model"] = model
        response = await self._upstream.post(
            self._url(self.base_url + wire.MODERATIONS_PATH, model), orjson.dumps(body)
        )
        return (await read_json_object(response, self.name))[1]

    async def rerank(self, request: RerankRequest, model: str, notes: CallNotes) -> RerankResponse:
        """`{base_url}/rerank` in the profile's dialect: Cohere's body (vLLM, Jina) or Voyage's."""
        dialect = self._profile.rerank
        if dialect is None:
            raise UnsupportedCapability(provider=self.name, capability="rerank", param="model")
        voyage = dialect == "voyage"
        body = rerank_wire.cohere_body(request, model, top="top_k" if voyage else "top_n")
        if voyage:
            body.pop(
                "max_tokens_per_doc", None
            )  # Voyage truncates by itself (`truncation`), per document it has no cap
        response = await self._upstream.post(self._url(self.base_url + wire.RERANK_PATH, model), orjson.dumps(body))
        _, parsed = await read_json_object(response, self.name)
        answer = rerank_wire.read_answer(parsed, request, self.name, results="data" if voyage else "results")
        notes.usage = answer.usage
        return answer

    async def _json_body(self, response: UpstreamResponse) -> tuple[bytes, dict[str, Any]]:
        raw, parsed = await read_json_object(response, self.name)
        if "error" in parsed and "choices" not in parsed:
            raise stream_error(parsed, self.name, self._scrub)
        return raw, parsed

    def relays(self, api: RelayApi, model: str) -> bool:
        """Chat and the Responses API for every model; legacy `/completions` where the server serves
        `model` there (the profile says, or `options.completions`), others go through chat."""
        if api == "responses.input_tokens":
            return self._profile.input_tokens
        return api != "completions" or self._profile.serves_completions(model)

    def relay(self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes) -> Coroutine[Any, Any, bytes]:
        """The fast path's road is a compiled function (chat_road.py), handed back to be awaited (no frame here
        per request); the others are methods of this class."""
        if api == "chat":
            return relay_chat(self._upstream, self._url(self._chat_url, model), self._profile, body, model, notes)
        return self._relay_other(api, body, model, notes)

    async def _relay_other(self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes) -> bytes:
        if api == "responses":
            return await self._relay_responses(body, model, notes)
        if api == "completions":
            return await self._relay_completions(body, model, notes)
        if api == "responses.input_tokens":
            url = self._responses_url + "/input_tokens"
            raw, parsed = await read_json_object(
                await self._post(body, model, notes, url=url, profile=False), self.name
            )
            tokens = parsed.get("input_tokens")
            if isinstance(tokens, bool) or not isinstance(tokens, int):
                raise UpstreamProtocolError(provider=self.name, detail="the body has no input_tokens")
            return raw
        raise ValueError(f"{self.name} does not relay {api!r}")  # relay_of hands out only what it relays

    async def _relay_responses(self, body: dict[str, Any], model: str, notes: CallNotes) -> bytes:
        # Chat quirk profiles do not apply: the Responses API has its own names.
        response = await self._post(body, model, notes, url=self._responses_url, profile=False)
        raw, parsed = await read_json_object(response, self.name)
        if isinstance(parsed.get("error"), dict) and parsed.get("object") != "response":
            # An error answered with HTTP 200 (a failed response is a "response" too, and relayed).
            raise stream_error(parsed, self.name, self._scrub)
        notes.usage = responses_usage(parsed.get("usage"))
        return raw

    async def _relay_completions(self, body: dict[str, Any], model: str, notes: CallNotes) -> bytes:
        # With the profile's top-level edits (docs/decisions.md, "Profile edits on the fast path": the same server takes
        # the same quirks on both endpoints).
        raw, parsed = await self._json_body(await self._post(body, model, notes, url=self._completions_url))
        choices = parsed.get("choices")
        if not isinstance(choices, list):
            raise UpstreamProtocolError(provider=self.name, detail="the body has no choices")
        notes.usage = translate.usage_from_wire(parsed.get("usage"))
        if choices and isinstance(choices[0], dict) and isinstance(choices[0].get("finish_reason"), str):
            notes.finish_reason = choices[0]["finish_reason"]
        return raw

    def relay_stream(self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        """The relay itself, handed back by a plain call: no generator of its own between each frame and the client.
        The request is made on the first iteration, as a generator's body would make it (`relay.py` awaits `posted`)."""
        if api == "responses":
            return relay_response_events(
                lambda: self._post(body, model, notes, url=self._responses_url, profile=False),
                provider=self.name,
                notes=notes,
                scrub=self._scrub,
            )
        if api == "chat" or api == "completions":  # the same framing (relay.py)
            hidden = ask_for_usage(body)
            url = self._completions_url if api == "completions" else None
            return relay_frames(
                lambda: self._post(body, model, notes, url=url),
                provider=self.name,
                notes=notes,
                scrub=self._scrub,
                hide_usage=hidden,
            )
        raise ValueError(f"{self.name} does not relay {api!r}")

    async def chat(self, request: ChatRequest, model: str, notes: CallNotes) -> ChatResponse:
        _, parsed = await self._json_body(await self._post(translate.to_wire(request, model), model, notes))
        try:
            response = translate.from_wire(parsed)
        except (AttributeError, TypeError, ValueError, KeyError):
            raise UpstreamProtocolError(provider=self.name, detail="the body has the wrong shape") from None
        notes.usage = response.usage
        return response

    async def stream(self, request: ChatRequest, model: str, notes: CallNotes) -> AsyncIterator[ChatChunk]:
        response = await self._post(translate.to_wire(request, model), model, notes)
        translator = OpenAIStreamTranslator(self.name, self._scrub)
        async for canonical in translate_sse(response, translator, notes, provider=self.name):
            yield canonical

    async def embed(self, request: EmbeddingRequest, model: str, notes: CallNotes) -> EmbeddingResponse:
        response = await self._post(
            translate.embedding_to_wire(request, model), model, notes, url=self._embeddings_url, profile=False
        )
        _, parsed = await read_json_object(response, self.name)
        answer = checked_embeddings(
            parsed, len(request.inputs), self.name, lambda body: translate.embedding_from_wire(body, model)
        )
        notes.usage = answer.usage
        return answer

    async def generate_images(self, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse:
        response = await self._post(
            images.generation_to_wire(request, model),
            model,
            notes,
            url=self.base_url + images.GENERATIONS_PATH,
            profile=False,
        )
        answer = await images.read_answer(response, self.name)
        notes.usage = answer.usage
        return answer

    def _post_form(self, url: str, form: aiohttp.FormData) -> Coroutine[Any, Any, UpstreamResponse]:
        """A multipart upload (image edits, audio): the files are already in memory, bounded by the body limit."""
        return self._upstream.post_form(url, form)

    async def edit_images(self, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse:
        response = await self._post_form(
            self._url(self.base_url + images.EDITS_PATH, model), images.edit_to_form(request, model)
        )
        answer = await images.read_answer(response, self.name)
        notes.usage = answer.usage
        return answer

    async def transcribe(self, request: TranscriptionRequest, model: str, notes: CallNotes) -> TranscriptionResponse:
        url = self.base_url + (TRANSLATIONS_PATH if request.translate else TRANSCRIPTIONS_PATH)
        response = await self._post_form(self._url(url, model), transcription_form(request, model))
        answer = await read_transcription(response, request.response_format, provider=self.name)
        notes.usage = answer.usage
        return answer

    async def speech(self, request: SpeechRequest, model: str, notes: CallNotes) -> AsyncIterator[bytes]:
        response = await self._post(
            speech_to_wire(request, model), model, notes, url=self.base_url + SPEECH_PATH, profile=False
        )
        async for chunk in relay_audio(response, provider=self.name, notes=notes):
            yield chunk

    # The ProviderBatches part (batches.py): the lines' bodies as `chat` sends them, the profile's edits included.

    def _batch_url(self, path: str) -> str:
        return self._url(self.base_url + path, "")  # not per deployment on Azure (its UNDEPLOYED paths)

    def _batch_body(self, line: BatchLine, model: str) -> dict[str, Any]:
        body = translate.to_wire(line.request, model)
        body["model"] = model
        self._profile.apply(body, model, [])
        return body

    async def submit_batch(self, model: str, lines: Sequence[BatchLine]) -> str:
        data = batches.jsonl(checked_lines(lines), lambda line: self._batch_body(line, model), self._batch_endpoint)

        async def create(file_id: str) -> str:
            body = {"input_file_id": file_id, "endpoint": self._batch_endpoint}
            body["completion_window"] = batches.COMPLETION_WINDOW
            response = await self._upstream.post(self._batch_url(batches.BATCHES_PATH), orjson.dumps(body))
            return batches.string_field((await read_json_object(response, self.name))[1], "id", self.name)

        return await batches.submitted(self._upstream, self._batch_url(batches.FILES_PATH), data, self.name, create)

    def _batch_get(self, batch_id: str) -> Coroutine[Any, Any, dict[str, Any]]:
        return self._upstream.get_json(self._batch_url(f"{batches.BATCHES_PATH}/{quote(batch_id, safe='')}"))

    async def batch_status(self, batch_id: str) -> ProviderBatchStatus:
        return batches.status_of(await self._batch_get(batch_id), self.name)

    async def batch_results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        batch = await self._batch_get(batch_id)
        files = [batch.get("output_file_id"), batch.get("error_file_id")]
        urls = [
            self._batch_url(f"{batches.FILES_PATH}/{quote(file_id, safe='')}/content")
            for file_id in files
            if isinstance(file_id, str) and file_id
        ]
        upstream = self._upstream

        def read(line: dict[str, Any]) -> BatchOutcome | None:
            return batches.outcome_of(
                line, from_wire=translate.from_wire, map_error=upstream.map_error, provider=self.name, scrub=self._scrub
            )

        async for outcome in batches.results(upstream, urls, read, self.name):
            yield outcome

    async def cancel_batch(self, batch_id: str) -> None:
        url = self._batch_url(f"{batches.BATCHES_PATH}/{quote(batch_id, safe='')}/cancel")
        await read_json_object(await self._upstream.post(url, b"{}"), self.name)

    async def list_models(self) -> list[ModelInfo]:
        parsed = await self._upstream.get_json(self._models_url)
        if self._ollama_tags:
            return [
                ModelInfo(id=entry["name"], owned_by=self.name)
                for entry in parsed.get("models") or ()
                if isinstance(entry, dict) and isinstance(entry.get("name"), str)
            ]
        models = []
        for entry in parsed.get("data") or ():
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                models.append(
                    ModelInfo(
                        id=entry["id"],
                        owned_by=str(entry.get("owned_by") or self.name),
                        created=int(entry.get("created") or 0),
                    )
                )
        return models


if TYPE_CHECKING:  # the `batch` capability's part, held to its protocol where `make typecheck` looks

    def _batches(provider: OpenAIProvider) -> ProviderBatches:
        return provider
