"""Routes of the Anthropic Messages API frontend."""

from __future__ import annotations

from babelgate.frontends.route import Route

ROUTES: dict[str, Route] = {}
