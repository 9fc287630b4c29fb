"""`/v1/images/generations` and `/v1/images/edits` in OpenAI's format."""

from __future__ import annotations

from babelgate.frontends.route import Route

ROUTES: dict[str, Route] = {}
