"""Canonical chat request and response: OpenAI Chat Completions semantics as typed values.

Every frontend decodes into these and every provider translates from them, so N frontends and
M providers need N + M translators. Fields we do not model travel in `extra` untouched.
This package imports nothing else from babelgate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]
JSON = dict[str, Any]


@dataclass(slots=True)
class TextPart:
    text: str
    extra: JSON = field(default_factory=dict)


@dataclass(slots=True)
class ImagePart:
    url: str  # https URL or data URI
    detail: str | None = None
    extra: JSON = field(default_factory=dict)


@dataclass(slots=True)
class AudioPart:
    data: str  # base64
    format: str
    extra: JSON = field(default_factory=dict)


@dataclass(slots=True)
class FilePart:
    file_data: str | None = None  # data URI or base64
    file_id: str | None = None
    filename: str | None = None
    extra: JSON = field(default_factory=dict)


@dataclass(slots=True)
class RefusalPart:
    refusal: str
    extra: JSON = field(default_factory=dict)


ContentPart = TextPart | ImagePart | AudioPart | FilePart | RefusalPart


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, exactly as the model produced it
    type: str = "function"
    extra: JSON = field(default_factory=dict)


@dataclass(slots=True)
class Message:
    role: Role
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None
    extra: JSON = field(default_factory=dict)


@dataclass(slots=True)
class Tool:
    """A function tool (type "function") or a free-form custom tool (type "custom")."""

    name: str
    type: str = "function"
    description: str | None = None
    parameters: JSON | None = None
    strict: bool | None = None
    extra: JSON = field(default_factory=dict)


@dataclass(slots=True)
class NamedToolChoice:
    name: str
    type: str = "function"


ToolChoice = Literal["auto", "none", "required"] | NamedToolChoice | JSON


@dataclass(slots=True)
class ResponseFormat:
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema: JSON | None = None
    strict: bool | None = None
    description: str | None = None


@dataclass(slots=True)
class ChatRequest:
    model: str
    messages: list[Message]
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    temperature: float | None = None
    top_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    stop: list[str] | None = None
    n: int | None = None
    seed: int | None = None
    # One field whichever the client sent; `max_tokens_field` remembers which, so that an
    # OpenAI upstream receives the name the client chose.
    max_tokens: int | None = None
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    stream: bool = False
    include_usage: bool = False
    reasoning_effort: str | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    extra: JSON = field(default_factory=dict)


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    extra: JSON = field(default_factory=dict)
    # Audio tokens among the prompt tokens not read from a cache, and among the completion tokens (a Realtime
    # session's, an audio chat's): priced at a model's audio rates where it has them.
    audio_prompt_tokens: int | None = None
    audio_completion_tokens: int | None = None
    # Searches billed by the search (a rerank on Cohere's price list: one unit is a query over up to 100 documents).
    search_units: int | None = None


@dataclass(slots=True)
class AssistantMessage:
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning_content: str | None = None
    refusal: str | None = None
    images: list[JSON] | None = None
    audio: JSON | None = None
    extra: JSON = field(default_factory=dict)


@dataclass(slots=True)
class Choice:
    index: int
    message: AssistantMessage
    finish_reason: FinishReason | None
    logprobs: JSON | None = None


@dataclass(slots=True)
class ChatResponse:
    id: str
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
    extra: JSON = field(default_factory=dict)
