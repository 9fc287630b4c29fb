"""Upstream API keys of one provider, handed out in turn, with the ones that should not be used
set aside: a key answered with 429 rests (for the upstream's `Retry-After`, or the cool-down),
a key answered with 401/403 is taken out until a reload. A request never goes to a resting or
rejected key while another is free; when none is, the least bad one is used (the upstream's
answer is then the client's).

`pick` answers the index of the key a request goes with; the request's sender (transport.send_checked)
keeps it, tells the pool the upstream's verdict on that key, and writes on the error whether another
key of the pool is free (`GatewayError.other_key_free`), which the router and the pipeline read.

`KeyPools` is one gateway's set of pools (what its providers were built with): where the cool-down is set,
where a rest another instance announced is learned, and who hears of a rest here (routing/shared.py). Two
gateways in one process each have their own, so that one's resting key is never the other's.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("babelgate.keys")
DEFAULT_COOLDOWN: Final = 60.0

RestListener = Callable[[str, str, float], None]  # (provider, key label, until)
# A key's headers with a request's read-only extra headers on top, by the two mappings' ids, holding both so that
# neither id is reused while it is here (transport.merged_headers).
MergedHeaders = dict[tuple[int, int], tuple[Mapping[str, str], Mapping[str, str], Mapping[str, str]]]


class KeyPool(Generic[T]):
    """Round-robin over prepared per-key values (usually ready-made header dicts). `labels` name
    the keys where they may be shown (`…abcd`, the last four characters)."""

    __slots__ = (
        "__weakref__",
        "_count",
        "_labels",
        "_next",
        "_rejected",
        "_resting",
        "cooldown",
        "items",
        "merged",
        "on_rest",
        "provider",
    )

    def __init__(self, items: Sequence[T], labels: Sequence[str] = (), *, provider: str = "") -> None:
        if not items:
            raise ValueError("a key pool needs at least one entry")
        self.items = tuple(items)  # by the index `pick` answers
        self._count = len(self.items)  # kept: `pick` runs per request
        self._labels = tuple(labels) or tuple(f"key {n + 1}" for n in range(len(items)))
        self._next = 0
        self._resting: dict[int, float] = {}  # index → wall-clock time it may be used again
        self._rejected: set[int] = set()
        self.cooldown = DEFAULT_COOLDOWN
        self.provider = provider
        self.on_rest: RestListener | None = None  # told of every key that starts to rest (KeyPools.adopt)
        self.merged: MergedHeaders = {}

    @classmethod
    def for_keys(cls, provider: str, keys: Sequence[str], make: Callable[[str], T], keyless: T) -> KeyPool[T]:
        """A pool of `make(key)` for each key, labelled by the keys' last characters; `keyless`
        alone when the provider has no key (a local server)."""
        if not keys:
            return cls([keyless], ["none"], provider=provider)
        return cls([make(key) for key in keys], [key_label(key) for key in keys], provider=provider)

    def pick(self) -> int:
        """The index of the next key to use (in `items`): in turn, a free one while there is one."""
        count = self._count
        if count == 1:
            return 0
        index = self._next
        if self._resting or self._rejected:
            index = self._free_from(index)
        self._next = (index + 1) % count
        return index

    def _free_from(self, start: int) -> int:
        now = time.time()
        count = len(self.items)
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
        usable = [i for i in range(len(self.items)) if i not in self._rejected]
        if all(resting.get(i, 0.0) > now for i in usable) and usable:
            return True
        # Rests that ended go, so that the usual question costs one look at an empty dict.
        for index in [i for i, until in resting.items() if until <= now]:
            del resting[index]
        return False

    def has_free(self) -> bool:
        """Whether a key may be used now that is not rejected and does not rest."""
        now = time.time()
        return any(i not in self._rejected and self._resting.get(i, 0.0) <= now for i in range(len(self.items)))

    def rest(self, index: int, seconds: float | None) -> None:
        until = time.time() + (seconds if seconds is not None and seconds > 0 else self.cooldown)
        self._resting[index] = max(until, self._resting.get(index, 0.0))
        if self.on_rest is not None:
            self.on_rest(self.provider, self._labels[index], until)
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
        return len(self.items)


class KeyPools:
    """One gateway's key pools: every pool of the providers it built (a reload's, and those of deployments with
    keys of their own), held weakly so that a runtime's pools go with it."""

    def __init__(self) -> None:
        self._pools: weakref.WeakSet[KeyPool[Any]] = weakref.WeakSet()
        self.rest_listeners: list[RestListener] = []  # told of every key of these pools that starts to rest

    def adopt(self, pool: KeyPool[Any]) -> None:
        pool.on_rest = self._rested
        self._pools.add(pool)

    def of(self, provider: str) -> list[KeyPool[Any]]:
        """The live pools of a provider (its own, its roads', and those of deployments with their own keys)."""
        return [pool for pool in list(self._pools) if pool.provider == provider]

    def _rested(self, provider: str, label: str, until: float) -> None:
        for listener in self.rest_listeners:
            listener(provider, label, until)


def key_label(key: str) -> str:
    """How a key is shown anywhere: its last four characters only."""
    return f"…{key[-4:]}" if len(key) > 8 else "…"
