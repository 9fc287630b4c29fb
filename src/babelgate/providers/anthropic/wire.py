"""Anthropic Messages wire constants and mappings (ANT = the `anthropic` SDK's type modules).

Only what the translators read is named here; shapes are plain JSON dicts checked where used.
"""

from __future__ import annotations

from typing import Final

MESSAGES_PATH: Final = "/v1/messages"
MODELS_PATH: Final = "/v1/models?limit=1000"
DEFAULT_BASE_URL: Final = "https://api.anthropic.com"
DEFAULT_VERSION: Final = "2023-06-01"

# ANT stop_reason.py → OpenAI finish_reason.
FINISH_REASONS: Final[dict[str, str]] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    # A server-tool loop paused; the client may send the turn back to continue it.
    "pause_turn": "stop",
}

# Media types Anthropic accepts for base64 images (ANT base64_image_source_param.py).
IMAGE_MEDIA_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

# Top-level request fields of ANT MessageCreateParamsBase (plus the legacy sampling field `top_k`):
# a client may send these through the OpenAI body's extra fields and they are passed on as they are.
NATIVE_FIELDS: Final = frozenset(
    {
        "cache_control",
        "container",
        "diagnostics",
        "inference_geo",
        "output_config",
        "service_tier",
        "speed",
        "thinking",
        "top_k",
        "context_management",
        "mcp_servers",
    }
)

# The tool that carries structured output on models without native structured outputs.
JSON_TOOL_NAME: Final = "babelgate_json_output"

# The OpenAI-side field that carries Anthropic's signed thinking blocks through clients, in
# OpenRouter's `reasoning_details` convention (clients built for it echo it back unchanged).
REASONING_DETAILS: Final = "reasoning_details"
DETAIL_FORMAT: Final = "anthropic-claude-v1"
