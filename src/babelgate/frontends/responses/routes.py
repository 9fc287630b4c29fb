"""HTTP routes of the Responses API: create (JSON or SSE), retrieve, delete, list input items,
and compact. The WebSocket mode on the same path lives in websocket.py."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qs

import orjson

from babelgate.answer import Answer, json_answer
from babelgate.errors import GatewayError, InvalidRequest, MethodNotAllowed, NotFound
from babelgate.exchange import Exchange
from babelgate.frontends.responses import native, turn
from babelgate.frontends.responses.compact import compact_response
from babelgate.frontends.responses.conversation import CODEC
from babelgate.frontends.responses.input_tokens import INPUT_TOKENS_BODY, count_input_tokens
from babelgate.frontends.responses.texts import TEXTS
from babelgate.frontends.responses.validate import COMPACT_BODY, CREATE_BODY, validate_create_body
from babelgate.frontends.responses.websocket import serve_websocket
from babelgate.frontends.responses.wire import JSON
from babelgate.frontends.route import SSE, Frontend, Operation, PrefixRoute, Route
from babelgate.frontends.stream_encoder import stream_answer
from babelgate.model_call import ModelCall
from babelgate.pipeline import name_end_user, parse_json_object
from babelgate.providers.base import CallNotes
from babelgate.routing.registry import Deployment

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

INPUT_ITEMS = "/input_items"


async def create_response(runtime: Runtime, exchange: Exchange) -> ModelCall:
    body = parse_json_object(await exchange.read_body(runtime.max_body_bytes))
    validate_create_body(body)
    stream = body.get("stream") is True

    # A partial, not a nested function: `attempt` below captures it, and the compiled build keeps captured locals in
    # an environment object its closures point back to, so a closure there would make a reference cycle a request.
    lookup: turn.Lookup = functools.partial(turn.owned, runtime.response_store, owner=exchange.call.key_id)
    served: turn.Turn | None = None  # the turn of the attempt that answered (None on the native road)

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        nonlocal served
        served = None
        if deployment.native_responses:
            # Hooks saw the request (and may have refused it) on the native road too; there is no
            # chat request to transform there. A copy: the relay names the upstream's model in it.
            return await native.relay(dict(body), deployment, notes, stream=stream)
        current = served = await turn.prepare(
            runtime,
            body,
            deployment,
            lookup,
            language=exchange.call.language,
            context=exchange.call.context,
            notes=notes,
            stream=stream,
            owner=exchange.call.key_id,
            call=exchange.call,
        )
        if stream:
            # Stored before its end goes out: a client that has read it may continue it at once.
            ending = functools.partial(_remember, runtime, current)
            return await stream_answer(current.chunks(), current.stream_encoder(), notes, ending=ending)
        resource = await turn.answer(current)
        await _remember(runtime, current)
        return Answer(orjson.dumps(resource), notes)

    async def after(answer: Answer | None, error: GatewayError | None) -> None:
        if answer is not None and error is not None and served is not None and served.encoder is not None:
            # A stream that failed after it began ended with `response.failed`, which is kept as its end would
            # have been (its error event is rendered as it goes out, where nothing can be awaited).
            await _remember(runtime, served)

    # `safety_identifier` is what OpenAI now asks for in place of the older `user`.
    name_end_user(exchange.call, body.get("safety_identifier") or body.get("user"))
    return ModelCall(body["model"], attempt, stream, fields=body, after=after, texts=TEXTS, document=body, codec=CODEC)


async def _remember(runtime: Runtime, current: turn.Turn) -> None:
    if current.store and current.response is not None:
        await runtime.response_store.put(current.record())


async def response_resource(runtime: Runtime, exchange: Exchange, rest: str) -> Answer:
    """`/responses/{id}` (GET, DELETE) and `/responses/{id}/input_items` (GET)."""
    method = exchange.scope["method"]
    listing = rest.endswith(INPUT_ITEMS)
    response_id = rest[: -len(INPUT_ITEMS)] if listing else rest
    if "/" in response_id or not response_id:
        raise NotFound(method=method, path=exchange.scope["path"])
    exchange.call.route = "responses.input_items" if listing else "responses.retrieve"
    if method not in (("GET", "HEAD") if listing else ("GET", "HEAD", "DELETE")):
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])
    store = runtime.response_store
    record = await turn.owned(store, response_id, exchange.call.key_id)
    if record is None:
        raise _not_found(response_id)
    if method == "DELETE":
        exchange.call.route = "responses.delete"
        if not await store.delete(response_id):
            raise _not_found(response_id)
        return json_answer({"id": response_id, "object": "response.deleted", "deleted": True})
    if listing:
        return json_answer(_item_page(record.input_items, _query(exchange)))
    return json_answer(record.response)


def _not_found(response_id: str) -> NotFound:
    return NotFound(
        "response_not_found",
        code="response_not_found",
        param="response_id",
        error_type="invalid_request_error",
        response_id=response_id,
    )


def _query(exchange: Exchange) -> dict[str, str]:
    raw = exchange.scope.get("query_string", b"").decode("latin-1")
    return {key: values[-1] for key, values in parse_qs(raw).items()}


def _item_page(items: list[JSON], query: dict[str, str]) -> JSON:
    """OpenAI's cursor list: `order` (desc by default), `after` an item id, `limit` 1 to 100."""
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise InvalidRequest("wrong_type", param="limit", expected="an integer") from None
    if not 1 <= limit <= 100:
        raise InvalidRequest("out_of_range", param="limit", expected="a value from 1 to 100")
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest("invalid_value", param="order", detail="expected asc or desc")
    ordered = items if order == "asc" else items[::-1]
    after = query.get("after")
    if after is not None:
        ids = [item.get("id") for item in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    page = ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(ordered) > limit,
    }


FRONTEND: Final[Frontend] = Frontend(
    routes={
        "/responses": Route(
            "POST", create_response, "responses.create", operations=(Operation("POST", body=CREATE_BODY, streams=SSE),)
        ),
        "/responses/compact": Route(
            "POST", compact_response, "responses.compact", operations=(Operation("POST", body=COMPACT_BODY),)
        ),
        "/responses/input_tokens": Route(
            "POST",
            count_input_tokens,
            "responses.input_tokens",
            operations=(Operation("POST", body=INPUT_TOKENS_BODY),),
        ),
    },
    prefix_routes=(
        PrefixRoute(
            "/responses/",
            "responses.retrieve",
            response_resource,
            False,
            "response_id",
            {
                "": (Operation("GET"), Operation("DELETE")),
                INPUT_ITEMS: (Operation("GET", query=("limit", "order", "after", "before", "include")),),
            },
        ),
    ),
    websocket_paths=frozenset({"/responses", "/v1/responses"}),
    websocket=serve_websocket,
    operations={
        "responses.create": "chat",
        "responses.websocket": "chat",
        "responses.compact": "chat",
    },
)
