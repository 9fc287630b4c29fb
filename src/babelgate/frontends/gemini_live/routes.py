"""The Gemini Live API's WebSocket paths (`BidiGenerateContent`, and its `Constrained` form for ephemeral
tokens, in both API versions google-genai speaks): one connection is one session (door.py, loaded at the first)."""

from __future__ import annotations

from typing import Final

from babelgate.frontends.later import later_websocket
from babelgate.frontends.route import Frontend

PATHS: Final = frozenset(
    f"/ws/google.ai.generativelanguage.{version}.GenerativeService.{method}"
    for version in ("v1beta", "v1alpha")
    for method in ("BidiGenerateContent", "BidiGenerateContentConstrained")
)

# The door and the Realtime machinery it shares load at the first connection (frontends/later.py).
FRONTEND: Final[Frontend] = Frontend(
    routes={},
    websocket_paths=PATHS,
    websocket=later_websocket("babelgate.frontends.gemini_live.door", "serve_gemini_live"),
)
