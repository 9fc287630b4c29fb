"""Mistral wire constants (MIS = `specs/mistral-openapi.yaml` + the `mistralai` SDK's models)."""

from __future__ import annotations

import re
from typing import Final

CHAT_PATH: Final = "/v1/chat/completions"
EMBEDDINGS_PATH: Final = "/v1/embeddings"
MODELS_PATH: Final = "/v1/models"
MODERATIONS_PATH: Final = "/v1/moderations"
DEFAULT_BASE_URL: Final = "https://api.mistral.ai"

# Top-level fields of MIS ChatCompletionRequest; anything else is answered with 422 extra_forbidden.
REQUEST_FIELDS: Final = frozenset(
    {
        "model",
        "messages",
        "temperature",
        "top_p",
        "max_tokens",
        "stream",
        "stop",
        "random_seed",
        "metadata",
        "response_format",
        "tools",
        "tool_choice",
        "presence_penalty",
        "frequency_penalty",
        "min_tokens",
        "repetition_penalty",
        "top_k",
        "logprobs",
        "top_logprobs",
        "prompt_logprobs",
        "top_prompt_logprobs",
        "n",
        "prediction",
        "parallel_tool_calls",
        "reasoning_effort",
        "prompt_mode",
        "guardrails",
        "prompt_cache_key",
        "service_tier",
        "safe_prompt",
    }
)

# The fields of each role's message in MIS (`SystemMessage`, `UserMessage`, `AssistantMessage`,
# `ToolMessage`), each with `additionalProperties: false`: another field is refused with 422.
MESSAGE_FIELDS: Final = {
    "system": frozenset({"role", "content"}),
    "user": frozenset({"role", "content"}),
    "assistant": frozenset({"role", "content", "tool_calls", "prefix"}),
    "tool": frozenset({"role", "content", "tool_call_id", "name"}),
}

# "Tool call id was call_… but must be a-z, A-Z, 0-9, with a length of 9".
TOOL_CALL_ID: Final = re.compile(r"[a-zA-Z0-9]{9}")

FINISH_REASONS: Final[dict[str, str]] = {
    "stop": "stop",
    "length": "length",
    "model_length": "length",
    "tool_calls": "tool_calls",
}

# What the gateway puts between a tool result and a user message, which Mistral refuses to see
# adjacent ("Unexpected role 'user' after role 'tool'").
BRIDGE_TEXT: Final = "Tool results received."

# Most inputs the gateway puts in one `/v1/embeddings` call. Mistral documents no number; past its
# limit it answers 400 "Too many inputs in request, split into more batches." (code 3210), seen at
# 257 inputs (rig-core's MAX_DOCUMENTS, verified against the live API) and reported at 512 elsewhere.
# Half the lowest observation leaves room for a lower limit on some deployment, and makes the other
# cap, about 16k tokens a request in all ("Too many tokens overall, split into more batches."), bite
# less often; a batch of long texts can still meet it, and that 400 is relayed.
EMBEDDING_BATCH_LIMIT: Final = 128

# docs/decisions.md, "Embedding sizes": embedding models with one vector size. A request for that size is accepted and
# `output_dimension` is not sent; any other size is refused. Other models (codestral-embed) take it.
FIXED_EMBEDDING_SIZES: Final[dict[str, int]] = {"mistral-embed": 1024, "mistral-embed-2312": 1024}

# Fields of MIS EmbeddingRequest a client may pass through besides model, input and dimensions
# (the API refuses unknown ones; `encoding_format` is not among them: the gateway always wants floats).
EMBEDDING_PASSTHROUGH: Final = ("metadata", "output_dtype")
