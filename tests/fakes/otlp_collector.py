"""A fake OTLP/HTTP trace collector (and Langfuse's OTLP endpoint, and a webhook receiver): it decodes what it
receives as a real backend would, and refuses what the OpenTelemetry GenAI semantic conventions or Langfuse would
not read. `failures` makes the next answers fail (a status each), to test retries."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections import deque
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

ROLES = {"system", "user", "assistant", "tool"}
PART_TYPES = {"text", "tool_call", "tool_call_response", "reasoning", "blob", "uri", "file"}


def value_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [value_of(item) for item in value.array_value.values]
    return getattr(value, kind) if kind else None


def check_messages(text: str, *, output: bool = False) -> list[dict[str, Any]]:
    """`gen_ai.input.messages` / `gen_ai.output.messages`: JSON lists of {role, parts[, finish_reason]}."""
    messages = orjson.loads(text)
    assert isinstance(messages, list), text
    for message in messages:
        assert message["role"] in ROLES, message
        assert isinstance(message["parts"], list), message
        for part in message["parts"]:
            assert part["type"] in PART_TYPES, part
            if part["type"] == "text":
                assert isinstance(part["content"], str), part
            if part["type"] == "tool_call":
                assert isinstance(part["name"], str), part
        if output:
            assert isinstance(message.get("finish_reason", ""), str), message
    return messages


class FakeCollector:
    """An ASGI app: POST /v1/traces (OTLP) and /api/public/otel/v1/traces (Langfuse, Basic auth), POST /hook (a
    webhook signed with `secret`)."""

    def __init__(self, *, langfuse: tuple[str, str] | None = None, secret: str | None = None) -> None:
        self.spans: list[dict[str, Any]] = []
        self.hooks: list[dict[str, Any]] = []
        self.failures: deque[int] = deque()
        self.requests = 0
        self.violations: list[str] = []  # what a real backend would have refused (the test fails on any)
        self.langfuse = langfuse
        self.secret = secret

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        self.requests += 1
        try:
            status = self.failures.popleft() if self.failures else self._take(scope["path"], headers, body)
        except (AssertionError, KeyError, ValueError) as violation:
            self.violations.append(f"{type(violation).__name__}: {violation}")
            status = 400
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    def _take(self, path: str, headers: dict[str, str], body: bytes) -> int:
        if path == "/hook":
            return self._hook(headers, body)
        if path == "/api/public/otel/v1/traces":
            assert self.langfuse is not None
            expected = "Basic " + base64.b64encode(":".join(self.langfuse).encode()).decode()
            if headers.get("authorization") != expected:
                return 401
        elif path != "/v1/traces":
            return 404
        if headers.get("content-type") != "application/x-protobuf":
            return 415
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            service = {a.key: value_of(a.value) for a in resource.resource.attributes}["service.name"]
            for scoped in resource.scope_spans:
                for span in scoped.spans:
                    attributes = {a.key: value_of(a.value) for a in span.attributes}
                    assert len(span.trace_id) == 16 and len(span.span_id) == 8
                    assert span.end_time_unix_nano >= span.start_time_unix_nano > 0
                    assert attributes["gen_ai.operation.name"] in {"chat", "embeddings", "text_completion"}
                    assert isinstance(attributes["gen_ai.request.model"], str)
                    check_messages(attributes["gen_ai.input.messages"])
                    check_messages(attributes["gen_ai.output.messages"], output=True)
                    self.spans.append({"name": span.name, "service": service, "status": span.status.code, **attributes})
        return 200

    def _hook(self, headers: dict[str, str], body: bytes) -> int:
        assert self.secret is not None
        timestamp = headers["x-babelgate-timestamp"]
        digest = hmac.new(self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers["x-babelgate-signature"], f"sha256={digest}"):
            return 401
        self.hooks.extend(orjson.loads(body)["exchanges"])
        return 204
