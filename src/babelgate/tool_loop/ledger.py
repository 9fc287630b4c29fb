"""The loop's accounting, under the request's id: a ledger row per model turn (route `<route>.turn`) and
one per MCP tool call (route `mcp.tool_call`, with the `server`, `tool`, `bytes_in` and `bytes_out`
columns the `/mcp` endpoint's calls fill too, so `/admin/usage?group_by=server,tool` counts both), and
the MCP call metrics.

The request's own row keeps the whole request's usage and cost, which is what budgets settle and what
the client's cost header says; a turn row names its tokens in its message and leaves the token columns
at 0, so sums over the ledger count every token once."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from babelgate.providers.base import CallNotes
from babelgate.store.ledger_table import MESSAGE_CHARS, row_of
from babelgate.tool_loop.loop import Accounting, ToolCalled

if TYPE_CHECKING:
    from babelgate.call import Call
    from babelgate.runtime import Runtime


class LedgerAccounting(Accounting):
    def __init__(self, runtime: Runtime, call: Call, provider: str, model: str, *, streamed: bool) -> None:
        self.runtime = runtime
        self.call = call
        self.provider = provider
        self.model = model
        self.streamed = streamed

    def _row(
        self, route: str, status: int, elapsed: float, error: str | None, message: str | None, **more: Any
    ) -> None:
        """A row of its own (`record_row`, by column name: it does not depend on the order of a request's
        entry), under the request's id."""
        call = self.call
        key = call.virtual_key
        ledger = self.runtime.ledger
        ledger.record_row(
            row_of(
                {
                    "ts": time.time(),
                    "request_id": call.request_id.decode(),
                    "key_id": call.key_id,
                    "team": key.team if key is not None else None,
                    "route": route,
                    "model_requested": call.requested_model or None,
                    "attempts": 1,
                    "status": status,
                    "error_code": error,
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                    "cached_tokens": 0,
                    "reasoning_tokens": 0,
                    "latency_ms": round(elapsed * 1000, 3),
                    "stream": self.streamed,
                    "cache_hit": False,
                    "error_message": ledger.scrub(message)[:MESSAGE_CHARS] if message is not None else None,
                    **more,
                }
            )
        )

    def turn(self, number: int, notes: CallNotes, status: int, elapsed: float) -> None:
        usage = notes.usage
        tokens = f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens" if usage else "no usage"
        self._row(
            f"{self.call.route or 'unknown'}.turn",
            status,
            elapsed,
            None if status < 400 else "upstream_error",
            f"model turn {number}: {tokens}, finish {notes.finish_reason}",
            provider=self.provider,
            model=self.model,
        )

    def tool_call(self, event: ToolCalled, elapsed: float) -> None:
        failure = event.error
        error: str | None
        message: str | None
        if failure is not None:
            status, error, message = (504 if failure.kind == "timeout" else 502), f"mcp_{failure.kind}", failure.message
        else:
            status, error, message = 200, ("tool_error" if event.is_error else None), None
        outcome = "ok" if error is None else error.removeprefix("mcp_")
        metrics = self.runtime.metrics
        metrics.mcp_calls.labels(event.label, event.name, outcome).inc()
        metrics.mcp_latency.labels(event.label).observe(elapsed)
        self._row(
            "mcp.tool_call",
            status,
            elapsed,
            error,
            message,
            server=event.label,
            tool=event.name,
            bytes_in=len(event.arguments.encode()),
            bytes_out=len((event.output or "").encode()),
            content=self._content(event),
        )

    def _content(self, event: ToolCalled) -> str | None:
        """The call's arguments and result (as the model saw them) when the operator keeps content
        (`ledger.content`), as the /mcp endpoint keeps them: JSON, scrubbed, cut at `content_max_bytes`."""
        settings = self.runtime.config.ledger
        if not settings.content:
            return None
        text = orjson.dumps({"arguments": event.arguments, "result": event.output}).decode()
        return self.runtime.ledger.scrub(text)[: settings.content_max_bytes]
