"""The Gemini API's shapes and tables as its clients see them (GEM = the `google-genai` SDK's types.py;
ai.google.dev/api): roles, finish reasons, error statuses, the methods of `/models/{model}:method`."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

from babelgate.sealing import PREFIX as SEALED_PREFIX

JSON = dict[str, Any]

# The `:method` suffixes of `POST /v1beta/models/{model}:method` this frontend serves.
GENERATE: Final = "generateContent"
STREAM: Final = "streamGenerateContent"
COUNT_TOKENS: Final = "countTokens"
EMBED: Final = "embedContent"
BATCH_EMBED: Final = "batchEmbedContents"
METHODS: Final = frozenset({GENERATE, STREAM, COUNT_TOKENS, EMBED, BATCH_EMBED})
# The route's name for each method (`gemini.generateContent`): made once, not per request.
ROUTE_NAMES: Final = {name: f"gemini.{name}" for name in METHODS}


def split_method(rest: str) -> tuple[str, str] | None:
    """`{model}:method` as (`{model}`, `method`), or None without a `:method` suffix of letters. The model may
    hold slashes and colons (`openai/gpt-4o-mini`); the method, after the last colon, never does. Three string
    methods in C, where a regular expression's search tried every position of the path."""
    model, colon, method = rest.rpartition(":")
    if not colon or not method.isalpha() or not method.isascii():
        return None
    return model, method


# Canonical finish_reason → GEM FinishReason (a turn that called tools ends with STOP, as Gemini's do).
FINISH_REASONS: Final[dict[str, str]] = {
    "stop": "STOP",
    "tool_calls": "STOP",
    "function_call": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
}
DEFAULT_FINISH_REASON: Final = "STOP"

# HTTP status → google.rpc.Code name, the `status` of Google's error body (GEM errors.py reads it).
STATUSES: Final[dict[int, str]] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def status_name(status: int) -> str:
    return STATUSES.get(status, "INVALID_ARGUMENT" if status < 500 else "INTERNAL")


# thinkingConfig.thinkingLevel → reasoning_effort (GEM ThinkingLevel).
THINKING_LEVELS: Final[dict[str, str]] = {
    "MINIMAL": "minimal",
    "LOW": "low",
    "MEDIUM": "medium",
    "HIGH": "high",
}


# Google's OpenAPI subset (GEM Schema) → JSON Schema: upper-case type names.
SCHEMA_TYPES: Final[dict[str, str]] = {
    "STRING": "string",
    "NUMBER": "number",
    "INTEGER": "integer",
    "BOOLEAN": "boolean",
    "ARRAY": "array",
    "OBJECT": "object",
    "NULL": "null",
}
# Google-only tools → the hosted tool (Responses type) the one call path maps to the provider's own or drops
# (providers/hosted_tools.py); `googleSearchRetrieval` is Gemini 1.5's spelling of the search tool.
HOSTED_TOOLS: Final[dict[str, str]] = {
    "googleSearch": "web_search",
    "googleSearchRetrieval": "web_search",
    "codeExecution": "code_interpreter",
    "urlContext": "url_context",
}


# A thoughtSignature is bytes, base64 on the wire (GEM `Part.thought_signature`; its clients decode and
# re-encode it): a sealed token (sealing.py) travels base64-encoded, and so starts with these characters
# (the first 30 bits of "bg1."), which a Gemini signature does with a chance of one in 64**5.
SEALED_SIGNATURE_MARK: Final = base64.b64encode(SEALED_PREFIX.encode()).decode()[:5]


def signature_of(token: str) -> str:
    """A sealed token as a thoughtSignature."""
    return base64.b64encode(token.encode()).decode()


def token_of(signature: str) -> str | None:
    """The sealed token inside a thoughtSignature, or None for any other signature."""
    if not signature.startswith(SEALED_SIGNATURE_MARK):
        return None
    try:
        return base64.b64decode(signature, validate=True).decode("ascii")
    except (binascii.Error, ValueError):
        return None
