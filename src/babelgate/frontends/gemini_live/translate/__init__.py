"""`LiveToOpenAI`: a Gemini Live client (`BidiGenerateContent`) served by an OpenAI realtime model."""

from __future__ import annotations

from typing import Any

from babelgate.frontends.gemini_live.translate import client, server
from babelgate.frontends.gemini_live.translate.field_names import camel_case
from babelgate.frontends.gemini_live.translate.state import ReverseState
from babelgate.realtime.gemini_live.events import Event, Ids, Translated
from babelgate.realtime.gemini_live.usage import Usage


class LiveToOpenAI:
    """Translates one Gemini Live session to OpenAI realtime and back. Gemini Live has no error message: what
    cannot be translated is in `warnings`, for the caller to log or to close the socket over."""

    def __init__(self, *, tag: str | None = None) -> None:
        self.state = ReverseState(ids=Ids() if tag is None else Ids(tag=tag))

    @property
    def model(self) -> str | None:
        """The model the client's `setup` named."""
        return self.state.model

    @property
    def usage(self) -> Usage:
        return self.state.usage

    def client_message(self, message: dict[str, Any]) -> Translated:
        """A Gemini client message, in camelCase or snake_case."""
        message = camel_case(message)
        out = Translated()
        handlers = {
            "setup": client.setup,
            "realtimeInput": client.realtime_input,
            "clientContent": client.client_content,
            "toolResponse": client.tool_response,
        }
        for key, body in message.items():
            handler = handlers.get(key)
            if handler is None or not isinstance(body, dict):
                out.warnings.append(f"Gemini client message field {key!r} is not supported: dropped")
            elif key != "setup" and not (self.state.setup_pending or self.state.setup_done):
                out.warnings.append(f"{key} before setup: Gemini Live wants setup first")
            else:
                out.extend(handler(self.state, body))
        return out

    def server_event(self, event: Event) -> Translated:
        """An OpenAI realtime server event (GA or beta names)."""
        return server.server_event(self.state, event)
