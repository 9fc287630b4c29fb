"""Translation between OpenAI's Realtime API and Gemini's Live API (`BidiGenerateContent`), both ways, as pure
synchronous code: no sockets, no clocks, state kept per session in plain dataclasses.

`OpenAIToLive(model, dialect="ga" | "beta", tag=None, **session)`: an OpenAI realtime client on a Gemini Live
model. `opening()` → the client's `session.created`; `setup()` → the Gemini `setup` (also sent by itself ahead of
the client's first event); `client_event(event)` and `server_message(message)` → `Translated`; `usage` → the
session's tokens so far.

`reverse.LiveToOpenAI(tag=None)`: a Gemini Live client on an OpenAI realtime model. `client_message(message)`
(camelCase or snake_case) and `server_event(event)` → `Translated`; `usage` likewise. It sits a floor higher
(with the frontends: it reads the Gemini door's field names), so this package does not import it.

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
