"""The audio frontend's handlers (routes.py declares their paths; the door loads at its first request:
frontends/later.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from babelgate.answer import Answer, StreamCut, streamed
from babelgate.errors import GatewayError
from babelgate.frontends.audio.translate import (
    decode_speech,
    decode_transcription,
    encode_transcription,
    read_form,
    speech_content_type,
)
from babelgate.frontends.multipart import parse_form
from babelgate.frontends.openai_errors import encode_stream_error
from babelgate.frontends.openai_validation import require_model
from babelgate.model_call import ModelCall
from babelgate.pipeline import Body, require
from babelgate.providers.base import CallNotes, speech_of, transcription_of

if TYPE_CHECKING:
    from babelgate.exchange import Exchange
    from babelgate.routing.registry import Deployment
    from babelgate.runtime import Runtime


async def create_transcription(runtime: Runtime, exchange: Exchange) -> ModelCall:
    return await _transcribe(runtime, exchange, translate=False)


async def create_translation(runtime: Runtime, exchange: Exchange) -> ModelCall:
    return await _transcribe(runtime, exchange, translate=True)


async def _transcribe(runtime: Runtime, exchange: Exchange, *, translate: bool) -> ModelCall:
    raw = await exchange.read_body(runtime.max_body_bytes)  # a 413 past the limit, while reading
    content_type = exchange.header(b"content-type")
    parts = parse_form(raw, content_type.decode("latin-1") if content_type is not None else None)
    del raw  # the parts hold the bytes now; one copy of an upload at a time is enough
    capability = "translation" if translate else "transcription"

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        file, form = read_form(parts)
        deployment.apply_to_body(form)
        request = decode_transcription(file, form, translate=translate)
        answer = await transcription_of(deployment.provider).transcribe(request, deployment.model, notes)
        body, kind = encode_transcription(answer, request)
        return Answer(body, notes, content_type=(b"content-type", kind))

    def capable(deployment: Deployment) -> None:
        require(deployment.provider.capabilities.transcription, deployment, capability)

    return ModelCall(require_model(read_form(parts)[1]), attempt, False, check=capable)


async def create_speech(runtime: Runtime, exchange: Exchange) -> ModelCall:
    body = Body(await exchange.read_body(runtime.max_body_bytes))

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        fields = body.take()
        deployment.apply_to_body(fields)
        request = decode_speech(fields)
        audio = _cut_on_error(speech_of(deployment.provider).speech(request, deployment.model, notes))
        content_type = (b"content-type", speech_content_type(request))
        try:
            return await streamed(audio, notes, on_error=encode_stream_error, content_type=content_type)
        except StreamCut as cut:  # before the first byte: an ordinary error answer, which may be retried
            raise cut.error from None

    # After the first byte, the pipeline leaves the body of a StreamCut unfinished: the server drops the
    # connection, so the client sees a cut body, not a whole one.
    return ModelCall(require_model(body.peek()), attempt, True, check=_speaks)


def _speaks(deployment: Deployment) -> None:
    require(deployment.provider.capabilities.speech, deployment, "speech")


async def _cut_on_error(audio: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for piece in audio:
            yield piece
    except GatewayError as error:  # carried past the sink, which would end the body cleanly with an error event
        raise StreamCut(error) from None
    finally:
        aclose = getattr(audio, "aclose", None)
        if aclose is not None:
            await aclose()
