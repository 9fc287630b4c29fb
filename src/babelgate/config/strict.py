"""The base of every configuration section: unknown fields refused (a typo is an error, not a silent default),
values frozen once loaded."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def as_list(value: Any) -> list[Any]:
    """One value or several: a lone string must never be spread into its characters."""
    return [value] if isinstance(value, str) else list(value)
