"""One logged exchange, as the log keeps it and the exporters send it.

The messages follow OpenTelemetry's GenAI semantic conventions (`gen_ai.input.messages`,
`gen_ai.output.messages`, `gen_ai.system_instructions`), whatever door the request came through: a message is
`{"role": …, "parts": [...]}` (an output message adds `finish_reason`), a part one of
`{"type": "text", "content": …}`, `{"type": "tool_call", "id", "name", "arguments"}`,
`{"type": "tool_call_response", "id", "response"}`, `{"type": "reasoning", "content"}`,
`{"type": "blob", "modality", "mime_type", "content"}` (base64) or `{"type": "uri", "modality", "uri"}`. So the
dashboard reads one shape, and an OTLP backend gets the attributes it expects without another translation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

Message = dict[str, Any]
Part = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Exchange:
    """A request and its answer, as the model saw them (after the masking guardrails): never an upstream
    credential, and never more than the log's `max_bytes` of content (`truncated` says when it was cut)."""

    request_id: str
    started: float  # Unix seconds
    route: str  # the door: "chat.completions", "responses", "messages", …
    model: str  # the public model the caller named
    provider: str  # the configured provider that served it ("" when none did)
    upstream_model: str
    status: int
    stream: bool
    elapsed: float  # seconds
    ttft: float | None = None
    error_code: str | None = None
    key_id: str | None = None
    team: str | None = None
    user: str | None = None
    end_user: str | None = None
    session: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    guardrails: dict[str, str] = field(default_factory=dict)  # name → action, as in the ledger row
    system: list[Part] = field(default_factory=list)
    input: list[Message] = field(default_factory=list)
    output: list[Message] = field(default_factory=list)
    truncated: bool = False


class ExchangeSink(Protocol):
    """Where logged exchanges go: the store's log, each exporter. `take` is called off the request path, with
    exchanges already built; it never waits on I/O (a sink queues, bounded, and writes in its own task)."""

    def take(self, exchanges: list[Exchange]) -> None: ...

    async def aclose(self) -> None: ...
