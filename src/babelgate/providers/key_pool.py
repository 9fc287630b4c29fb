"""Upstream API keys of one provider, handed out in turn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class KeyPool(Generic[T]):
    """Round-robin over prepared per-key values (usually ready-made header dicts)."""

    __slots__ = ("_items", "_next")

    def __init__(self, items: Sequence[T]) -> None:
        if not items:
            raise ValueError("a key pool needs at least one entry")
        self._items = tuple(items)
        self._next = 0

    def take(self) -> T:
        items = self._items
        if len(items) == 1:
            return items[0]
        index = self._next
        self._next = (index + 1) % len(items)
        return items[index]

    def __len__(self) -> int:
        return len(self._items)
