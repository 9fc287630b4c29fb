"""The Gemini Live API's WebSocket paths (`BidiGenerateContent`, and its `Constrained` form for ephemeral
tokens, in both API versions google-genai speaks): one connection is one session (door.py)."""

from __future__ import annotations

from typing import Final

from babelgate.frontends.gemini_live.door import PATHS, serve_gemini_live
from babelgate.frontends.route import Frontend

FRONTEND: Final[Frontend] = Frontend(routes={}, websocket_paths=PATHS, websocket=serve_gemini_live)
