"""The relayed road: the session's events go to an upstream that speaks OpenAI's Realtime protocol itself
(a provider with the `realtime` capability: providers/base.py `RealtimeRelay`), over a WebSocket of the
`websockets` library, with the upstream's key and its model name; its events come back as they are, but for
the model's name in `session.created` and `session.updated`, which is the public one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Final

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from babelgate.errors import (
    GatewayError,
    UpstreamConnectionFailed,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from babelgate.providers.base import RealtimeUpstream
from babelgate.providers.status import error_for_status
from babelgate.realtime.protocol import JSON

# The largest event the upstream may send (audio deltas are a few KB; a whole transcript or a session's
# instructions far less than this).
MAX_UPSTREAM_EVENT: Final = 64 * 1024 * 1024
PING_SECONDS: Final = 20.0
SESSION_EVENTS: Final = frozenset(("session.created", "session.updated"))


class RelayRoad:
    name = "relay"
    speaks_client_names = True

    def __init__(self, socket: ClientConnection, upstream_model: str, public_model: str, provider: str) -> None:
        self.socket = socket
        self.upstream_model = upstream_model
        self.public_model = public_model
        self.provider = provider

    @classmethod
    async def open(
        cls,
        upstream: RealtimeUpstream,
        upstream_model: str,
        public_model: str,
        *,
        provider: str,
        connect_timeout: float,
        scrub: Callable[[str], str],
    ) -> RelayRoad:
        """Connects, or raises the upstream's refusal as the GatewayError the router reads (a failed connect is
        retryable: the next deployment is tried)."""
        socket = await connect_upstream(upstream, provider=provider, connect_timeout=connect_timeout, scrub=scrub)
        return cls(socket, upstream_model, public_model, provider)

    async def send(self, event: JSON, raw: str) -> None:
        if event.get("type") == "session.update":
            session = event.get("session")
            if isinstance(session, dict) and "model" in session:
                # The upstream's model name in place of the public one the client knows.
                raw = orjson.dumps({**event, "session": {**session, "model": self.upstream_model}}).decode()
        try:
            await self.socket.send(raw)
        except ConnectionClosed as closed:
            raise dropped(closed, self.provider) from None

    async def receive(self) -> tuple[JSON, str] | None:
        try:
            message = await self.socket.recv()
        except ConnectionClosed as closed:
            if closed.rcvd is not None and closed.rcvd.code == 1000:
                return None
            raise dropped(closed, self.provider) from None
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        try:
            event = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise UpstreamProtocolError(provider=self.provider) from None
        if not isinstance(event, dict):
            raise UpstreamProtocolError(provider=self.provider)
        if event.get("type") in SESSION_EVENTS:
            session = event.get("session")
            if isinstance(session, dict) and session.get("model") == self.upstream_model:
                event["session"] = {**session, "model": self.public_model}
                text = orjson.dumps(event).decode()
        return event, text

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.socket.close(), timeout=2.0)


async def connect_upstream(
    upstream: RealtimeUpstream, *, provider: str, connect_timeout: float, scrub: Callable[[str], str]
) -> ClientConnection:
    """The upstream's socket (any road's), or its refusal as the GatewayError the router reads."""
    try:
        return await connect(
            upstream.url,
            additional_headers=list(upstream.headers),
            ssl=upstream.tls if upstream.url.startswith("wss://") else None,
            proxy=upstream.proxy,
            open_timeout=connect_timeout,
            ping_interval=PING_SECONDS,
            ping_timeout=PING_SECONDS,
            max_size=MAX_UPSTREAM_EVENT,
            compression=None,
            user_agent_header=None,
        )
    except InvalidStatus as refused:
        response = refused.response
        raise _refusal(response.status_code, bytes(response.body or b""), provider, scrub) from None
    except TimeoutError:
        raise UpstreamTimeout(provider=provider) from None
    except (OSError, InvalidHandshake):
        raise UpstreamConnectionFailed(provider=provider) from None


def _refusal(status: int, body: bytes, provider: str, scrub: Callable[[str], str]) -> GatewayError:
    """The upstream refused the handshake with an HTTP answer: its status and its error's words (scrubbed)."""
    message = code = None
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        error: Any = orjson.loads(body).get("error")
        if isinstance(error, dict):
            message, code = error.get("message"), error.get("code")
    return error_for_status(
        status,
        provider=provider,
        scrub=scrub,
        message=message if isinstance(message, str) else None,
        code=code if isinstance(code, str) else None,
    )


def dropped(closed: ConnectionClosed, provider: str) -> UpstreamError:
    """The upstream's socket ended without a proper close: the session cannot go on."""
    return UpstreamUnavailable("upstream_closed", code="upstream_closed", provider=provider)
