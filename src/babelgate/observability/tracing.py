"""OpenTelemetry traces, when an OTLP endpoint is configured (`telemetry.otlp_endpoint`, or the
standard `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); off and costless
otherwise (the SDK is not even imported: `pip install 'babelgate[otel]'` brings it).

One server span per model request, named as the GenAI conventions name it (`chat gpt-4o`), with
a client span per upstream attempt under it (`chat gpt-4o-mini`: the upstream's model), and the
conventions' attributes: `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`,
`gen_ai.response.model`, `gen_ai.usage.input_tokens` / `output_tokens`, `error.type`. A request
that carries a W3C `traceparent` joins the caller's trace.

Spans are built when the request has ended, from what the call path recorded (start times,
attempts), and exported by the SDK's batch processor on its own thread: nothing of it is in the
request path but a list append per attempt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from babelgate.observability.metrics import telemetry_name

log = logging.getLogger("babelgate.tracing")
_TRACES_PATH: Final = "/v1/traces"


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One upstream attempt, as `pipeline.run_attempt` saw it."""

    provider: str
    provider_type: str
    model: str  # the upstream's name
    deployment: str
    started: float  # perf_counter
    ended: float
    outcome: str  # "ok" or the error's code


@dataclass(frozen=True, slots=True)
class RequestRecord:
    route: str
    request_id: str
    key_id: str
    requested_model: str
    model: str
    provider: str
    provider_type: str
    status: int
    error_code: str
    prompt_tokens: int | None
    completion_tokens: int | None
    started: float  # perf_counter
    ended: float
    traceparent: str | None
    cache_hit: bool
    guardrails: str | None = None  # what each guardrail decided, as the ledger keeps it (JSON)
    guardrail_checks: tuple[tuple[str, float, float], ...] = ()  # (stage, started, ended): a span each


class Tracing:
    def __init__(
        self,
        endpoint: str,
        *,
        service_name: str = "babelgate",
        sample_ratio: float = 1.0,
        export_interval: float = 5.0,
        telemetry_names: Mapping[str, str] | None = None,
        operations: Mapping[str, str] | None = None,
    ) -> None:
        """`telemetry_names`: `gen_ai.provider.name` by provider type (`babelgate.providers.TELEMETRY_NAMES`);
        `operations`: `gen_ai.operation.name` by route name (`babelgate.frontends.registry.operations()`)."""
        self.telemetry_names: Mapping[str, str] = telemetry_names or {}
        self.operations: Mapping[str, str] = operations or {}
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
        except ImportError:
            raise ValueError(
                "telemetry.otlp_endpoint: traces need the OpenTelemetry SDK (pip install 'babelgate[otel]')"
            ) from None
        if not endpoint.rstrip("/").endswith(_TRACES_PATH):
            endpoint = endpoint.rstrip("/") + _TRACES_PATH
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": service_name}), sampler=ParentBasedTraceIdRatio(sample_ratio)
        )
        self.provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint), schedule_delay_millis=int(export_interval * 1000))
        )
        self.tracer = self.provider.get_tracer("babelgate")
        self._propagator = TraceContextTextMapPropagator()
        self.endpoint = endpoint

    def record(self, request: RequestRecord, attempts: list[AttemptRecord]) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

        # perf_counter → wall clock, once for the request
        offset = time.time_ns() - int(time.perf_counter() * 1e9)

        def ns(moment: float) -> int:
            return offset + int(moment * 1e9)

        parent = self._propagator.extract({"traceparent": request.traceparent}) if request.traceparent else None
        operation = self.operations.get(request.route, request.route)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": request.requested_model,
            "babelgate.route": request.route,
            "babelgate.request_id": request.request_id,
            "http.response.status_code": request.status,
        }
        if request.provider:
            attributes["gen_ai.provider.name"] = telemetry_name(
                self.telemetry_names, request.provider_type, request.provider
            )
            attributes["gen_ai.response.model"] = request.model
        if request.key_id:
            attributes["babelgate.key_id"] = request.key_id
        if request.prompt_tokens is not None:
            attributes["gen_ai.usage.input_tokens"] = request.prompt_tokens
        if request.completion_tokens is not None:
            attributes["gen_ai.usage.output_tokens"] = request.completion_tokens
        if request.cache_hit:
            attributes["babelgate.cache_hit"] = True
        if request.error_code:
            attributes["error.type"] = request.error_code
        span = self.tracer.start_span(
            f"{operation} {request.requested_model}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
            start_time=ns(request.started),
        )
        if request.status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        inside = set_span_in_context(span)
        for attempt in attempts:
            child: dict[str, Any] = {
                "gen_ai.operation.name": operation,
                "gen_ai.provider.name": telemetry_name(self.telemetry_names, attempt.provider_type, attempt.provider),
                "gen_ai.request.model": attempt.model,
                "babelgate.deployment": attempt.deployment,
                "babelgate.outcome": attempt.outcome,
            }
            if attempt.outcome != "ok":
                child["error.type"] = attempt.outcome
            attempt_span = self.tracer.start_span(
                f"{operation} {attempt.model}",
                context=inside,
                kind=SpanKind.CLIENT,
                attributes=child,
                start_time=ns(attempt.started),
            )
            if attempt.outcome != "ok":
                attempt_span.set_status(Status(StatusCode.ERROR))
            attempt_span.end(end_time=ns(attempt.ended))
        for stage, started, ended in request.guardrail_checks:
            check = self.tracer.start_span(
                f"guardrails {stage}",
                context=inside,
                kind=SpanKind.INTERNAL,
                attributes={"babelgate.guardrails": request.guardrails or "{}"},
                start_time=ns(started),
            )
            check.end(end_time=ns(ended))
        span.end(end_time=ns(request.ended))

    def flush(self) -> None:
        self.provider.force_flush()

    def close(self) -> None:
        self.provider.shutdown()  # exports what is left


def endpoint_from(configured: str | None, environ: Mapping[str, str]) -> str | None:
    """The configured endpoint, else the OpenTelemetry environment's."""
    return (
        configured
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or None
    )
