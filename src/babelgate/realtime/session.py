"""One Realtime session's loop: the client's events to the road, the road's events to the client, until one side
ends it or a bound does. Each bound exceeded ends the session with an `error` event and a close code: the session's
length and idle time (1000), an event too large (1009), a budget spent (1008), an upstream that dropped (1011), a
gateway that shuts down (1012)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Protocol

import orjson

from babelgate.errors import GatewayError, GuardrailBlocked, InvalidRequest, RequestTooLarge, UpstreamError
from babelgate.exchange import ClientGone
from babelgate.realtime.guard import RealtimeGuard
from babelgate.realtime.protocol import JSON, SessionUsage, beta_name
from babelgate.realtime.road import Road

NORMAL: Final = 1000
POLICY_VIOLATION: Final = 1008
TOO_BIG: Final = 1009
UPSTREAM_FAILED: Final = 1011


class Client(Protocol):
    """The client's side of the socket, as the door provides it."""

    async def receive(self) -> str | bytes | None:
        """The next message, or None when the client left."""
        ...

    async def send(self, text: str) -> None: ...

    async def send_error_event(self, error: GatewayError) -> None:
        """`error` as an `error` event in the client's language."""
        ...

    async def close(self, code: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Bounds:
    max_seconds: float
    idle_seconds: float
    max_event_bytes: int


@dataclass(frozen=True, slots=True)
class Ending:
    code: int
    error: GatewayError | None = None  # what the session ended with, sent as its last event
    client_left: bool = False


class Session:
    def __init__(
        self,
        road: Road,
        client: Client,
        bounds: Bounds,
        *,
        beta: bool,
        usage: SessionUsage,
        response_done: Callable[[JSON], Awaitable[None]],
        opening: tuple[JSON, ...] = (),
        guard: RealtimeGuard | None = None,
    ) -> None:
        self.road = road
        self.client = client
        self.bounds = bounds
        self.rename = beta and not road.speaks_client_names
        self.usage = usage
        # Called with each response's usage; may raise (a budget spent): the session ends with that error.
        self.response_done = response_done
        self.opening = opening  # events sent to the road before the client's (a client secret's settings)
        self.guard = guard  # the session's guardrails (realtime/guard.py); None: it passes none
        self.last = time.monotonic()
        self.started = self.last
        self._stopped: asyncio.Future[Ending] | None = None

    def stop(self, error: GatewayError, code: int) -> None:
        """Ends the session from outside (a gateway that shuts down)."""
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(Ending(code, error))

    async def run(self) -> Ending:
        self._stopped = asyncio.get_running_loop().create_future()
        pumps = [asyncio.ensure_future(self._from_client()), asyncio.ensure_future(self._from_road()), self._stopped]
        try:
            for event in self.opening:
                await self.road.send(event, orjson.dumps(event).decode())
            ending = await self._watch(pumps)
        except UpstreamError as error:
            ending = Ending(UPSTREAM_FAILED, error)
        except ClientGone:
            ending = Ending(NORMAL, client_left=True)
        finally:
            for pump in pumps:
                pump.cancel()
            for pump in pumps:
                with contextlib.suppress(BaseException):
                    await pump
            await self.road.close()
        if not ending.client_left:
            with contextlib.suppress(Exception):
                if ending.error is not None:
                    await self.client.send_error_event(ending.error)
                await self.client.close(ending.code)
        return ending

    async def _watch(self, pumps: list[asyncio.Future[Ending]]) -> Ending:
        bounds = self.bounds
        while True:
            now = time.monotonic()
            idle_left = self.last + bounds.idle_seconds - now
            length_left = self.started + bounds.max_seconds - now
            if length_left <= 0:
                seconds = round(bounds.max_seconds)
                return Ending(
                    NORMAL, InvalidRequest("realtime_session_expired", code="session_expired", seconds=seconds)
                )
            if idle_left <= 0:
                seconds = round(bounds.idle_seconds)
                return Ending(NORMAL, InvalidRequest("realtime_idle_timeout", code="idle_timeout", seconds=seconds))
            done, _ = await asyncio.wait(
                pumps, timeout=min(idle_left, length_left), return_when=asyncio.FIRST_COMPLETED
            )
            for pump in done:
                try:
                    return pump.result()
                except ClientGone:  # a send to the client failed: it left
                    return Ending(NORMAL, client_left=True)

    async def _from_client(self) -> Ending:
        limit = self.bounds.max_event_bytes
        client, road = self.client, self.road
        while True:
            message = await client.receive()
            if message is None:
                return Ending(NORMAL, client_left=True)
            self.last = time.monotonic()
            size = len(message) if isinstance(message, bytes) else len(message.encode())
            if size > limit:
                return Ending(TOO_BIG, RequestTooLarge("realtime_event_too_large", code="event_too_large", limit=limit))
            text = message if isinstance(message, str) else message.decode("utf-8", "replace")
            try:
                event = orjson.loads(text)
            except orjson.JSONDecodeError:
                event = None
            if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                # As OpenAI does: an `error` event for the bad one, and the session goes on.
                await client.send_error_event(InvalidRequest("realtime_invalid_event", code="invalid_event"))
                continue
            if self.guard is not None:
                try:
                    if await self.guard.client_event(event):
                        text = orjson.dumps(event).decode()
                except GuardrailBlocked as blocked:  # the event goes nowhere; the session goes on
                    await client.send_error_event(blocked)
                    continue
            await road.send(event, text)

    async def _from_road(self) -> Ending:
        client, road = self.client, self.road
        while True:
            received = await road.receive()
            if received is None:
                return Ending(NORMAL)
            self.last = time.monotonic()
            event, text = received
            kind = event.get("type")
            turn: JSON = {}
            if kind == "response.done":  # what the model did is counted, whatever the guardrails let out
                response = event.get("response")
                found = response.get("usage") if isinstance(response, dict) else None
                turn = found if isinstance(found, dict) else {}
                self.usage.add(turn)
            if self.guard is None:
                await client.send(self._renamed(event, text))
            else:  # what the guardrails let out, each parsed again only to be renamed
                for out in await self._guarded(event, text):
                    await client.send(self._renamed(orjson.loads(out) if self.rename else {}, out))
            if kind == "response.done":
                try:
                    await self.response_done(turn)
                except GatewayError as error:
                    return Ending(POLICY_VIOLATION, error)

    async def _guarded(self, event: JSON, text: str) -> list[str]:
        """What the client gets of one of the road's events, through the session's guardrails."""
        assert self.guard is not None
        try:
            return await self.guard.server_event(event, text)
        except GuardrailBlocked as blocked:
            await self.client.send_error_event(blocked)
            if event.get("type") == "response.done":
                return [orjson.dumps(event).decode()]  # emptied of what was blocked
            await self.road.send(_CANCEL, _CANCEL_TEXT)  # the rest of the response is dropped
            return []

    def _renamed(self, event: JSON, text: str) -> str:
        """`event` (whose text is `text`) in the beta protocol's name, for a beta client of a road that speaks GA."""
        if not self.rename:
            return text
        kind = event.get("type")
        if isinstance(kind, str) and beta_name(kind) != kind:
            event["type"] = beta_name(kind)
            return orjson.dumps(event).decode()
        return text


_CANCEL: Final[JSON] = {"type": "response.cancel"}
_CANCEL_TEXT: Final = orjson.dumps(_CANCEL).decode()
