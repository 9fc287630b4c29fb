"""Round-robin over upstream keys (providers/key_pool.py)."""

from __future__ import annotations

import pytest

from babelgate.providers.key_pool import KeyPool


def test_round_robin() -> None:
    pool = KeyPool(["a", "b", "c"])
    assert [pool.take() for _ in range(7)] == ["a", "b", "c", "a", "b", "c", "a"]
    assert len(pool) == 3


def test_single_entry() -> None:
    pool = KeyPool([{"Authorization": "Bearer k"}])
    assert pool.take() is pool.take()


def test_empty_pool_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^a key pool needs at least one entry$"):
        KeyPool([])
