"""The base of every configuration section: unknown fields refused (a typo is an error, not a silent default),
values frozen once loaded."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
