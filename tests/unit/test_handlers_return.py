"""Handlers return what to answer and never write to the client (pipeline.serve conducts): every registered
route's handler is declared to return an `Answer` or a `ModelCall`, and a handful of routes that name no model,
called as the pipeline calls them, hand back an Answer with the status, type and body they always had while
nothing reaches the exchange."""

from __future__ import annotations

import importlib
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any, get_args

import orjson
import pytest

from babelgate import create_app
from babelgate.answer import Answer
from babelgate.app import Gateway
from babelgate.config import load_config
from babelgate.exchange import Exchange
from babelgate.frontends.openai_errors import encode_error
from babelgate.frontends.route import Route
from babelgate.model_call import ModelCall
from babelgate.observability.request_id import RequestIds
from babelgate.providers import PROVIDER_TYPES

MASTER = "master-key-of-the-handler-test-0123456789"


def _returns(handler: Callable[..., Any]) -> set[Any]:
    """The types a handler is declared to return (its return annotation alone is evaluated: the parameters'
    types are imported for type checking only)."""
    function = getattr(handler, "__func__", handler)
    annotations = getattr(function, "__annotations__", None)
    if annotations is None:  # compiled (mypyc keeps no annotations): the plain build's run checks its source
        return {Answer}
    declared = annotations["return"]
    if isinstance(declared, str):
        declared = eval(declared, vars(sys.modules[function.__module__]))
    return set(get_args(declared)) or {declared}


def _behind(handler: Callable[..., Any]) -> Callable[..., Any]:
    """The handler a deferred one (frontends/later.py, named `later:module.name`) loads; any other, itself."""
    qualname = getattr(handler, "__qualname__", "")
    if not qualname.startswith("later:"):
        return handler
    module, _, name = qualname.removeprefix("later:").rpartition(".")
    loaded: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return loaded


def test_every_registered_handler_returns_an_answer_or_a_model_call() -> None:
    from babelgate.app import PREFIX_ROUTES, ROUTES

    handlers = [_behind(route.handler) for route in (*ROUTES.values(), *PREFIX_ROUTES)]
    wrong = [
        f"{getattr(h, '__qualname__', h)} -> {_returns(h)}"
        for h in handlers
        if not _returns(h) or not _returns(h) <= {Answer, ModelCall}
    ]
    assert not wrong, "handlers that do not return Answer | ModelCall:\n" + "\n".join(wrong)


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    config = load_config(
        None,
        {
            "BABELGATE_MASTER_KEY": MASTER,
            "BABELGATE_STORE_URL": "memory",
            "OPENAI_API_KEY": "sk-unit-test",
            "OPENAI_BASE_URL": "http://127.0.0.1:9",
            "OLLAMA_BASE_URL": "http://127.0.0.1:9",
        },
        available_types=PROVIDER_TYPES,
    )
    app = create_app(config)
    yield app
    await app.aclose()


class _Client:
    """The exchange's ASGI side: an empty body to read, and every message the app would send kept."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def _exchange(client: _Client, method: str, path: str, *, master: bool = False) -> Exchange:
    headers = [(b"authorization", f"Bearer {MASTER}".encode())] if master else []
    scope = {"type": "http", "method": method, "path": path, "headers": headers, "query_string": b""}
    return Exchange(scope, client.receive, client.send, RequestIds(), errors=encode_error)


def _route(path: str) -> Route:
    from babelgate.app import ROUTES

    return ROUTES[path]


@pytest.mark.parametrize(
    ("path", "content_type", "check"),
    [
        ("/health", b"application/json", lambda body: orjson.loads(body)["status"] in ("ok", "degraded")),
        ("/models", b"application/json", lambda body: orjson.loads(body)["object"] == "list"),
        ("/openapi.json", b"application/json", lambda body: orjson.loads(body)["openapi"].startswith("3.")),
        ("/metrics", b"text/plain; version=0.0.4; charset=utf-8", lambda body: b"# TYPE" in body),
        ("/api/version", b"application/json", lambda body: "version" in orjson.loads(body)),
        ("/", b"text/plain; charset=utf-8", lambda body: body == b"Ollama is running"),
        ("/admin/keys", b"application/json", lambda body: orjson.loads(body) == {"object": "list", "data": []}),
        ("/admin/oidc", b"application/json", lambda body: orjson.loads(body)["enabled"] is False),
    ],
)
async def test_a_route_naming_no_model_returns_its_answer_and_writes_nothing(
    gateway: Gateway, path: str, content_type: bytes, check: Callable[[bytes], bool]
) -> None:
    client = _Client()
    exchange = _exchange(client, "GET", path, master=True)
    route = _route(path)
    answer = await route.handler(gateway.runtime, exchange)
    assert isinstance(answer, Answer)
    assert (answer.status, answer.content_type[1], answer.notes, answer.rest) == (200, content_type, None, None)
    assert check(answer.body)
    assert client.sent == [] and not exchange.answered  # the pipeline sends it, nobody else


async def test_the_dashboard_is_an_html_answer_with_its_security_headers(gateway: Gateway) -> None:
    from babelgate.frontends.ui.routes import SECURITY

    exchange = _exchange(client := _Client(), "GET", "/ui")
    answer = await _route("/ui").handler(gateway.runtime, exchange)
    assert isinstance(answer, Answer) and answer.content_type == (b"content-type", b"text/html; charset=utf-8")
    assert answer.headers == SECURITY and answer.status in (200, 404)  # 404: a tree whose bundle was never built
    assert client.sent == []


async def test_a_model_route_returns_a_model_call_and_calls_nothing(gateway: Gateway) -> None:
    body = orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "stream": True})
    client = _Client()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": [], "query_string": b""}
    exchange = Exchange(scope, receive, client.send, RequestIds(), errors=encode_error)
    call = await _route("/chat/completions").handler(gateway.runtime, exchange)
    assert isinstance(call, ModelCall)
    assert (call.model, call.stream, call.cache_body, call.after) == ("gpt-4o-mini", True, body, None)
    assert exchange.call.requested_model == "" and client.sent == []  # the pipeline has not conducted it yet
