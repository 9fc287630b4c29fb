"""The cascade road: a Realtime session served by a chat model without a realtime API of its own. The client's
audio goes through server VAD (vad.py) or its own commits; each committed turn is transcribed by the cascade's
transcription model; a response (turn.py) streams the chat model and speaks its sentences with the speech model.
New speech while a response runs cancels it (barge-in), as `response.cancel` does. Events go out in the client's
dialect, as OpenAI's Realtime API sends them."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Final

import orjson

from babelgate.config.realtime import CascadeConfig
from babelgate.errors import GatewayError
from babelgate.realtime.cascade import turn
from babelgate.realtime.cascade.models import Models, wav
from babelgate.realtime.cascade.turn import BYTES_PER_SECOND, CascadeState
from babelgate.realtime.cascade.vad import FRAME_MS, START_FRAMES, Started, Vad
from babelgate.realtime.gemini_live.settings import Settings
from babelgate.realtime.protocol import JSON
from babelgate.realtime.sequence import Emitter, Event, Ids, item_events

log = logging.getLogger("babelgate.realtime")
MIN_COMMIT_BYTES: Final = BYTES_PER_SECOND // 10  # OpenAI refuses to commit less than 100 ms
MAX_BUFFER_BYTES: Final = 15 * 1024 * 1024  # OpenAI's cap on the buffer (about 5 minutes of 24 kHz PCM16)
ITEM_TYPES: Final = frozenset({"message", "function_call", "function_call_output"})


class CascadeRoad:
    name = "cascade"
    speaks_client_names = True  # the events are built in the client's dialect

    def __init__(
        self,
        models: Models,
        public_model: str,
        cascade: CascadeConfig,
        *,
        beta: bool,
        error_payload: Callable[[GatewayError], JSON],
        transcription_model: str = "",
        tag: str | None = None,
    ) -> None:
        ids = Ids() if tag is None else Ids(tag=tag)
        detection = cascade.turn_detection.openai() if cascade.turn_detection is not None else None
        settings = Settings(model=public_model, voice=cascade.voice, turn_detection=detection)
        self.state = CascadeState(
            settings, ids, Emitter(ids, "beta" if beta else "ga"), ids.new("sess"), cascade.voice or "alloy"
        )
        self.models = models
        self.error_payload = error_payload
        self.transcription_model = transcription_model
        self._out: asyncio.Queue[Event | None] = asyncio.Queue()
        self._buffer = bytearray()  # the input audio not yet committed, as 24 kHz PCM16
        self._received = 0  # bytes of 24 kHz PCM16 heard since the session began
        self._turn: tuple[str, int] | None = None  # the turn VAD heard start: its item id and start ms
        self._vad = self._new_vad()  # after `_received`: a detector's times count from the session's start
        self._response: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None  # a cancelled response's ending, before the next begins
        self._transcribing: list[asyncio.Task[None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        session = settings.openai(self.state.session_id, self.state.emit.dialect)
        self._push(self.state.emit.event("session.created", session=session))

    # The Road

    async def send(self, event: JSON, raw: str) -> None:
        kind = event.get("type")
        handler = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit_event,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._create_item,
            "conversation.item.delete": self._delete_item,
            "conversation.item.truncate": self._truncate_item,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }.get(kind if isinstance(kind, str) else "")
        if handler is None:
            self._error(f"The voice cascade does not take {kind!r} events.", "unsupported_event", event)
            return
        await handler(event)

    async def receive(self) -> tuple[JSON, str] | None:
        event = await self._out.get()
        if event is None:
            return None
        return event, orjson.dumps(event).decode()

    async def close(self) -> None:
        tasks = [task for task in (*self._tasks, self._response) if task is not None and not task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._out.put_nowait(None)

    # Out

    def _push(self, events: list[Event]) -> None:
        for event in events:
            self._out.put_nowait(event)

    def _error(self, message: str, code: str, about: JSON | None = None) -> None:
        event_id = about.get("event_id") if about is not None else None
        self._push([self.state.emit.error(message, code=code, about=event_id if isinstance(event_id, str) else None)])

    def _gateway_error(self, error: GatewayError) -> None:
        payload = {**self.error_payload(error)}
        self._push([{"event_id": self.state.ids.new("event"), "type": "error", "error": payload}])

    def _spawn(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guarded(self, work: Any) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except GatewayError as error:
            self._gateway_error(error)
        except Exception:
            log.exception("voice cascade: unexpected error")
            self._gateway_error(GatewayError())

    # Settings

    async def _session_update(self, event: JSON) -> None:
        session = event.get("session")
        if not isinstance(session, dict):
            self._error("session.update needs a session object.", "missing_required_parameter", event)
            return
        state = self.state
        before = state.settings
        state.settings, _ = before.update({name: value for name, value in session.items() if name != "model"})
        state.settings.model = before.model  # the session's model is the one it opened with
        if state.settings.voice:
            state.voice = state.settings.voice
        if (before.input_format, before.output_format) != (state.settings.input_format, state.settings.output_format):
            state.new_converters()
        if before.turn_detection != state.settings.turn_detection:
            self._vad, self._turn = self._new_vad(), None
        self._push(
            state.emit.event("session.updated", session=state.settings.openai(state.session_id, state.emit.dialect))
        )

    def _detection(self) -> dict[str, Any] | None:
        return self.state.settings.turn_detection

    def _new_vad(self) -> Vad | None:
        detection = self._detection()
        if detection is None:
            return None
        return Vad(
            threshold=_number(detection.get("threshold"), 0.5),
            prefix_padding_ms=int(_number(detection.get("prefix_padding_ms"), 300)),
            silence_duration_ms=int(_number(detection.get("silence_duration_ms"), 500)),
            position=self._received // 2,
        )

    # Input audio

    def _ms(self, position: int) -> int:
        return position * 1000 // BYTES_PER_SECOND

    async def _append(self, event: JSON) -> None:
        audio = event.get("audio")
        try:
            data = base64.b64decode(audio if isinstance(audio, str) else "", validate=True)
        except (binascii.Error, ValueError):
            self._error("The audio is not valid base64.", "invalid_value", event)
            return
        pcm = self.state.to_pcm.feed(data)
        if self._vad is None and len(self._buffer) + len(pcm) > MAX_BUFFER_BYTES:
            self._error("The input audio buffer is full: commit or clear it.", "input_audio_buffer_too_large", event)
            return
        self._buffer += pcm
        self._received += len(pcm)
        if self._vad is None:
            return
        for heard in self._vad.feed(pcm):
            if isinstance(heard, Started):
                self._speech_started(heard.audio_start_ms)
            elif self._turn is not None:
                self._speech_stopped(heard.audio_end_ms)
        if self._turn is not None and len(self._buffer) >= MAX_BUFFER_BYTES:
            self._vad.reset()  # a turn that never falls silent is cut at the buffer's cap
            self._speech_stopped(self._ms(self._received))
        if self._turn is None:
            # Between turns only the prefix padding is ever needed again.
            keep = (self._vad.prefix_padding_ms + FRAME_MS * (START_FRAMES + 1)) * BYTES_PER_SECOND // 1000
            if len(self._buffer) > keep:
                del self._buffer[: len(self._buffer) - keep & ~1]

    def _speech_stopped(self, end_ms: int) -> None:
        """The turn's audio, its prefix padding included, committed as the user's item."""
        assert self._turn is not None
        item_id, start_ms = self._turn
        self._turn = None
        self._push(self.state.emit.event("input_audio_buffer.speech_stopped", audio_end_ms=end_ms, item_id=item_id))
        start = max(0, len(self._buffer) - (self._received - start_ms * BYTES_PER_SECOND // 1000))
        turn_audio = bytes(self._buffer[start & ~1 :])
        self._buffer.clear()
        self._commit(turn_audio, item_id)

    def _speech_started(self, start_ms: int) -> None:
        item_id = self.state.ids.new("item")
        self._turn = (item_id, start_ms)
        self._push(self.state.emit.event("input_audio_buffer.speech_started", audio_start_ms=start_ms, item_id=item_id))
        detection = self._detection() or {}
        if self._response is not None and not self._response.done() and detection.get("interrupt_response", True):
            self._cancel("turn_detected")

    async def _commit_event(self, event: JSON) -> None:
        if len(self._buffer) < MIN_COMMIT_BYTES:
            ms = self._ms(len(self._buffer))
            self._error(
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio,"
                f" but buffer only has {ms}ms of audio.",
                "input_audio_buffer_commit_empty",
                event,
            )
            return
        audio = bytes(self._buffer)
        self._buffer.clear()
        if self._vad is not None:
            self._vad.reset()
        self._commit(audio, self._turn[0] if self._turn is not None else None, manual=True)
        self._turn = None

    async def _clear(self, event: JSON) -> None:
        self._buffer.clear()
        self._turn = None
        if self._vad is not None:
            self._vad.reset()
        self._push(self.state.emit.event("input_audio_buffer.cleared"))

    def _commit(self, pcm: bytes, item_id: str | None, *, manual: bool = False) -> None:
        state = self.state
        item_id = item_id or state.ids.new("item")
        previous = state.last_item_id
        self._push(state.emit.event("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id))
        item: dict[str, Any] = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        state.items.append(item)
        self._push(item_events(state, item, done=False))
        self._push(state.emit.event("conversation.item.done", previous_item_id=previous, item=item))
        state.heard_seconds += len(pcm) / BYTES_PER_SECOND
        detection = self._detection() or {}
        answer = not manual and detection.get("create_response", True) is not False
        self._transcribing.append(self._spawn(self._transcribe(item, pcm, answer)))

    async def _transcribe(self, item: dict[str, Any], pcm: bytes, answer: bool) -> None:
        state = self.state
        where = {"item_id": item["id"], "content_index": 0}
        try:
            transcript = await self.models.transcribe(wav(pcm))
        except GatewayError as error:
            payload = self.error_payload(error)
            failed = {"type": payload.get("type"), "code": payload.get("code"), "message": payload.get("message")}
            self._push(state.emit.event("conversation.item.input_audio_transcription.failed", **where, error=failed))
            model = self.transcription_model or "the transcription model"
            self._error(
                f"The user's audio could not be transcribed by {model}: {payload.get('message')}",
                "transcription_failed",
            )
            return
        item["content"][0]["transcript"] = transcript
        self._push(
            state.emit.event("conversation.item.input_audio_transcription.completed", **where, transcript=transcript)
        )
        if answer and (self._response is None or self._response.done()):
            self._start_response()

    # Conversation items

    async def _create_item(self, event: JSON) -> None:
        state = self.state
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") not in ITEM_TYPES:
            self._error(
                "conversation.item.create takes a message, function_call or function_call_output item.",
                "invalid_value",
                event,
            )
            return
        item = {
            "id": item.get("id") or state.ids.new("item"),
            "object": "realtime.item",
            "status": "completed",
            **{name: value for name, value in item.items() if name != "id"},
        }
        previous = state.last_item_id
        state.items.append(item)
        self._push(item_events(state, item, done=False))
        self._push(state.emit.event("conversation.item.done", previous_item_id=previous, item=item))

    async def _delete_item(self, event: JSON) -> None:
        item_id = event.get("item_id")
        kept = [item for item in self.state.items if item.get("id") != item_id]
        if len(kept) == len(self.state.items):
            self._error(f"Item with item_id not found: {item_id}", "item_not_found", event)
            return
        self.state.items[:] = kept
        self._push(self.state.emit.event("conversation.item.deleted", item_id=item_id))

    async def _truncate_item(self, event: JSON) -> None:
        """The text the model remembers is already what was spoken when a response was cut: acknowledged."""
        fields = {name: event.get(name) for name in ("item_id", "content_index", "audio_end_ms")}
        self._push(self.state.emit.event("conversation.item.truncated", **fields))

    # Responses

    async def _response_create(self, event: JSON) -> None:
        if self._response is not None and not self._response.done():
            self._error(
                "Conversation already has an active response in progress."
                " Wait until the response is finished before creating a new one.",
                "conversation_already_has_active_response",
                event,
            )
            return
        self._start_response()

    def _start_response(self) -> None:
        waiting = [task for task in self._transcribing if not task.done()]
        self._transcribing = waiting
        self._response = self._spawn(self._run_response(waiting))

    async def _run_response(self, transcriptions: list[asyncio.Task[None]]) -> None:
        earlier = [task for task in (self._closing, *transcriptions) if task is not None]
        if earlier:  # the turns committed before it are part of its conversation; a cancelled response ends first
            await asyncio.gather(*earlier, return_exceptions=True)
        try:
            await turn.respond(self.state, self.models, self._push)
        except GatewayError as error:
            self._gateway_error(error)
            turn.finish(self.state, self._push, "failed", reason="error")

    async def _response_cancel(self, event: JSON) -> None:
        if self._response is None or self._response.done():
            self._error("Cancellation failed: no active response found", "response_cancel_not_active", event)
            return
        self._cancel("client_cancelled")

    def _cancel(self, reason: str) -> None:
        """Stops the response where it is (the chat stream and speech to come) and ends it `cancelled`."""
        task = self._response
        if task is None:
            return
        task.cancel()
        self._response = None
        self._closing = self._spawn(self._cancelled(task, reason))

    async def _cancelled(self, task: asyncio.Task[None], reason: str) -> None:
        with contextlib.suppress(BaseException):
            await task
        turn.finish(self.state, self._push, "cancelled", reason=reason)


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
