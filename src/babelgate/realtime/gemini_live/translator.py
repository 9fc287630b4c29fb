"""`OpenAIToLive`: an OpenAI realtime client served by a Gemini Live model, one instance per session."""

from __future__ import annotations

from typing import Any

from babelgate.realtime.gemini_live import from_gemini, to_gemini
from babelgate.realtime.gemini_live.audio import GEMINI_INPUT_RATE, GEMINI_OUTPUT_RATE, FromPcm, ToPcm
from babelgate.realtime.gemini_live.events import Dialect, Emitter, Event, Ids, Translated
from babelgate.realtime.gemini_live.settings import Settings
from babelgate.realtime.gemini_live.state import LiveState
from babelgate.realtime.gemini_live.usage import Usage

_UNSUPPORTED = {
    "conversation.item.delete": "Gemini Live keeps its own context: items cannot be deleted",
    "conversation.item.retrieve": "items cannot be retrieved on Gemini Live",
    "output_audio_buffer.clear": "output_audio_buffer.clear is for WebRTC and SIP sessions",
    "transcription_session.update": "transcription sessions are not available on Gemini Live",
}


class OpenAIToLive:
    """Translates one OpenAI realtime session to Gemini Live and back.

    `opening()` gives the client its `session.created`. Gemini takes its `setup` once, as the socket's first
    message: it goes upstream with the client's first event (built from that event when it is a
    `session.update`), or when the caller asks for it with `setup()`. After that, a `session.update` that
    changes anything but the audio formats is refused with an `error` event."""

    def __init__(self, model: str, *, dialect: Dialect = "ga", tag: str | None = None, **defaults: Any) -> None:
        ids = Ids() if tag is None else Ids(tag=tag)
        settings, problems = Settings(model=model).update(defaults)
        if problems:
            raise ValueError("; ".join(problems))
        self.state = LiveState(settings=settings, ids=ids, emit=Emitter(ids, dialect), session_id=ids.new("sess"))

    @property
    def settings(self) -> Settings:
        return self.state.settings

    @property
    def usage(self) -> Usage:
        """The session's tokens so far: every finished Gemini turn's `usageMetadata`."""
        return self.state.usage

    def opening(self) -> Translated:
        session = self.state.settings.openai(self.state.session_id, self.state.emit.dialect)
        return Translated(client=self.state.emit.event("session.created", session=session))

    def setup(self) -> Translated:
        """The Gemini `setup` from the settings so far, unless sent already."""
        state = self.state
        if state.setup_sent:
            return Translated()
        state.setup_sent = True
        message, problems = state.settings.setup()
        out = Translated(upstream=[message], warnings=list(problems))
        for problem in problems:
            out.client.append(state.emit.error(problem, code="not_translated", kind="gateway_warning"))
        return out

    def client_event(self, event: Event) -> Translated:
        kind = event.get("type")
        if kind == "session.update":
            return self._session_update(event)
        out = self.setup()
        handler = {
            "input_audio_buffer.append": to_gemini.append_audio,
            "input_audio_buffer.commit": to_gemini.commit_audio,
            "input_audio_buffer.clear": to_gemini.clear_audio,
            "conversation.item.create": to_gemini.create_item,
            "conversation.item.truncate": to_gemini.truncate_item,
            "response.create": to_gemini.create_response,
            "response.cancel": to_gemini.cancel_response,
        }.get(kind if isinstance(kind, str) else "")
        if handler is not None:
            return out.extend(handler(self.state, event))
        reason = _UNSUPPORTED.get(kind if isinstance(kind, str) else "", f"unknown client event type {kind!r}")
        about = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        out.client.append(self.state.emit.error(reason, code="unsupported_event", about=about))
        out.warnings.append(reason)
        return out

    def server_message(self, message: dict[str, Any]) -> Translated:
        return from_gemini.server_message(self.state, message)

    def _session_update(self, event: Event) -> Translated:
        state = self.state
        about = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        session = event.get("session")
        if not isinstance(session, dict):
            error = state.emit.error("session.update needs a session object", code="missing_required_parameter")
            return Translated(client=[error], warnings=["session.update without a session"])
        updated, problems = state.settings.update(session)
        notes = [
            state.emit.error(text, code="not_translated", kind="gateway_warning", about=about) for text in problems
        ]
        if not state.setup_sent:
            state.settings = updated
            self._new_converters()
            state.announce_on_setup = True  # `session.updated` once Gemini has taken the setup
            out = self.setup()
            return Translated(upstream=out.upstream, client=notes + out.client, warnings=problems + out.warnings)
        changed = state.settings.changed(updated)
        if changed:
            text = f"Gemini Live takes these settings only when the session starts: {', '.join(changed)}"
            error = state.emit.error(text, code="session_update_not_supported", about=about)
            return Translated(client=[*notes, error], warnings=[*problems, text])
        formats = (state.settings.input_format, state.settings.output_format)
        state.settings = updated
        if formats != (updated.input_format, updated.output_format):
            self._new_converters()
        session_object = updated.openai(state.session_id, state.emit.dialect)
        return Translated(client=notes + state.emit.event("session.updated", session=session_object), warnings=problems)

    def _new_converters(self) -> None:
        self.state.to_gemini = ToPcm(self.state.settings.input_format, GEMINI_INPUT_RATE)
        self.state.from_gemini = FromPcm(GEMINI_OUTPUT_RATE, self.state.settings.output_format)
