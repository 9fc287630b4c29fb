"""A door's handler loaded when its first request comes, not when the gateway starts.

The WebSocket doors (the Realtime API, Gemini Live) bring their whole machinery with them: the sessions, the
translators between OpenAI's and Gemini's events, the voice cascade, the upstream WebSocket client. A gateway that
never sees such a connection should not hold them in memory (~2 MiB, a tenth of the gateway's own modules), so
their routes name the handler's module and the first connection imports it. Only the handler is deferred: the
paths, their names and their errors are declared eagerly, so routing, /openapi.json and the errors of an unknown
path under a door's prefix know the door from the start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from babelgate.frontends.route import WebSocketHandler
    from babelgate.observability.request_id import RequestIds
    from babelgate.runtime import Runtime


def later_websocket(module: str, name: str) -> WebSocketHandler:
    """The WebSocket handler `name` of `module`, imported at the first connection (and once: the import system
    keeps the module, the handler keeps the function)."""
    loaded: list[WebSocketHandler] = []

    async def handler(runtime: Runtime, scope: Any, receive: Any, send: Any, ids: RequestIds) -> None:
        if not loaded:
            loaded.append(getattr(importlib.import_module(module), name))
        await loaded[0](runtime, scope, receive, send, ids)

    handler.__qualname__ = handler.__name__ = f"later:{module}.{name}"
    return handler
