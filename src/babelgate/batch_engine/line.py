"""One batch line run as an in-process request: the route's own handler, through `pipeline.serve`, as an
interactive request of the batch's owning key would be (model access, rate limits, budgets, guardrails, hooks,
retries and fallbacks, and a ledger row that names the batch). The exchange is the gateway's HTTP one over an
ASGI scope made here: its body is the line's, and its answer is collected instead of written to a socket.

The owner is named by its key id, never by its secret (the store holds none): a virtual key is found in the key
ring, and a revoked or expired one fails the line as its request would have failed; a JWT caller's key (its user,
team and models, made from the token: identity/jwt_callers.py) is kept with the batch; a static key is its id."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate import pipeline
from babelgate.errors import AuthenticationFailed, GatewayError
from babelgate.exchange import Exchange
from babelgate.frontends.route import Route
from babelgate.governance.virtual_keys import VirtualKey
from babelgate.observability.request_id import RequestIds

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

_HEADERS: Final = [(b"content-type", b"application/json"), (b"user-agent", b"babelgate-batch")]


class _Collected:
    """The ASGI side of an in-process exchange: the body handed over once, the answer kept."""

    __slots__ = ("body", "parts", "status")

    def __init__(self, body: bytes) -> None:
        self.body: bytes | None = body
        self.parts: list[bytes] = []
        self.status = 0

    async def receive(self) -> dict[str, Any]:
        body, self.body = self.body, None
        if body is not None:
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # no client to leave: the watcher waits until it is cancelled
        raise AssertionError("unreachable")

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        else:
            piece = message.get("body", b"")
            if piece:
                self.parts.append(piece)


async def run_line(
    runtime: Runtime,
    routes: Mapping[str, Route],
    ids: RequestIds,
    *,
    owner: str | None,
    owner_key: dict[str, Any] | None = None,
    batch_id: str,
    url: str,
    body: dict[str, Any],
) -> tuple[int, bytes, str, GatewayError | None]:
    """The line's answer: its status, its body (JSON, an error in the route's format), its request id, and the
    error that failed it, if one did."""
    path = url[3:] if url.startswith("/v1/") else url
    route = routes[path]
    body.pop("stream", None)  # a line's answer is whole
    raw = orjson.dumps(body)
    scope = {
        "type": "http",
        "method": "POST",
        "path": url,
        "raw_path": url.encode(),
        "query_string": b"",
        "headers": [*_HEADERS, (b"content-length", str(len(raw)).encode())],
        "client": None,
        "scheme": "http",
    }
    collected = _Collected(raw)
    exchange = Exchange(scope, collected.receive, collected.send, ids, route.name, errors=route.errors)
    call = exchange.call
    call.batch_id = batch_id
    key, refusal = owner_of(runtime, owner, owner_key)
    call.key_id, call.virtual_key = owner, key
    handle = (
        functools.partial(route.handler, runtime, exchange) if refusal is None else functools.partial(_raise, refusal)
    )
    await pipeline.serve(runtime, exchange, handle, authenticate=False, model_route=True)
    return collected.status or 500, b"".join(collected.parts), call.request_id.decode(), call.error


def owner_of(
    runtime: Runtime, owner: str | None, kept: dict[str, Any] | None
) -> tuple[VirtualKey | None, AuthenticationFailed | None]:
    """The owner's virtual key (None for a static key), and the refusal when it is no longer live."""
    if owner is None:
        return None, None
    key = runtime.key_ring.keys.get(owner)
    if key is None:
        # A JWT caller's key, as it was when the batch was made; none: a static key (server.api_keys).
        return (VirtualKey.decode(orjson.dumps(kept)) if kept is not None else None), None
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= time.time()):
        return None, AuthenticationFailed(key_id=key.id)
    return key, None


async def _raise(error: Exception) -> Any:
    raise error
