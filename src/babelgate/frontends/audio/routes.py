"""Routes of the audio frontend."""

from __future__ import annotations

from babelgate.frontends.route import Route

ROUTES: dict[str, Route] = {}
