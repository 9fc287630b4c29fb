"""What a frontend declares for each of its paths: method, handler, metric name, and the error
format its clients read (OpenAI's by default; Anthropic and Ollama clients expect their own)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from babelgate.errors import GatewayError
from babelgate.exchange import Exchange
from babelgate.frontends.openai_errors import encode_error

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

Handler = Callable[["Runtime", Exchange], Awaitable[None]]
ErrorEncoder = Callable[[GatewayError, str], bytes]  # (error, language) → response body


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    handler: Handler
    name: str
    public: bool = False  # reachable without a gateway key
    errors: ErrorEncoder = encode_error
