"""Routes of the audio frontend: `/v1/audio/transcriptions`, `/v1/audio/translations` (multipart in, the
transcript in the asked format out) and `/v1/audio/speech` (JSON in, audio streamed out as it comes). Their handlers
(door.py) load at the first request (frontends/later.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from babelgate.frontends.audio.wire import SPEECH_TYPES, SPEED_RANGE, TRANSCRIPTION_FORMATS, TRANSLATION_FORMATS
from babelgate.frontends.body_schema import BINARY, JSON, MODEL, OBJECT, STRING, any_of, enum, number, obj
from babelgate.frontends.later import later
from babelgate.frontends.route import SSE, Frontend, Operation, Route

_DOOR: Final = "babelgate.frontends.audio.door"


def _form(formats: Iterable[str]) -> JSON:
    return obj(
        ("model", "file"),
        strings=("prompt", "language"),
        properties={"model": MODEL, "file": BINARY, "response_format": enum(formats), "temperature": STRING},
    )


SPEECH_BODY: Final = obj(
    ("model", "input", "voice"),
    strings=("instructions",),
    properties={
        "model": MODEL,
        "input": STRING,
        "voice": any_of(STRING, OBJECT),
        "response_format": enum(SPEECH_TYPES),
        "speed": number(*SPEED_RANGE),
        "stream_format": enum(("audio", "sse")),
    },
)

ROUTES: dict[str, Route] = {
    "/audio/transcriptions": Route(
        "POST",
        later(_DOOR, "create_transcription"),
        "audio.transcriptions",
        operations=(Operation("POST", form=_form(TRANSCRIPTION_FORMATS)),),
    ),
    "/audio/translations": Route(
        "POST",
        later(_DOOR, "create_translation"),
        "audio.translations",
        operations=(Operation("POST", form=_form(TRANSLATION_FORMATS)),),
    ),
    "/audio/speech": Route(
        "POST",
        later(_DOOR, "create_speech"),
        "audio.speech",
        operations=(Operation("POST", body=SPEECH_BODY, answers="audio/*", streams=SSE),),
    ),
}


FRONTEND: Final[Frontend] = Frontend(routes=ROUTES)
