"""Legacy OpenAI completions (`/v1/completions`)."""

from __future__ import annotations

from babelgate.frontends.route import Route

ROUTES: dict[str, Route] = {}
