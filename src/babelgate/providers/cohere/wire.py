"""Cohere wire constants (its v2 API: `cohere.ClientV2`)."""

from __future__ import annotations

from typing import Final

DEFAULT_BASE_URL: Final = "https://api.cohere.com"
RERANK_PATH: Final = "/v2/rerank"
