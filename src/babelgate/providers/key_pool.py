"""Upstream API keys of one provider, handed out in turn, with the ones that should not be used
set aside: a key answered with 429 rests (for the upstream's `Retry-After`, or the cool-down),
a key answered with 401/403 is taken out until a reload. A request never goes to a resting or
rejected key while another is free; when none is, the least bad one is used (the upstream's
answer is then the client's).

`take` notes, in a context variable, which pool and key the current task last used, so that
transport.send_checked can report the upstream's verdict on that key without every provider
threading the key through, and the router can ask whether another key is free.
"""

from __future__ import annotations

import contextvars
import logging
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Final, Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("babelgate.keys")
DEFAULT_COOLDOWN: Final = 60.0

# Told of every key that starts to rest, (provider, label, until): routing/shared.py shares it.
rest_listeners: list[Callable[[str, str, float], None]] = []
_pools: weakref.WeakSet[KeyPool[Any]] = weakref.WeakSet()  # every live pool, for /health and shared state
_last: contextvars.ContextVar[tuple[KeyPool[Any], int] | None] = contextvars.ContextVar("babelgate_key", default=None)


class KeyPool(Generic[T]):
    """Round-robin over prepared per-key values (usually ready-made header dicts). `labels` name
    the keys where they may be shown (`…abcd`, the last four characters)."""

    __slots__ = ("__weakref__", "_items", "_labels", "_next", "_rejected", "_resting", "cooldown", "provider")

    def __init__(self, items: Sequence[T], labels: Sequence[str] = (), *, provider: str = "") -> None:
        if not items:
            raise ValueError("a key pool needs at least one entry")
        self._items = tuple(items)
        self._labels = tuple(labels) or tuple(f"key {n + 1}" for n in range(len(items)))
        self._next = 0
        self._resting: dict[int, float] = {}  # index → wall-clock time it may be used again
        self._rejected: set[int] = set()
        self.cooldown = DEFAULT_COOLDOWN
        self.provider = provider
        _pools.add(self)

    @classmethod
    def for_keys(cls, provider: str, keys: Sequence[str], make: Callable[[str], T], keyless: T) -> KeyPool[T]:
        """A pool of `make(key)` for each key, labelled by the keys' last characters; `keyless`
        alone when the provider has no key (a local server)."""
        if not keys:
            return cls([keyless], ["none"], provider=provider)
        return cls([make(key) for key in keys], [key_label(key) for key in keys], provider=provider)

    def take(self) -> T:
        items = self._items
        if len(items) == 1:
            _last.set((self, 0))
            return items[0]
        index = self._next
        if self._resting or self._rejected:
            index = self._free_from(index)
        self._next = (index + 1) % len(items)
        _last.set((self, index))
        return items[index]

    def _free_from(self, start: int) -> int:
        now = time.time()
        count = len(self._items)
        for step in range(count):
            index = (start + step) % count
            if index in self._rejected:
                continue
            until = self._resting.get(index)
            if until is None or until <= now:
                self._resting.pop(index, None)
                return index
        # None free: the one whose rest ends first (a rejected key only when all are).
        usable = [i for i in range(count) if i not in self._rejected] or list(range(count))
        return min(usable, key=lambda i: self._resting.get(i, 0.0))

    def all_resting(self) -> bool:
        """Whether every key that may be used rests after a 429 (the router then prefers another
        deployment). Rejected keys are not resting: a pool of only those is for its 401s to answer."""
        resting = self._resting
        if not resting:
            return False
        now = time.time()
        usable = [i for i in range(len(self._items)) if i not in self._rejected]
        if all(resting.get(i, 0.0) > now for i in usable) and usable:
            return True
        # Rests that ended go, so that the usual question costs one look at an empty dict.
        for index in [i for i, until in resting.items() if until <= now]:
            del resting[index]
        return False

    def has_free(self) -> bool:
        now = time.time()
        return any(i not in self._rejected and self._resting.get(i, 0.0) <= now for i in range(len(self._items)))

    def rest(self, index: int, seconds: float | None) -> None:
        until = time.time() + (seconds if seconds is not None and seconds > 0 else self.cooldown)
        self._resting[index] = max(until, self._resting.get(index, 0.0))
        for listener in rest_listeners:
            listener(self.provider, self._labels[index], until)
        log.info(
            "upstream key %s of provider %s rests %.1f s after a 429",
            self._labels[index],
            self.provider,
            until - time.time(),
        )

    def reject(self, index: int) -> None:
        if index not in self._rejected:
            self._rejected.add(index)
            log.warning(
                "upstream key %s of provider %s was rejected (401/403): taken out until a reload",
                self._labels[index],
                self.provider,
            )

    def learn_rest(self, label: str, until: float) -> None:
        """Another gateway instance rested this key (routing/shared.py)."""
        if label in self._labels:
            index = self._labels.index(label)
            self._resting[index] = max(until, self._resting.get(index, 0.0))

    def states(self) -> list[dict[str, Any]]:
        """Each key's label and state (`ok`, `cooling_down`, `rejected`), for /health."""
        now = time.time()
        return [
            {
                "key": label,
                "state": "rejected"
                if i in self._rejected
                else "cooling_down"
                if self._resting.get(i, 0.0) > now
                else "ok",
            }
            for i, label in enumerate(self._labels)
        ]

    def __len__(self) -> int:
        return len(self._items)


def pools_of(provider: str) -> list[KeyPool[Any]]:
    """The live key pools of a provider (its own, and those of deployments with their own keys)."""
    return [pool for pool in list(_pools) if pool.provider == provider]


def key_label(key: str) -> str:
    """How a key is shown anywhere: its last four characters only."""
    return f"…{key[-4:]}" if len(key) > 8 else "…"


def report_rate_limited(retry_after: float | None) -> tuple[str, str] | None:
    """The current task's last key rests; returns (provider, label) of it."""
    last = _last.get()
    if last is None:
        return None
    pool, index = last
    pool.rest(index, retry_after)
    return pool.provider, pool._labels[index]


def report_rejected() -> None:
    last = _last.get()
    if last is not None:
        last[0].reject(last[1])


def last_pool_has_free() -> bool:
    """Whether the pool of the key this task used last has a key free now (another, or this one
    rested no more)."""
    last = _last.get()
    return last is not None and len(last[0]) > 1 and last[0].has_free()
