"""Seeded mutation of valid request bodies, for the fuzz tests that prove bad input is refused by
name and never crashes a road: every path into a body, and a copy with one path set to a value."""

from __future__ import annotations

import copy
from typing import Any


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


def mutate(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy with `path` set to `value`; `body` itself when an earlier mutation removed the path."""
    mutated = copy.deepcopy(body)
    target = mutated
    try:
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    except (KeyError, IndexError, TypeError):
        return body
    return mutated
