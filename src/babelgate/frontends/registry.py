"""The frontends the gateway serves, in one list: adding a frontend is its folder (or module) with a
`FRONTEND` (frontends/route.Frontend: its routes, routes with an id, error prefix, WebSocket paths, GenAI
operations) and one entry here. The app builds its routing tables from this list (app.py)."""

from __future__ import annotations

from typing import Final

from babelgate.frontends import admin, embeddings, health, images, metrics, models, moderations, rerank
from babelgate.frontends.anthropic_clouds import bedrock, vertex
from babelgate.frontends.anthropic_messages import routes as anthropic_messages
from babelgate.frontends.audio import routes as audio
from babelgate.frontends.batches import routes as batches
from babelgate.frontends.bedrock_converse import routes as bedrock_converse
from babelgate.frontends.gemini import routes as gemini
from babelgate.frontends.gemini import vertex as vertex_gemini
from babelgate.frontends.gemini_live import routes as gemini_live
from babelgate.frontends.ollama import routes as ollama
from babelgate.frontends.openai_chat import routes as chat_completions
from babelgate.frontends.openai_completions import routes as openai_completions
from babelgate.frontends.realtime import routes as realtime
from babelgate.frontends.responses import routes as responses
from babelgate.frontends.route import ErrorEncoder, Frontend, PrefixRoute, Route, WebSocketHandler
from babelgate.frontends.ui import routes as ui

FRONTENDS: Final[tuple[Frontend, ...]] = (
    chat_completions.FRONTEND,
    responses.FRONTEND,
    realtime.FRONTEND,
    embeddings.FRONTEND,
    rerank.FRONTEND,
    moderations.FRONTEND,
    models.FRONTEND,
    health.FRONTEND,
    metrics.FRONTEND,
    openai_completions.FRONTEND,
    images.FRONTEND,
    audio.FRONTEND,
    anthropic_messages.FRONTEND,
    bedrock.FRONTEND,
    bedrock_converse.FRONTEND,
    vertex.FRONTEND,
    gemini.FRONTEND,
    vertex_gemini.FRONTEND,
    gemini_live.FRONTEND,
    ollama.FRONTEND,
    batches.FRONTEND,
    admin.FRONTEND,
    ui.FRONTEND,
)


def routes() -> dict[str, Route]:
    """Every frontend's paths (without the optional `/v1`); a path two frontends claim is a mistake."""
    table: dict[str, Route] = {}
    for frontend in FRONTENDS:
        for path, route in frontend.routes.items():
            assert path not in table, f"two frontends claim {path}"
            table[path] = route
    return table


def prefix_routes() -> tuple[PrefixRoute, ...]:
    """Routes with an id in the path, tried in this order where no exact path matched: those that claim
    only some requests under their prefix first."""
    every = [route for frontend in FRONTENDS for route in frontend.prefix_routes]
    return tuple(sorted(every, key=lambda route: route.claims is None))


def error_prefixes() -> tuple[tuple[str, ErrorEncoder], ...]:
    """Where no route matched, the error still speaks the format of the API the path belongs to."""
    return tuple(frontend.error_prefix for frontend in FRONTENDS if frontend.error_prefix is not None)


def websockets() -> dict[str, WebSocketHandler]:
    return {
        path: frontend.websocket for frontend in FRONTENDS if frontend.websocket for path in frontend.websocket_paths
    }


def operations() -> dict[str, str]:
    """`gen_ai.operation.name` by route name, for metrics and traces (other routes use their own name)."""
    return {name: operation for frontend in FRONTENDS for name, operation in frontend.operations.items()}
