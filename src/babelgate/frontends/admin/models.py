"""`GET /admin/models`: every routable model and alias, what serves it (its deployments, in the
router's order, with their health: circuit state, requests in flight, latency), where it falls back
to, what it can do and what it costs; then the providers' own state (as `/health` gives it).
Upstream listings (`provider/id`) are included as `kind: listed`; `?listed=false` leaves them out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from babelgate.errors import MethodNotAllowed
from babelgate.exchange import Exchange
from babelgate.frontends.admin.access import authorize
from babelgate.frontends.health import provider_states
from babelgate.frontends.models import described
from babelgate.routing.health import Health
from babelgate.routing.registry import ModelRoute

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


async def models(runtime: Runtime, exchange: Exchange) -> None:
    authorize(runtime, exchange)
    if exchange.scope["method"] not in ("GET", "HEAD"):
        raise MethodNotAllowed(method=exchange.scope["method"], path=exchange.scope["path"])
    query = parse_qs(exchange.scope.get("query_string", b"").decode())
    listed = query.get("listed", ["true"])[-1].lower() not in ("false", "0", "no")
    registry, health = runtime.registry, runtime.router.health
    extras = {name: extra for name, (_, extra) in (await described(runtime)).items()}
    data: list[dict[str, Any]] = []
    for name in registry.configured:
        data.append({"id": name, "kind": "model", **_route(registry.route(name), health), **extras.get(name, {})})
    for alias, target in registry.aliases.items():
        data.append({"id": alias, "kind": "alias", "target": target, **_route(registry.route(alias), health),
                     **extras.get(alias, {})})
    if listed:
        named = {entry["id"] for entry in data}
        for name, extra in extras.items():
            provider, _, model = name.partition("/")
            if name in named or provider not in runtime.providers:
                continue
            label = f"{provider}/{model}"
            data.append({"id": name, "kind": "listed", "deployments": [
                _deployment(label, provider, runtime.providers[provider].type, model, 1.0, health)],
                "fallbacks": [], "context_window_fallbacks": [], "content_policy_fallbacks": [], **extra})
    await exchange.respond_json(200, {"object": "list", "data": data, "providers": provider_states(runtime)})


def _route(route: ModelRoute, health: Health) -> dict[str, Any]:
    policy = route.policy
    return {
        "deployments": [_deployment(d.label, d.provider.name, d.provider.type, d.model, d.weight, health)
                        for d in route.deployments],
        "fallbacks": list(route.fallbacks),
        "context_window_fallbacks": list(route.context_window_fallbacks),
        "content_policy_fallbacks": list(route.content_policy_fallbacks),
        "routing": {"balance": policy.balance, "retries": policy.retries,
                    "circuit_failures": policy.circuit_failures, "circuit_cooldown_s": policy.circuit_cooldown},
        "cache_ttl_s": route.cache_ttl,
    }


def _deployment(label: str, provider: str, kind: str, model: str, weight: float, health: Health) -> dict[str, Any]:
    latency = health.latency(label)
    return {"provider": provider, "type": kind, "model": model, "label": label, "weight": weight,
            "circuit": health.circuit(label), "reopens_in_s": round(health.reopens_in(label), 3),
            "in_flight": health.in_flight(label), "latency_ms": round(latency * 1000, 3) if latency else None}
