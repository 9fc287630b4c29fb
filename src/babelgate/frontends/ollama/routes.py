"""Routes of the Ollama API frontend: chat, generate and embeddings (door.py), the model routes (models.py), each
loaded at its first request (frontends/later.py); their paths, bodies (validate.py) and errors are declared here.
Errors are Ollama's `{"error": "…"}`: before a stream begins as the HTTP answer, after it as its
last line. See docs/ollama.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from babelgate.answer import Answer, json_answer
from babelgate.frontends.later import later
from babelgate.frontends.ollama import validate
from babelgate.frontends.ollama.wire import OLLAMA_VERSION, encode_error
from babelgate.frontends.route import NDJSON, Frontend, Operation, Route

if TYPE_CHECKING:
    from babelgate.exchange import Exchange
    from babelgate.runtime import Runtime

_DOOR: Final = "babelgate.frontends.ollama.door"
_MODELS: Final = "babelgate.frontends.ollama.models"
_TEXT: Final = (b"content-type", b"text/plain; charset=utf-8")


# The probes answer without loading the door: a load balancer that checks `/` does not hold it in memory.
async def ps(runtime: Runtime, exchange: Exchange) -> Answer:
    """Nothing is ever loaded into the gateway's memory: upstream models are always ready."""
    return json_answer({"models": []})


async def version(runtime: Runtime, exchange: Exchange) -> Answer:
    return json_answer({"version": OLLAMA_VERSION})


async def root(runtime: Runtime, exchange: Exchange) -> Answer:
    """The liveness probe Ollama's own CLI sends before every command."""
    return Answer(b"Ollama is running", None, content_type=_TEXT)


ROUTES: dict[str, Route] = {
    "/api/chat": Route(
        "POST",
        later(_DOOR, "chat"),
        "ollama.chat",
        errors=encode_error,
        operations=(Operation("POST", body=validate.CHAT_BODY, streams=NDJSON),),
    ),
    "/api/generate": Route(
        "POST",
        later(_DOOR, "generate"),
        "ollama.generate",
        errors=encode_error,
        operations=(Operation("POST", body=validate.GENERATE_BODY, streams=NDJSON),),
    ),
    "/api/embed": Route(
        "POST",
        later(_DOOR, "embed"),
        "ollama.embed",
        errors=encode_error,
        operations=(Operation("POST", body=validate.EMBED_BODY),),
    ),
    "/api/embeddings": Route(
        "POST",
        later(_DOOR, "embeddings"),
        "ollama.embeddings",
        errors=encode_error,
        operations=(Operation("POST", body=validate.EMBEDDINGS_BODY),),
    ),
    "/api/tags": Route("GET", later(_MODELS, "tags"), "ollama.tags", errors=encode_error),
    "/api/show": Route(
        "POST",
        later(_MODELS, "show"),
        "ollama.show",
        errors=encode_error,
        operations=(Operation("POST", body=validate.SHOW_BODY),),
    ),
    "/api/ps": Route("GET", ps, "ollama.ps", errors=encode_error),
    # Probes a client sends before it has a key to send: they reveal nothing but that this is up.
    "/api/version": Route("GET", version, "ollama.version", public=True, errors=encode_error),
    "/": Route(
        "GET",
        root,
        "ollama.root",
        public=True,
        errors=encode_error,
        operations=(Operation("GET", answers="text/plain"),),
    ),
}


# Where no route matched under /api/, the error still speaks Ollama's format.
FRONTEND: Final[Frontend] = Frontend(
    routes=ROUTES,
    error_prefix=("/api/", encode_error),
    operations={
        "ollama.chat": "chat",
        "ollama.generate": "text_completion",
        "ollama.embed": "embeddings",
        "ollama.embeddings": "embeddings",
    },
)
