"""The door of the Gemini Live API (`BidiGenerateContent` over a WebSocket, as google-genai's
`client.aio.live.connect` opens it): the `/v1/realtime` door's session (frontends/realtime/door.py: the key's
check, the model call, limits, budgets, bounds, drain, one ledger row) with a Gemini Live client on its side,
translated to and from OpenAI's Realtime events (translate/) on a relayed road.

Gemini Live names its model in its first message (`setup`), not in the URL, so the socket is accepted and that
message read before the model call begins. Gemini Live has no error message: a refusal, and a session's end
on an error, is the close frame's code and reason (1007 for a request it cannot take, 1008 for one it may not
make, 1011 for a failure upstream), which google-genai raises as its `APIError`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.answer import Answer, Headers
from babelgate.errors import GatewayError, InvalidRequest, RequestTooLarge, UpstreamRejected
from babelgate.exchange import Receive, Scope, Send
from babelgate.frontends.gemini_live.translate import LiveToOpenAI
from babelgate.frontends.realtime.door import RealtimeDoor
from babelgate.i18n import render_message
from babelgate.observability.logging import Scrubber
from babelgate.providers.base import CallNotes
from babelgate.realtime.session import NORMAL, POLICY_VIOLATION, UPSTREAM_FAILED
from babelgate.realtime.sessions import SERVICE_RESTART
from babelgate.routing.registry import Deployment

if TYPE_CHECKING:
    from babelgate.observability.request_id import RequestIds
    from babelgate.runtime import Runtime

log = logging.getLogger("babelgate.realtime")

INVALID: Final = 1007  # Gemini's close for a request it cannot take: a wrong key, a setup it cannot read
MAX_REASON: Final = 123  # a close frame's reason, in UTF-8 bytes (125 less the code's two)
EPHEMERAL_PREFIX: Final = b"auth_tokens/"


def close_code(error: GatewayError) -> int:
    """The close code Gemini Live ends a session with for `error`."""
    if error.code == "service_restart":
        return SERVICE_RESTART
    if error.status >= 500:
        return UPSTREAM_FAILED
    if error.status in (400, 401, 413):
        return INVALID
    return POLICY_VIOLATION


def close_reason(message: str) -> str:
    """`message` cut to what a close frame carries, on a character's boundary."""
    encoded = message.encode()
    if len(encoded) <= MAX_REASON:
        return message
    return encoded[: MAX_REASON - 3].decode("utf-8", "ignore") + "..."


def _ephemeral_as_bearer(scope: Scope) -> None:
    """google-genai sends an ephemeral token as `Authorization: Token auth_tokens/<token>`: the gateway reads the
    token as a bearer key (a Realtime client secret, frontends/realtime/routes.py)."""
    headers = []
    for name, value in scope["headers"]:
        if name == b"authorization" and value[:6].lower() == b"token ":
            token = value[6:].strip()
            value = b"Bearer " + (token[len(EPHEMERAL_PREFIX) :] if token.startswith(EPHEMERAL_PREFIX) else token)
        headers.append((name, value))
    scope["headers"] = headers


class GeminiLiveDoor(RealtimeDoor):
    """One Gemini Live connection: the realtime door's sink and session, with the translation at the client's
    side of it (the session's loop sees OpenAI's events both ways)."""

    door = "gemini-live"

    def __init__(self, runtime: Runtime, scope: Scope, receive: Receive, send: Send, ids: RequestIds) -> None:
        _ephemeral_as_bearer(scope)
        super().__init__(runtime, scope, receive, send, ids)
        self.beta = False
        self.answer_protocol = None
        self.translator = LiveToOpenAI()
        self.first: str | bytes = b""  # the client's first message, its `setup`
        self._setup: list[dict[str, Any]] = []  # the setup as OpenAI events, the road's first
        self._pending: deque[str] = deque()  # translated client events the session has yet to take
        self._error: GatewayError | None = None  # what the session ends with, for the close frame's reason
        self._scrub: Callable[[str], str] = Scrubber()

    async def run(self) -> None:
        message = await self._receive()
        if message["type"] != "websocket.connect":
            return
        await self._send({"type": "websocket.accept"})
        self.accepted = True
        idle = self.runtime.config.realtime.idle_timeout_seconds
        try:
            first = await asyncio.wait_for(self._receive(), timeout=idle)
        except TimeoutError:
            error = InvalidRequest("realtime_idle_timeout", code="idle_timeout", seconds=round(idle))
            await self._close_with(NORMAL, error)
            return
        if first["type"] == "websocket.disconnect":
            return
        text = first.get("text")
        self.first = text if text is not None else first.get("bytes") or b""
        await self.conduct()

    # The model call

    def _model(self) -> str:
        """The model the first message's `setup` names (`models/<name>`); that message is the road's first."""
        raw, limit = self.first, self.runtime.config.realtime.max_event_bytes
        if len(raw) > limit:
            raise RequestTooLarge("realtime_event_too_large", code="event_too_large", limit=limit)
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("setup"), dict):
            raise InvalidRequest("gemini_live_setup_first", param="setup", code="missing_setup")
        translated = self.translator.client_message(message)
        self._warn(translated.warnings)
        model = (self.translator.model or "").removeprefix("models/")
        if not model:
            raise InvalidRequest("gemini_live_setup_first", param="setup.model", code="missing_model")
        self._setup = translated.upstream
        return model

    async def _attempt(self, deployment: Deployment, notes: CallNotes) -> Answer:
        answer = await super()._attempt(deployment, notes)
        self._scrub = Scrubber(deployment.provider.secrets)
        return answer

    def _opening(self) -> tuple[dict[str, Any], ...]:
        return (*self._setup, *super()._opening())

    # The sink

    async def send_error(self, error: GatewayError, headers: Headers) -> None:
        """A refusal before the session opened: the accepted socket closes with its code and reason."""
        self.answered = True
        await self._close_with(close_code(error), error)

    # The client's side of the session: Gemini Live messages in, OpenAI events out, and back

    async def receive(self) -> str | bytes | None:
        limit = self.runtime.config.realtime.max_event_bytes
        while not self._pending:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                return None
            text = message.get("text")
            raw: str | bytes = text if text is not None else message.get("bytes") or b""
            if len(raw) > limit:
                return raw  # the session ends on it as too large
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError:
                parsed = None
            if not isinstance(parsed, dict):
                # As Gemini Live does, a message it cannot read ends the session.
                await self._close_with(INVALID, InvalidRequest("gemini_live_invalid_message", code="invalid_event"))
                return None
            translated = self.translator.client_message(parsed)
            self._warn(translated.warnings)
            for answer in translated.client:
                await super().send(orjson.dumps(answer).decode())
            self._pending.extend(orjson.dumps(event).decode() for event in translated.upstream)
        return self._pending.popleft()

    async def send(self, text: str) -> None:
        event = orjson.loads(text)
        if event.get("type") == "error" and self.translator.state.setup_pending:
            # The upstream refused the setup: the client still waits for `setupComplete`.
            error = event.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            raise UpstreamRejected(raw_message=self._scrub(message) if isinstance(message, str) else None)
        translated = self.translator.server_event(event)
        self._warn(translated.warnings)
        for message in translated.client:
            await super().send(orjson.dumps(message).decode())
        road = self.road
        if road is not None:
            for upstream in translated.upstream:
                await road.send(upstream, orjson.dumps(upstream).decode())

    async def send_error_event(self, error: GatewayError) -> None:
        """Gemini Live has no error message: the error is the reason of the close that follows."""
        self._error = error

    async def close(self, code: int) -> None:
        error, self._error = self._error, None
        if error is not None and code == UPSTREAM_FAILED:
            code = close_code(error)  # an upstream's refusal of the setup is the client's to fix: 1007
        await self._close_with(code, error)

    async def _close_with(self, code: int, error: GatewayError | None) -> None:
        reason = close_reason(render_message(error, self.language)) if error is not None else ""
        with contextlib.suppress(OSError, RuntimeError):
            await self._send({"type": "websocket.close", "code": code, "reason": reason})

    def _warn(self, warnings: list[str]) -> None:
        for warning in warnings:
            log.info("gemini live (request %s): %s", self.call.request_id.decode(), warning)


async def serve_gemini_live(runtime: Runtime, scope: Scope, receive: Receive, send: Send, ids: RequestIds) -> None:
    """One connection on a `BidiGenerateContent` path: one session."""
    await GeminiLiveDoor(runtime, scope, receive, send, ids).run()
