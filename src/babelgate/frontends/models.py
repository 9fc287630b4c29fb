"""`GET /v1/models` and `GET /v1/models/{id}` in OpenAI's list/object format, or in Anthropic's for
clients of the Messages API (they send `anthropic-version`; Claude Code lists models this way).

Lists configured models and aliases first, then each provider's own listing as `provider/id`,
which is also how those models are asked for. Upstream listings come from the catalog's cache.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from babelgate.errors import ModelNotFound
from babelgate.exchange import Exchange
from babelgate.schema.models import ModelInfo

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


async def known_models(runtime: Runtime) -> dict[str, ModelInfo]:
    models: dict[str, ModelInfo] = {}
    registry = runtime.registry
    for name, deployment in registry.configured.items():
        models[name] = ModelInfo(name, owned_by=deployment.provider.name, created=runtime.created)
    for alias in registry.aliases:
        models[alias] = ModelInfo(alias, owned_by=registry.resolve(alias).provider.name, created=runtime.created)
    for provider, listing in (await runtime.catalog.listings()).items():
        for info in listing:
            public = f"{provider}/{info.id}"
            models.setdefault(public, ModelInfo(public, owned_by=info.owned_by, created=info.created))
    return models


def _object(info: ModelInfo) -> dict[str, Any]:
    return {"id": info.id, "object": "model", "created": info.created, "owned_by": info.owned_by}


def _anthropic_object(info: ModelInfo) -> dict[str, Any]:
    """Anthropic's `ModelInfo`: `created_at` is an RFC 3339 time, `display_name` a label."""
    created = datetime.datetime.fromtimestamp(info.created, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": "model", "id": info.id, "display_name": info.id, "created_at": created}


def _anthropic_client(exchange: Exchange) -> bool:
    return exchange.header(b"anthropic-version") is not None


async def list_models(runtime: Runtime, exchange: Exchange) -> None:
    models = await known_models(runtime)
    if _anthropic_client(exchange):
        # One page: the listing is in memory, and `has_more: false` tells the SDK's pager to stop.
        data = [_anthropic_object(m) for m in models.values()]
        await exchange.respond_json(200, {"data": data, "has_more": False,
                                          "first_id": data[0]["id"] if data else None,
                                          "last_id": data[-1]["id"] if data else None})
        return
    await exchange.respond_json(200, {"object": "list", "data": [_object(m) for m in models.values()]})


async def retrieve_model(runtime: Runtime, exchange: Exchange, model_id: str) -> None:
    models = await known_models(runtime)
    info = models.get(model_id)
    if info is None:
        # A bare upstream id (`gpt-4o`) is found under the provider that routing would pick.
        try:
            deployment = runtime.registry.resolve(model_id)
        except ModelNotFound:
            deployment = None
        if deployment is not None:
            info = models.get(f"{deployment.provider.name}/{deployment.model}")
            if info is not None:
                info = ModelInfo(model_id, owned_by=info.owned_by, created=info.created)
    if info is None:
        raise ModelNotFound(model=model_id, providers=", ".join(sorted(runtime.providers)) or "none")
    await exchange.respond_json(200, _anthropic_object(info) if _anthropic_client(exchange) else _object(info))
