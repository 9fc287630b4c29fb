"""Bedrock Runtime wire constants and mappings (BRT = botocore's bedrock-runtime service model,
`botocore/data/bedrock-runtime/2023-09-30/service-2.json`).

Only what the translators and the I/O class read is named here; shapes are plain JSON dicts.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

# `https://bedrock-runtime.{region}.amazonaws.com` unless the provider's `base_url` says otherwise.
DEFAULT_BASE_URL: Final = "https://bedrock-runtime.{region}.amazonaws.com"
SIGNING_NAME: Final = "bedrock"  # BRT metadata.signingName
JSON_TYPE: Final = "application/json"
EVENT_STREAM_TYPE: Final = "application/vnd.amazon.eventstream"
# What InvokeModel's Claude bodies carry instead of a `model` (Anthropic's Bedrock docs).
ANTHROPIC_VERSION: Final = "bedrock-2023-05-31"
# The bearer key's environment variable (Bedrock API keys), as the AWS SDKs read it.
BEARER_ENV: Final = "AWS_BEARER_TOKEN_BEDROCK"


def model_path(model: str, action: str) -> str:
    """`/model/{modelId}/{action}`: the id is one URI label, so an ARN's `:` and `/` are escaped
    (BRT: modelId is a `location: uri` member, percent-encoded like every label)."""
    return f"/model/{quote(model, safe='')}/{action}"


def is_claude(model: str) -> bool:
    """Claude model ids on Bedrock: `anthropic.claude-…`, or an inference profile over one
    (`us.anthropic.claude-…`, `global.anthropic.claude-…`), or an ARN naming one of those."""
    tail = model.rsplit("/", 1)[-1]
    return tail.startswith("anthropic.") or ".anthropic." in tail


def claude_name(model: str) -> str:
    """`us.anthropic.claude-sonnet-4-5-20250929-v1:0` -> `claude-sonnet-4-5-20250929-v1:0`, the name the
    Anthropic profiles (per-model sampling, thinking, structured output rules) match on."""
    tail = model.rsplit("/", 1)[-1]
    return tail.split("anthropic.", 1)[-1]


# BRT StopReason -> OpenAI finish_reason.
FINISH_REASONS: Final[dict[str, str]] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}

# BRT ImageFormat / DocumentFormat, by media type.
IMAGE_FORMATS: Final[dict[str, str]] = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
DOCUMENT_FORMATS: Final[dict[str, str]] = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}

# The tool that carries structured output: Converse has no response-format field, so a JSON schema
# becomes one forced tool whose input is the answer (as the Anthropic provider does on older Claude).
JSON_TOOL_NAME: Final = "babelgate_json_output"

# The OpenAI-side field carrying signed reasoning across turns: the Anthropic provider's convention,
# so a conversation can move between Claude on Anthropic and Claude on Bedrock.
REASONING_DETAILS: Final = "reasoning_details"
