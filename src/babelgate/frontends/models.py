"""`GET /v1/models` and `GET /v1/models/{id}` in OpenAI's list/object format, or in Anthropic's for
clients of the Messages API (they send `anthropic-version`; Claude Code lists models this way), or in
Google's for clients of the Gemini API (they send `x-goog-api-key`; the google-genai SDK lists here).

Lists configured models and aliases first, then each provider's own listing as `provider/id`,
which is also how those models are asked for. Upstream listings come from the catalog's cache.
Beyond OpenAI's fields, each model carries what clients ask for where it is known: context
window, maximum output, modalities, capabilities and prices (docs/api.md, "Model metadata").
"""

from __future__ import annotations

import datetime
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from babelgate.answer import Answer, json_answer
from babelgate.errors import MethodNotAllowed, ModelNotFound
from babelgate.exchange import Exchange
from babelgate.frontends.gemini.translate import model_object as gemini_model
from babelgate.frontends.route import Frontend, Operation, PrefixRoute, Route
from babelgate.model_facts import ModelFacts, Price
from babelgate.routing.registry import Deployment
from babelgate.schema.models import ModelInfo

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


async def known_models(runtime: Runtime) -> dict[str, ModelInfo]:
    return {name: info for name, (info, _) in (await described(runtime)).items()}


async def described(runtime: Runtime) -> dict[str, tuple[ModelInfo, dict[str, Any]]]:
    """Every model by its public name: its listing entry, and what `/v1/models` adds to OpenAI's
    fields (context window, limits, modalities, capabilities, prices): the gateway's table for the
    upstream model (model_facts.py), a configured price over it, and what the upstream's
    own listing says over both."""
    registry = runtime.registry
    listings = await runtime.catalog.listings()
    upstream = {(provider, info.id): info for provider, listing in listings.items() for info in listing}
    models: dict[str, tuple[ModelInfo, dict[str, Any]]] = {}

    def add(public: str, deployment: Deployment) -> None:
        own = upstream.get((deployment.provider.name, deployment.model))
        info = ModelInfo(
            public,
            owned_by=deployment.provider.name,
            created=runtime.created,
            display_name=own.display_name if own is not None else None,
        )
        models[public] = (info, _extras(registry.facts.lookup(deployment.model), deployment.price, own))

    for name, deployment in registry.configured.items():
        add(name, deployment)
    for alias in registry.aliases:
        add(alias, registry.resolve(alias))
    for provider, listing in listings.items():
        for info in listing:
            public = f"{provider}/{info.id}"
            if public not in models:
                facts = registry.facts.lookup(info.id)
                models[public] = (
                    ModelInfo(public, owned_by=info.owned_by, created=info.created, display_name=info.display_name),
                    _extras(facts, facts.price if facts is not None else None, info),
                )
    return models


def _extras(facts: ModelFacts | None, price: Price | None, upstream: ModelInfo | None) -> dict[str, Any]:
    extras: dict[str, Any] = (
        replace(facts, price=price).public()
        if facts is not None
        else ({"pricing": {"currency": "USD", "unit": "1M tokens", **price.public()}} if price is not None else {})
    )
    if upstream is not None:
        if upstream.context_window:
            extras["context_window"] = upstream.context_window
        if upstream.max_output_tokens:
            extras["max_output_tokens"] = upstream.max_output_tokens
        if upstream.capabilities:
            extras["upstream_capabilities"] = list(upstream.capabilities)
    return extras


def _object(info: ModelInfo, extras: dict[str, Any]) -> dict[str, Any]:
    return {"id": info.id, "object": "model", "created": info.created, "owned_by": info.owned_by, **extras}


def _anthropic_object(info: ModelInfo, extras: dict[str, Any]) -> dict[str, Any]:
    """Anthropic's `ModelInfo`: `created_at` is an RFC 3339 time, `display_name` a label; the
    gateway's fields follow (the SDK keeps unknown fields)."""
    created = datetime.datetime.fromtimestamp(info.created, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "type": "model",
        "id": info.id,
        "display_name": info.display_name or info.id,
        "created_at": created,
        **extras,
    }


def _anthropic_client(exchange: Exchange) -> bool:
    return exchange.header(b"anthropic-version") is not None


def _gemini_client(exchange: Exchange) -> bool:
    """The google-genai SDK's default API version is `v1`: its listing comes here, with its own headers."""
    return exchange.header(b"x-goog-api-client") is not None or exchange.header(b"x-goog-api-key") is not None


async def list_models(runtime: Runtime, exchange: Exchange) -> Answer:
    models = await described(runtime)
    if _gemini_client(exchange):
        return json_answer({"models": [gemini_model(*m) for m in models.values()]})
        return
    if _anthropic_client(exchange):
        # One page: the listing is in memory, and `has_more: false` tells the SDK's pager to stop.
        data = [_anthropic_object(*m) for m in models.values()]
        return json_answer(
            {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            },
        )
    return json_answer({"object": "list", "data": [_object(*m) for m in models.values()]})


async def retrieve_model(runtime: Runtime, exchange: Exchange, model_id: str) -> Answer:
    models = await described(runtime)
    found = models.get(model_id)
    if found is None:
        # A bare upstream id (`gpt-4o`) is found under the provider that routing would pick.
        try:
            deployment = runtime.registry.resolve(model_id)
        except ModelNotFound:
            deployment = None
        if deployment is not None:
            listed = models.get(f"{deployment.provider.name}/{deployment.model}")
            if listed is not None:
                found = (replace(listed[0], id=model_id), listed[1])
    if found is None:
        raise ModelNotFound(model=model_id, providers=", ".join(sorted(runtime.providers)) or "none")
    if _gemini_client(exchange):
        return json_answer(gemini_model(*found))
    return json_answer(_anthropic_object(*found) if _anthropic_client(exchange) else _object(*found))


async def _retrieve(runtime: Runtime, exchange: Exchange, model: str) -> Answer:
    scope = exchange.scope
    if scope["method"] not in ("GET", "HEAD"):
        raise MethodNotAllowed(method=scope["method"], path=scope["path"])
    return await retrieve_model(runtime, exchange, model)


FRONTEND: Final[Frontend] = Frontend(
    routes={"/models": Route("GET", list_models, "models")},
    prefix_routes=(PrefixRoute("/models/", "models.retrieve", _retrieve, False, "model", {"": (Operation("GET"),)}),),
)
