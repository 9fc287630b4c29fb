"""Gemini wire constants and mappings (GEM = the `google-genai` SDK: types.py, models.py)."""

from __future__ import annotations

from typing import Final

DEFAULT_BASE_URL: Final = "https://generativelanguage.googleapis.com"
API_VERSION: Final = "v1beta"
MODELS_PATH: Final = "/v1beta/models?pageSize=1000"
# The Live API's WebSocket (GEM live.py `AsyncLive.connect`: the API key as the `x-goog-api-key` header).
LIVE_PATH: Final = f"/ws/google.ai.generativelanguage.{API_VERSION}.GenerativeService.BidiGenerateContent"
LIVE_MODELS: Final = "models/"  # GEM t_model: the setup's model is `models/{model}`

# GEM FinishReason → OpenAI finish_reason ("STOP" becomes "tool_calls" when the turn calls tools).
FINISH_REASONS: Final[dict[str, str]] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "CONTINUATION": "length",  # "reached the per-request token limit"
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "LANGUAGE": "stop",
    "OTHER": "stop",
    "MALFORMED_FUNCTION_CALL": "stop",
    "UNEXPECTED_TOOL_CALL": "stop",
    "TOO_MANY_TOOL_CALLS": "stop",
    "MISSING_THOUGHT_SIGNATURE": "stop",
    "NO_IMAGE": "stop",
    "IMAGE_OTHER": "stop",
    "FINISH_REASON_UNSPECIFIED": "stop",
}

# OpenAI input_audio formats → MIME types.
AUDIO_MIME_TYPES: Final[dict[str, str]] = {
    "wav": "audio/wav",
    "mp3": "audio/mp3",
    "flac": "audio/flac",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "pcm16": "audio/pcm",
    "webm": "audio/webm",
    "m4a": "audio/mp4",
}

# Ids the gateway mints when Gemini (2.5 and older) returns function calls without one; they
# are never sent upstream (docs/decisions.md, "Gemini's function-call ids").
MINTED_ID_PREFIX: Final = "call_bg"

# Top-level request fields a client may pass through the OpenAI body's extra fields.
# Google's documented value for a function call whose real thought signature was lost.
SIGNATURE_PLACEHOLDER: Final = "skip_thought_signature_validator"
NATIVE_FIELDS: Final = frozenset({"safetySettings", "cachedContent", "labels", "toolConfig"})

# Embeddings go through `batchEmbedContents` (what GEM `embed_content` calls for the Gemini API), one
# request per input, so the gateway gets one vector per input.
EMBED_METHOD: Final = "batchEmbedContents"
# The API's 400 past it: "BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch"
# (langchain-ai/langchainjs#4491, weaviate/weaviate#11277, vercel/ai#16575).
EMBEDDING_BATCH_LIMIT: Final = 100
# The Gemini API's TaskType (ai.google.dev/api/embeddings); GEM types `task_type` as a plain string.
TASK_TYPES: Final = (
    "TASK_TYPE_UNSPECIFIED",
    "RETRIEVAL_QUERY",
    "RETRIEVAL_DOCUMENT",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
)
