"""Prometheus metrics. Requests append a tuple to a buffer; the collectors are updated in small
batches (on scrape, or every `_FLUSH_AT` requests) through cached label children, so a request
never takes the collector locks and no flush stalls the loop for long (~0.3 ms per batch)."""

from __future__ import annotations

from collections import deque
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

CONTENT_TYPE: Final = b"text/plain; version=0.0.4; charset=utf-8"
_FLUSH_AT: Final = 128
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
        # labels() looks up a child under a lock each time; one lookup per label set is enough:
        # requests, latency, prompt tokens, completion tokens.
        self._children: dict[tuple[str, str, str, int], tuple[Any, Any, Any, Any]] = {}

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
            key = (route, provider, model, status)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (
                    self.requests.labels(route, provider, model, str(status)),
                    self.latency.labels(route, provider, model),
                    self.tokens.labels(provider, model, "prompt"), self.tokens.labels(provider, model, "completion"))
            children[0].inc()
            children[1].observe(seconds)
            if code:
                self.errors.labels(route, provider, model, str(status), code).inc()
            if prompt:
                children[2].inc(prompt)
            if completion:
                children[3].inc(completion)

    def render(self) -> bytes:
        self.flush()
        return generate_latest(self.registry)
