"""Canonical stream chunk: OpenAI `chat.completion.chunk` semantics as typed values.

Role on the first delta, content and reasoning deltas, tool-call deltas keyed by `index` (id and
name only on a call's first delta), a finish reason, and an optional usage-only final chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from babelgate.schema.chat import JSON, FinishReason, Usage


@dataclass(slots=True)
class ToolCallDelta:
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str | None = None
    type: str | None = None


@dataclass(slots=True)
class Delta:
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    extra: JSON = field(default_factory=dict)


@dataclass(slots=True)
class ChunkChoice:
    index: int
    delta: Delta
    finish_reason: FinishReason | None = None
    logprobs: JSON | None = None


@dataclass(slots=True)
class ChatChunk:
    id: str
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
