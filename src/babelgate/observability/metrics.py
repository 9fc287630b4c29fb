"""Prometheus metrics. Requests append a tuple to a buffer; the collectors are updated in small
batches (on scrape, or every `_FLUSH_AT` requests) through cached label children, so a request
never takes the collector locks and no flush stalls the loop for long (~0.3 ms per batch)."""

from __future__ import annotations

from collections import deque
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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
        # The router's decisions (routing/router.py), by provider and model, never by key.
        self.routing = Counter("babelgate_routing_events", "Retries, fallbacks and key cool-downs",
                               ("event", "provider", "model"), registry=self.registry)
        self.cache = Counter("babelgate_cache_events", "Response cache lookups and stores (hit, miss, store)",
                             ("event", "model"), registry=self.registry)
        self.circuit_open = Gauge("babelgate_circuit_open", "1 while a deployment's circuit is open",
                                  ("provider", "model"), registry=self.registry)
        self.ledger_depth = Gauge("babelgate_ledger_queue_depth", "Ledger rows waiting to be written",
                                  registry=self.registry)
        self.ledger_dropped = Gauge("babelgate_ledger_dropped", "Ledger rows dropped because the queue was full "
                                    "(since start)", registry=self.registry)
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

    def routing_event(self, event: str, provider: str, model: str) -> None:
        """`retries`, `fallbacks`, `key_cooldowns`, `keys_rejected`: rare, so counted at once."""
        self.routing.labels(event, provider, model).inc()

    def cache_event(self, event: str, model: str) -> None:
        self.cache.labels(event, model).inc()

    def circuit(self, deployment: str, is_open: bool) -> None:
        provider, _, model = deployment.partition("/")
        self.circuit_open.labels(provider, model.partition("#")[0]).set(1 if is_open else 0)

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
