"""`GET /admin/models`: every routable model and alias, what serves it (its deployments, in the
router's order, with their health: circuit state, requests in flight, latency), where it falls back
to, what it can do and what it costs; then the providers' own state (as `/health` gives it).
Upstream listings (`provider/id`) are included as `kind: listed`; `?listed=false` leaves them out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from babelgate.answer import Answer, json_answer
from babelgate.errors import MethodNotAllowed
from babelgate.exchange import Exchange
from babelgate.frontends.admin.access import authorize
from babelgate.frontends.health import provider_states
from babelgate.frontends.models import described
from babelgate.routing.health import Health
from babelgate.routing.registry import Deployment, ModelRoute

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


async def models(runtime: Runtime, exchange: Exchange) -> Answer:
    await authorize(runtime, exchange, "viewer")  # the catalog: no secret in it, every role may read it
    if exchange.scope["method"] not in ("GET", "HEAD"):
        raise MethodNotAllowed(method=exchange.scope["method"], path=exchange.scope["path"])
    query = parse_qs(exchange.scope.get("query_string", b"").decode())
    listed = query.get("listed", ["true"])[-1].lower() not in ("false", "0", "no")
    registry, health = runtime.registry, runtime.router.health
    extras = {name: extra for name, (_, extra) in (await described(runtime)).items()}
    kinds: dict[str, dict[str, Any]] = {name: {"kind": "model"} for name in registry.configured}
    kinds.update((alias, {"kind": "alias", "target": target}) for alias, target in registry.aliases.items())
    if listed:  # the providers' own listings, as `provider/id`: routed by prefix like any such name
        kinds.update((name, {"kind": "listed"}) for name in extras if name not in kinds)
    # Every name through the registry, as a request for it would go (deployments, policy, fallbacks).
    data = [
        {"id": name, **kind, **_route(registry.route(name), health), **extras.get(name, {})}
        for name, kind in kinds.items()
    ]
    return json_answer({"object": "list", "data": data, "providers": provider_states(runtime)})


def _route(route: ModelRoute, health: Health) -> dict[str, Any]:
    policy = route.policy
    return {
        "deployments": [_deployment(deployment, health) for deployment in route.deployments],
        "fallbacks": list(route.fallbacks),
        "context_window_fallbacks": list(route.context_window_fallbacks),
        "content_policy_fallbacks": list(route.content_policy_fallbacks),
        "routing": {
            "balance": policy.balance,
            "retries": policy.retries,
            "circuit_failures": policy.circuit_failures,
            "circuit_cooldown_s": policy.circuit_cooldown,
        },
        "cache_ttl_s": route.cache_ttl,
    }


def _deployment(deployment: Deployment, health: Health) -> dict[str, Any]:
    label = deployment.label
    latency = health.latency(label)
    return {
        "provider": deployment.provider.name,
        "type": deployment.provider.type,
        "model": deployment.model,
        "label": label,
        "weight": deployment.weight,
        "circuit": health.circuit(label),
        "reopens_in_s": round(health.reopens_in(label), 3),
        "in_flight": health.in_flight(label),
        "latency_ms": round(latency * 1000, 3) if latency else None,
    }
