"""Mistral wire constants (MIS = `specs/mistral-openapi.yaml` + the `mistralai` SDK's models)."""

from __future__ import annotations

import re
from typing import Final

CHAT_PATH: Final = "/v1/chat/completions"
MODELS_PATH: Final = "/v1/models"
DEFAULT_BASE_URL: Final = "https://api.mistral.ai"

# Top-level fields of MIS ChatCompletionRequest; anything else is answered with 422 extra_forbidden.
REQUEST_FIELDS: Final = frozenset({
    "model", "messages", "temperature", "top_p", "max_tokens", "stream", "stop", "random_seed", "metadata",
    "response_format", "tools", "tool_choice", "presence_penalty", "frequency_penalty", "min_tokens",
    "repetition_penalty", "top_k", "logprobs", "top_logprobs", "prompt_logprobs", "top_prompt_logprobs", "n",
    "prediction", "parallel_tool_calls", "reasoning_effort", "prompt_mode", "guardrails", "prompt_cache_key",
    "service_tier", "safe_prompt",
})

# "Tool call id was call_… but must be a-z, A-Z, 0-9, with a length of 9".
TOOL_CALL_ID: Final = re.compile(r"[a-zA-Z0-9]{9}")

FINISH_REASONS: Final[dict[str, str]] = {"stop": "stop", "length": "length", "model_length": "length",
                                         "tool_calls": "tool_calls"}

# What the gateway puts between a tool result and a user message, which Mistral refuses to see
# adjacent ("Unexpected role 'user' after role 'tool'").
BRIDGE_TEXT: Final = "Tool results received."
