"""OpenTelemetry traces: with an OTLP endpoint configured, a server span per request and a client
span per upstream attempt reach a collector on 127.0.0.1 (OTLP/HTTP, protobuf), with the GenAI
conventions' attributes, joining the caller's trace; without one, nothing is set up."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.scripted import Reply


class Collector:
    """An OTLP/HTTP trace receiver: keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.paths: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                collector.paths.append(self.path)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource in request.resource_spans:
                    service = {a.key: a.value.string_value for a in resource.resource.attributes}["service.name"]
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            collector.spans.append(
                                {
                                    "name": span.name,
                                    "kind": span.kind,
                                    "trace": span.trace_id.hex(),
                                    "id": span.span_id.hex(),
                                    "parent": span.parent_span_id.hex(),
                                    "service": service,
                                    "start": span.start_time_unix_nano,
                                    "end": span.end_time_unix_nano,
                                    "status": span.status.code,
                                    "attributes": {a.key: _value(a.value) for a in span.attributes},
                                }
                            )
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 10
        while len(self.spans) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.spans


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector()
    yield running
    running.server.shutdown()
    running.server.server_close()


CONFIG = """\
telemetry: {{otlp_endpoint: '{url}', service_name: gateway-under-test, export_interval: 0.1}}
models:
  first: {{provider: openai, model: gpt-4o, fallbacks: [second]}}
  second: {{provider: openai, model: gpt-4o-mini}}
"""


def test_a_request_and_its_attempts_are_spans(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, collector: Collector
) -> None:
    gateway = make_gateway(CONFIG.format(url=collector.url))
    upstream.script(Reply(status=503, json={"error": {"message": "busy", "type": "server_error"}}))
    caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    answer = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "first", "messages": [{"role": "user", "content": "Hi"}]},
        headers={"traceparent": f"00-{caller_trace}-00f067aa0ba902b7-01"},
    )
    assert answer.status_code == 200
    spans = collector.wait(3)
    assert collector.paths[0] == "/v1/traces"
    server = next(s for s in spans if s["name"] == "chat first")
    attempts = sorted((s for s in spans if s["parent"] == server["id"]), key=lambda s: s["start"])
    assert server["trace"] == caller_trace and server["parent"] == "00f067aa0ba902b7"
    assert server["service"] == "gateway-under-test"
    assert server["attributes"] == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "first",
        "gen_ai.provider.name": "openai",
        "gen_ai.response.model": "second",
        "gen_ai.usage.input_tokens": 9,
        "gen_ai.usage.output_tokens": 3,
        "babelgate.route": "chat.completions",
        "babelgate.request_id": answer.headers["x-request-id"],
        "http.response.status_code": 200,
    }
    assert [(s["name"], s["attributes"]["babelgate.outcome"]) for s in attempts] == [
        ("chat gpt-4o", "upstream_unavailable"),
        ("chat gpt-4o-mini", "ok"),
    ]
    assert attempts[0]["attributes"]["error.type"] == "upstream_unavailable" and attempts[0]["status"] == 2
    assert server["start"] <= attempts[0]["start"] <= attempts[1]["end"] <= server["end"]


def test_no_endpoint_no_tracing(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway()
    assert gateway.app.tracing is None
    httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
    ).raise_for_status()


def test_with_traces_on_routing_events_are_still_counted(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, collector: Collector
) -> None:
    gateway = make_gateway(CONFIG.format(url=collector.url))
    upstream.script(Reply(status=429, json={"error": {"message": "slow down", "type": "rate_limit_error"}}))
    httpx.post(
        gateway.url + "/v1/chat/completions", json={"model": "second", "messages": [{"role": "user", "content": "Hi"}]}
    )
    metrics = httpx.get(gateway.url + "/metrics").text
    assert 'babelgate_routing_events_total{event="key_cooldowns",model="second",provider="openai"} 1.0' in metrics
    (attempt,) = [s for s in collector.wait(2) if s["kind"] == 3]  # SPAN_KIND_CLIENT
    assert attempt["attributes"]["babelgate.outcome"] == "rate_limit_exceeded"


def test_the_guardrails_time_is_a_span_of_the_request(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, collector: Collector
) -> None:
    config = (
        CONFIG.format(url=collector.url)
        + """guardrails:
  - {name: emails, kind: pii, entities: [email], action: mask}
server:
  guardrails: [emails]
"""
    )
    gateway = make_gateway(config)
    answer = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "second", "messages": [{"role": "user", "content": "Write to ada@example.com"}]},
        timeout=30,
    )
    assert answer.status_code == 200
    spans = collector.wait(4)
    server = next(s for s in spans if s["name"] == "chat second")
    checks = {s["name"]: s for s in spans if s["name"].startswith("guardrails ")}
    assert set(checks) == {"guardrails input", "guardrails output"}
    for check in checks.values():
        assert check["parent"] == server["id"] and check["kind"] == 1  # SPAN_KIND_INTERNAL
        assert server["start"] <= check["start"] <= check["end"] <= server["end"]
        assert check["attributes"]["babelgate.guardrails"] == '{"emails":"mask"}'
    assert checks["guardrails input"]["end"] <= checks["guardrails output"]["start"]
