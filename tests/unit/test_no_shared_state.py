"""Two gateways in one process share nothing: no module of babelgate keeps, at module or class level, an object
either gateway made (its providers, key pools, TLS contexts, stores, tasks…). The registries that did are gone;
what stays at module level is code's, or a bounded cache of pure computations (each says why where it stays)."""

from __future__ import annotations

import asyncio
import gc
import importlib
import sys
import types
import weakref
from collections import deque
from collections.abc import Iterator
from typing import Any

from babelgate import create_app
from babelgate.config import Config
from babelgate.providers.key_pool import KeyPool

# Where per-gateway state was kept once, and by what name.
GONE = (
    ("babelgate.providers.key_pool", "_pools"),  # every live key pool
    ("babelgate.providers.key_pool", "rest_listeners"),  # who heard of any gateway's resting key
    ("babelgate.providers.key_pool", "pools_of"),
    ("babelgate.providers.transport", "_MERGED"),  # merged header sets, API keys in them
    ("babelgate.http.tls", "_contexts"),  # TLS contexts, a client certificate's key in them
    ("babelgate.http.tls", "tls_context"),
    ("babelgate.mcp.servers", "_background"),  # MCP connections closing
)


def _config(name: str, keys: tuple[str, ...], cooldown: float, rpm: int) -> Config:
    return Config.model_validate(
        {
            "store": {"url": "memory"},
            "server": {"master_key": f"master-key-of-{name}-0123456789"},
            "providers": {
                "pooled": {
                    "type": "openai",
                    "base_url": f"https://{name}.invalid/v1",
                    "api_keys": keys,
                    "tls": {"verify": False},
                    "proxy": "none",
                },
                f"only-{name}": {"type": "anthropic", "base_url": f"https://{name}.invalid", "api_key": keys[0]},
            },
            "models": {"chat": {"provider": "pooled", "model": "gpt-4o-mini", "limits": {"rpm": rpm}}},
            "routing": {"key_cooldown": cooldown},
            "mcp_servers": [{"name": f"tools-{name}", "url": f"https://{name}.invalid/mcp"}],
        }
    )


def _owned(roots: list[Any], before: set[int]) -> set[int]:
    """The ids of every object reachable from `roots` that did not exist before them (what was there already is
    code's or a module's, whoever else refers to it). Only objects the collector tracks count (containers and
    instances: what has an identity to share); tuples are looked through, not counted: equal immutable data (a
    settings key) may be anyone's."""
    found: set[int] = set()
    stack = list(roots)
    while stack:
        item = stack.pop()
        if id(item) in found or id(item) in before or isinstance(item, (type, types.ModuleType)):
            continue
        if gc.is_tracked(item) and not isinstance(item, (tuple, frozenset)):
            found.add(id(item))
        stack.extend(_contents(item))
    return found


def _contents(item: Any) -> Iterator[Any]:
    if isinstance(item, (weakref.WeakSet, weakref.WeakKeyDictionary, weakref.WeakValueDictionary)):
        yield from (list(item.items()) if not isinstance(item, weakref.WeakSet) else list(item))
        return
    yield from gc.get_referents(item)


def _module_state() -> Iterator[tuple[str, Any]]:
    """Every value babelgate keeps at module or class level, with where it is."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("babelgate") or module is None:
            continue
        for attribute, value in list(vars(module).items()):
            if attribute.startswith("__"):
                continue
            yield f"{name}.{attribute}", value
            if isinstance(value, type) and value.__module__ == name:
                for class_attribute, class_value in list(vars(value).items()):
                    yield f"{name}.{attribute}.{class_attribute}", class_value


def _holders(owned: set[int]) -> list[str]:
    """Where module or class state refers to an object in `owned`, through containers and objects alike (not into
    functions, classes or modules: those are code)."""
    found = []
    for where, value in _module_state():
        seen: set[int] = set()
        stack = [value]
        while stack:
            item = stack.pop()
            if id(item) in seen or isinstance(item, (type, types.ModuleType, types.FunctionType)):
                continue
            seen.add(id(item))
            if id(item) in owned:
                found.append(f"{where}: {type(item).__name__}")
                break
            if (
                isinstance(item, (dict, list, set, deque, tuple, frozenset))
                or hasattr(item, "__dict__")
                or (hasattr(type(item), "__slots__"))
            ):
                stack.extend(_contents(item))
    return found


def test_the_registries_of_every_gateway_are_gone() -> None:
    for module, name in GONE:
        assert not hasattr(importlib.import_module(module), name), f"{module}.{name}"


async def test_two_gateways_leave_nothing_of_theirs_at_module_level() -> None:
    # What a gateway imports on demand (the MCP SDK, the endpoint) is loaded first: module state made then is code's.
    warm = create_app(_config("warm", ("sk-warm-key-one-FFFF",), 1, 1))
    await warm.aclose()  # at once: what it had begun to tell its (no) MCP clients is dropped quietly
    del warm
    gc.collect()
    existing = gc.get_objects()  # held: no id of theirs is reused by a gateway's object
    before = {id(item) for item in existing}
    first = create_app(_config("first", ("sk-first-key-one-AAAA", "sk-first-key-two-BBBB"), 30, 1))
    second = create_app(_config("second", ("sk-second-key-one-CCCC", "sk-second-key-two-DDDD"), 0.5, 100))
    try:
        for gateway in (first, second):
            gateway._start(lifespan=False)
        first.swap(_config("first", ("sk-first-key-three-EEEE",), 5, 2))
        pool: KeyPool[Any] = first.runtime.providers["pooled"].key_pool
        pool.rest(0, 30)  # heard by its own gateway only
        await asyncio.sleep(0)  # what the reload replaced starts closing
        owned = _owned([first, second], before)
        assert len(owned) > 500  # the walk reached into both gateways
        assert _holders(owned) == []
        # And each gateway's pools are its own: the first's cool-down was never set on the second's.
        assert first.runtime.providers["pooled"].key_pool.cooldown == 5
        assert all(p.cooldown == 0.5 for p in second.upstreams.key_pools.of("pooled"))
        assert second.upstreams.key_pools.of("pooled")[0] not in first.upstreams.key_pools.of("pooled")
    finally:
        await first.aclose()
        await second.aclose()
        del existing
