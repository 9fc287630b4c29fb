"""`GET /health`: status, version, uptime, where the gateway keeps its state (`store`: a path, or a URL
without its password) and whether it requires a key (`access`), each enabled provider's state and keys (by
their last four characters only), and the deployments whose circuit is open (no secrets). The status is
`degraded` when a provider's credentials were found wrong at load (`Runtime.credential_problems`): the others
still serve."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

from babelgate.answer import Answer, json_answer
from babelgate.exchange import Exchange
from babelgate.frontends.route import Frontend, Route
from babelgate.store.open import store_address

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


async def health(runtime: Runtime, exchange: Exchange) -> Answer:
    return json_answer(
        {
            "status": "degraded" if runtime.credential_problems else "ok",
            "version": runtime.version,
            "uptime_s": round(time.monotonic() - runtime.started_monotonic, 3),
            # Every gateway with the same store shares its virtual keys, users and usage ledger.
            "store": store_address(runtime.config.store.url),
            "access": runtime.keys.mode().kind,  # open, keys_required, no_live_keys, or unknown (store unread)
            "providers": provider_states(runtime),
            "circuits": runtime.router.health.snapshot(),
            **({"mcp_servers": mcp_states(runtime)} if runtime.mcp_servers is not None else {}),
        },
    )


def mcp_states(runtime: Runtime) -> list[dict[str, Any]]:
    """Each MCP server's name, state and last error (its tools are the admin API's to show)."""
    assert runtime.mcp_servers is not None
    return [{"name": s["name"], "state": s["state"], "error": s["error"]} for s in runtime.mcp_servers.status()]


def provider_states(runtime: Runtime) -> list[dict[str, Any]]:
    """Each provider's name, type and state (ok, cooling_down: every key resting, unreachable,
    credentials: what `problem` says was found wrong with them at load), and its keys' states by their
    last four characters (`/health`, `/admin/models`)."""
    providers = []
    for name, provider in runtime.providers.items():
        keys = key_states(runtime, name)
        problem = runtime.credential_problems.get(name)
        if problem is not None:
            state = "credentials"
        elif not runtime.catalog.reachable(name):
            state = "unreachable"
        elif keys and all(key["state"] != "ok" for key in keys):
            state = "cooling_down"
        else:
            state = "ok"
        entry: dict[str, Any] = {"name": name, "type": provider.type, "state": state}
        if problem is not None:
            entry["problem"] = problem
        if keys:
            entry["keys"] = keys
        providers.append(entry)
    return providers


# Of a key's states in several pools, the one shown: the worst.
_SEVERITY: Final = {"ok": 0, "cooling_down": 1, "rejected": 2}


def key_states(runtime: Runtime, provider: str) -> list[dict[str, Any]]:
    """Each key of the provider once, though several pools hold it: a deployment with its own timeouts gets a
    provider of its own (registry.py) with the same keys, and so a pool of its own (/health listed each key
    twice). The worst state any pool holds for a key is shown: a 429 seen through one pool is the upstream's
    word on the key. Only this gateway's pools: another app in the same process has its own."""
    merged: dict[str, str] = {}
    pools = {id(p.key_pool): p.key_pool for p in runtime.registry.providers_named(provider)}
    for pool in pools.values():
        for key in pool.states():
            label, state = key["key"], key["state"]
            if label != "none" and _SEVERITY[state] >= _SEVERITY[merged.get(label, "ok")]:
                merged[label] = state
    return [{"key": label, "state": state} for label, state in merged.items()]


FRONTEND: Final[Frontend] = Frontend(routes={"/health": Route("GET", health, "health", public=True)})
