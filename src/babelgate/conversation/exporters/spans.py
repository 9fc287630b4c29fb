"""Logged exchanges as OTLP spans (protobuf), with OpenTelemetry's GenAI semantic conventions: the model, the
provider, the tokens, and the content (`gen_ai.input.messages`, `gen_ai.output.messages`,
`gen_ai.system_instructions`, JSON in the conventions' message shape, which the log keeps). Langfuse reads the
same spans at its OTLP endpoint; `langfuse=True` adds the attributes it maps to its traces and generations.

A span's trace and span ids come from the request id, so a batch sent again after a failure is the same spans
(a backend keeps one of each), and a request's span can be found from the id the client got."""

from __future__ import annotations

import hashlib
from typing import Any, Final

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from babelgate.conversation.record import Exchange

SCOPE: Final = "babelgate.conversation"
# The conventions' operation names, by the door's route (chat for every conversational one).
OPERATIONS: Final = {"embeddings": "embeddings", "completions": "text_completion"}


def operation(route: str) -> str:
    return OPERATIONS.get(route.split("/", 1)[0], "chat")


def export_request(exchanges: list[Exchange], service: str, *, langfuse: bool = False) -> bytes:
    spans = [span(exchange, langfuse=langfuse) for exchange in exchanges]
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[_attribute("service.name", service)]),
                scope_spans=[ScopeSpans(scope=InstrumentationScope(name=SCOPE), spans=spans)],
            )
        ]
    )
    encoded: bytes = request.SerializeToString()
    return encoded


def span(exchange: Exchange, *, langfuse: bool = False) -> Span:
    digest = hashlib.sha256(exchange.request_id.encode()).digest()
    start = int(exchange.started * 1e9)
    end = start + int(exchange.elapsed * 1e9)
    failed = exchange.status >= 400
    values = attributes(exchange)
    if langfuse:
        values.update(langfuse_attributes(exchange))
    return Span(
        trace_id=digest[:16],
        span_id=digest[16:24],
        name=f"{operation(exchange.route)} {exchange.model}",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        attributes=[_attribute(name, value) for name, value in values.items() if value is not None],
        status=Status(
            code=Status.STATUS_CODE_ERROR if failed else Status.STATUS_CODE_OK,
            message=exchange.error_code or "" if failed else "",
        ),
    )


def attributes(exchange: Exchange) -> dict[str, Any]:
    finish = [message["finish_reason"] for message in exchange.output if message.get("finish_reason")]
    return {
        "gen_ai.operation.name": operation(exchange.route),
        "gen_ai.provider.name": exchange.provider or None,
        "gen_ai.request.model": exchange.model,
        "gen_ai.response.model": exchange.upstream_model or None,
        "gen_ai.usage.input_tokens": exchange.prompt_tokens,
        "gen_ai.usage.output_tokens": exchange.completion_tokens,
        "gen_ai.response.finish_reasons": finish or None,
        "gen_ai.conversation.id": exchange.session,
        "gen_ai.system_instructions": _json(exchange.system) if exchange.system else None,
        "gen_ai.input.messages": _json(exchange.input),
        "gen_ai.output.messages": _json(exchange.output),
        "error.type": exchange.error_code if exchange.status >= 400 else None,
        "babelgate.request_id": exchange.request_id,
        "babelgate.route": exchange.route,
        "babelgate.key_id": exchange.key_id,
        "babelgate.team": exchange.team,
        "babelgate.user": exchange.user,
        "babelgate.end_user": exchange.end_user,
        "babelgate.status": exchange.status,
        "babelgate.stream": exchange.stream,
        "babelgate.cost_usd": exchange.cost,
        "babelgate.guardrails": _json(exchange.guardrails) if exchange.guardrails else None,
        "babelgate.truncated": exchange.truncated or None,
    }


def langfuse_attributes(exchange: Exchange) -> dict[str, Any]:
    """What Langfuse's OTLP endpoint maps onto its own model: a generation, in a trace named for the route, of a
    user and a session, with its usage and cost."""
    usage = {"input": exchange.prompt_tokens, "output": exchange.completion_tokens}
    return {
        "langfuse.observation.type": "generation",
        "langfuse.trace.name": exchange.route,
        "langfuse.user.id": exchange.user or exchange.end_user or exchange.key_id,
        "langfuse.session.id": exchange.session,
        "langfuse.observation.model.name": exchange.upstream_model or exchange.model,
        "langfuse.observation.usage_details": _json(usage),
        "langfuse.observation.cost_details": _json({"total": exchange.cost}) if exchange.cost is not None else None,
        "langfuse.observation.level": "ERROR" if exchange.status >= 400 else None,
        "langfuse.observation.status_message": exchange.error_code,
        "langfuse.trace.metadata.request_id": exchange.request_id,
        "langfuse.trace.metadata.key_id": exchange.key_id,
        "langfuse.trace.metadata.team": exchange.team,
    }


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _attribute(name: str, value: Any) -> KeyValue:
    return KeyValue(key=name, value=_value(value))


def _value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[_value(item) for item in value]))
    return AnyValue(string_value=str(value))
