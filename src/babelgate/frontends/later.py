"""A door's handlers loaded when its first request comes, not when the gateway starts.

Some doors bring machinery a typical deployment never calls: the WebSocket doors (the Realtime API, Gemini Live)
their sessions, translators, voice cascade and upstream WebSocket client; the Ollama, Bedrock Converse, audio and
Batches doors their translators, stream encoders and codecs. A gateway that never sees such a request should not
hold them in memory, so their routes name the handler's module and the first request imports it. Only the handler
is deferred: the paths, their names, their bodies' schemas and their errors are declared eagerly (each door's
routes module), so routing, /openapi.json and the errors of an unknown path under a door's prefix know the door
from the start, and a bad request's error is the same whenever it comes.

Each deferred handler returns the loaded handler's awaitable rather than awaiting it: no coroutine frame of its own
on the request's path.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from babelgate.answer import Answer
    from babelgate.exchange import Exchange
    from babelgate.frontends.route import Handler, PrefixHandler, WebSocketHandler
    from babelgate.model_call import ModelCall
    from babelgate.observability.request_id import RequestIds
    from babelgate.runtime import Runtime


def later(module: str, name: str) -> Handler:
    """The HTTP handler `name` of `module`, imported at the route's first request (its name, `later:module.name`,
    says in a traceback which handler stands behind the deferral)."""
    load = _loader(module, name)

    def handler(runtime: Runtime, exchange: Exchange) -> Awaitable[Answer | ModelCall]:
        answer: Awaitable[Answer | ModelCall] = load()(runtime, exchange)
        return answer

    handler.__qualname__ = handler.__name__ = f"later:{module}.{name}"
    return handler


def later_prefix(module: str, name: str) -> PrefixHandler:
    """The handler `name` of `module` for a route with an id in its path, imported at the route's first request."""
    load = _loader(module, name)

    def handler(runtime: Runtime, exchange: Exchange, rest: str) -> Awaitable[Answer | ModelCall]:
        answer: Awaitable[Answer | ModelCall] = load()(runtime, exchange, rest)
        return answer

    handler.__qualname__ = handler.__name__ = f"later:{module}.{name}"
    return handler


def later_websocket(module: str, name: str) -> WebSocketHandler:
    """The WebSocket handler `name` of `module`, imported at the first connection."""
    load = _loader(module, name)

    def handler(runtime: Runtime, scope: Any, receive: Any, send: Any, ids: RequestIds) -> Awaitable[None]:
        served: Awaitable[None] = load()(runtime, scope, receive, send, ids)
        return served

    handler.__qualname__ = handler.__name__ = f"later:{module}.{name}"
    return handler


def _loader(module: str, name: str) -> Callable[[], Any]:
    """What imports the handler once and then hands it back (the import system keeps the module, the closure the
    function: no state of the process's own)."""
    loaded: list[Any] = []

    def load() -> Any:
        if not loaded:
            loaded.append(getattr(importlib.import_module(module), name))
        return loaded[0]

    return load
