"""Translation between OpenAI's Realtime API and Gemini's Live API (`BidiGenerateContent`), both ways, as pure
synchronous code: no sockets, no clocks, state kept per session in plain dataclasses.

`OpenAIToLive(model, dialect="ga" | "beta", tag=None, **session)`: an OpenAI realtime client on a Gemini Live
model. `opening()` → the client's `session.created`; `setup()` → the Gemini `setup` (also sent by itself ahead of
the client's first event); `client_event(event)` and `server_message(message)` → `Translated`; `usage` → the
session's tokens so far.

The other way, a Gemini Live client on an OpenAI realtime model, is the Gemini Live door's
(frontends/gemini_live/translate: `LiveToOpenAI`), which reads that door's field names.

`Translated(upstream, client, warnings)`: the messages for the upstream, the events for the client, and what
could not be translated (the client also gets an `error` event for it where its protocol has one).

Audio helpers (`Resampler`, `resample`, `g711_encode`, `g711_decode`) live in `audio`; the voice table in
`voices`. What maps to what: docs/realtime-translation.md.
"""

from babelgate.realtime.gemini_live.audio import Resampler, g711_decode, g711_encode, resample
from babelgate.realtime.gemini_live.events import Translated
from babelgate.realtime.gemini_live.translator import OpenAIToLive
from babelgate.realtime.gemini_live.usage import Usage

__all__ = [
    "OpenAIToLive",
    "Resampler",
    "Translated",
    "Usage",
    "g711_decode",
    "g711_encode",
    "resample",
]
