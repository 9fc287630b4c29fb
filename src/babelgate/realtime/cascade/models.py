"""The three models a cascade calls, through the gateway's own routing (deployments, retries, fallbacks and
circuits apply to each call as to any request): the transcription model with the user's turn as a WAV file, the
chat model streamed, the speech model as 24 kHz PCM. The provider-level calls are those the audio and chat routes
make; no HTTP call goes to the gateway itself."""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from babelgate.errors import UnsupportedCapability
from babelgate.providers.base import CallNotes, speech_of, transcription_of
from babelgate.schema.audio import SpeechRequest, TranscriptionRequest
from babelgate.schema.chat import ChatRequest
from babelgate.schema.chunks import ChatChunk

if TYPE_CHECKING:
    from babelgate.routing.registry import Deployment, ModelRegistry
    from babelgate.routing.router import Router

T = TypeVar("T")
RATE: Final = 24000  # the cascade's PCM: OpenAI's realtime rate, and what `response_format: pcm` speaks
# What the chat route does to a request before its provider (the model's defaults and overrides, tool ids, hosted
# tools): the door passes it in, from the frontends' floor.
Prepare = Callable[["Deployment", ChatRequest, CallNotes], Awaitable[ChatRequest]]
_SPEECH_SET: Final = frozenset({"model", "input", "voice", "response_format"})  # the cascade's own, never a default
_TRANSCRIPTION_SET: Final = frozenset({"model", "file", "response_format", "stream"})


class Models(Protocol):
    """What the cascade road asks of the gateway."""

    async def transcribe(self, wav: bytes) -> str: ...

    def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]: ...

    def speak(self, text: str, voice: str) -> AsyncIterator[bytes]: ...


def wav(pcm: bytes, rate: int = RATE) -> bytes:
    """PCM16 LE mono behind a 44-byte RIFF/WAVE header."""
    return (
        struct.pack(
            "<4sI4s4sIHHIIHH4sI",
            b"RIFF",
            36 + len(pcm),
            b"WAVE",
            b"fmt ",
            16,
            1,
            1,
            rate,
            rate * 2,
            2,
            16,
            b"data",
            len(pcm),
        )
        + pcm
    )


def _require(capable: bool, deployment: Deployment, capability: str) -> None:
    if not capable:
        raise UnsupportedCapability(provider=deployment.provider.name, capability=capability, param="model")


async def _first(stream: AsyncIterator[T]) -> tuple[T | None, AsyncIterator[T]]:
    """The stream's first item pulled, so that a failure before it is an attempt's failure (retried)."""
    try:
        return await anext(stream), stream
    except StopAsyncIteration:
        return None, stream


async def _played(first: T | None, rest: AsyncIterator[T]) -> AsyncIterator[T]:
    try:
        if first is not None:
            yield first
        async for item in rest:
            yield item
    finally:
        aclose = getattr(rest, "aclose", None)
        if aclose is not None:
            await aclose()


class Routing(Protocol):
    """Where the gateway's routing is now (the runtime: a reload replaces both while a session lasts)."""

    @property
    def registry(self) -> ModelRegistry: ...

    @property
    def router(self) -> Router: ...


class GatewayModels:
    """The session's chat model and its cascade's transcription and speech models, each call routed."""

    def __init__(
        self, routing: Routing, chat_model: str, transcription: str, speech: str, prepare: Prepare | None = None
    ) -> None:
        self.routing = routing
        self.chat_model = chat_model
        self.transcription = transcription
        self.speech = speech
        self.prepare = prepare

    async def _routed(self, model: str, attempt: Callable[[Deployment], Awaitable[T]]) -> T:
        route = self.routing.registry.route(model)
        return await self.routing.router.run(route, [], lambda: None, attempt)

    async def transcribe(self, wav_file: bytes) -> str:
        async def attempt(deployment: Deployment) -> str:
            _require(deployment.provider.capabilities.transcription, deployment, "transcription")
            fields: dict[str, Any] = {}
            deployment.apply_to_body(fields)  # the model's defaults and overrides, as on /v1/audio/transcriptions
            settings = {name: value for name, value in fields.items() if name not in _TRANSCRIPTION_SET}
            request = TranscriptionRequest(
                model=deployment.public_name,
                audio=wav_file,
                filename="turn.wav",
                content_type="audio/wav",
                language=_text(settings.pop("language", None)),
                prompt=_text(settings.pop("prompt", None)),
                temperature=_float(settings.pop("temperature", None)),
                extra=settings,
            )
            notes = CallNotes(price=deployment.price)
            answer = await transcription_of(deployment.provider).transcribe(request, deployment.model, notes)
            return answer.text.strip()

        return await self._routed(self.transcription, attempt)

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        async def attempt(deployment: Deployment) -> tuple[ChatChunk | None, AsyncIterator[ChatChunk]]:
            _require(deployment.provider.capabilities.streaming, deployment, "streaming")
            own = dataclasses.replace(request, extra=dict(request.extra))  # each attempt prepares its own
            notes = CallNotes(price=deployment.price)
            if self.prepare is not None:
                own = await self.prepare(deployment, own, notes)
            return await _first(deployment.provider.stream(own, deployment.model, notes))

        first, rest = await self._routed(self.chat_model, attempt)
        async for chunk in _played(first, rest):
            yield chunk

    async def speak(self, text: str, voice: str) -> AsyncIterator[bytes]:
        async def attempt(deployment: Deployment) -> tuple[bytes | None, AsyncIterator[bytes]]:
            _require(deployment.provider.capabilities.speech, deployment, "speech")
            fields: dict[str, Any] = {"voice": voice}
            deployment.apply_to_body(fields)  # the model's defaults and overrides, as on /v1/audio/speech
            settings = {name: value for name, value in fields.items() if name not in _SPEECH_SET}
            request = SpeechRequest(
                model=deployment.public_name,
                input=text,
                voice=fields["voice"] if isinstance(fields["voice"], str) else voice,
                response_format="pcm",  # whatever the model's defaults say: the cascade converts from 24 kHz PCM
                speed=_float(settings.pop("speed", None)),
                instructions=_text(settings.pop("instructions", None)),
                extra=settings,
            )
            notes = CallNotes(price=deployment.price)
            return await _first(speech_of(deployment.provider).speech(request, deployment.model, notes))

        first, rest = await self._routed(self.speech, attempt)
        async for audio in _played(first, rest):
            yield audio


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
