"""Prometheus metrics. Requests append a tuple to a buffer; the counters are updated in batches
(on scrape, or when the buffer fills), so the request path never takes the collector locks."""

from __future__ import annotations

from collections import deque
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

CONTENT_TYPE: Final = b"text/plain; version=0.0.4; charset=utf-8"
_FLUSH_AT: Final = 2048
_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

Observation = tuple[str, str, str, int, float, str, int, int]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("route", "provider", "model", "status")
        self.requests = Counter("babelgate_requests", "Requests handled", labels, registry=self.registry)
        self.errors = Counter("babelgate_errors", "Requests that ended in an error",
                              (*labels, "code"), registry=self.registry)
        self.latency = Histogram("babelgate_request_duration_seconds", "Time from request to last byte",
                                 ("route", "provider", "model"), buckets=_BUCKETS, registry=self.registry)
        self.tokens = Counter("babelgate_tokens", "Tokens reported by upstreams",
                              ("provider", "model", "kind"), registry=self.registry)
        self._pending: deque[Observation] = deque()

    def record(self, route: str, provider: str, model: str, status: int, seconds: float, *,
               error_code: str = "", prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        self._pending.append((route, provider, model, status, seconds, error_code, prompt_tokens,
                              completion_tokens))
        if len(self._pending) >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        pending = self._pending
        while pending:
            route, provider, model, status, seconds, code, prompt, completion = pending.popleft()
            self.requests.labels(route, provider, model, str(status)).inc()
            self.latency.labels(route, provider, model).observe(seconds)
            if code:
                self.errors.labels(route, provider, model, str(status), code).inc()
            if prompt:
                self.tokens.labels(provider, model, "prompt").inc(prompt)
            if completion:
                self.tokens.labels(provider, model, "completion").inc(completion)

    def render(self) -> bytes:
        self.flush()
        return generate_latest(self.registry)
