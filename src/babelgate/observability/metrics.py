"""Prometheus metrics. Requests append a tuple to a buffer; the collectors are updated in small
batches (on scrape, or every `_FLUSH_AT` requests) through cached label children, so a request
never takes the collector locks and no flush stalls the loop for long.

Two families:
- the OpenTelemetry GenAI semantic conventions where they name a thing, under their Prometheus
  names: `gen_ai_client_token_usage` (tokens per request, by `gen_ai_token_type` input/output),
  `gen_ai_server_request_duration_seconds`, `gen_ai_server_time_to_first_token_seconds`, with the
  conventions' attributes (`gen_ai_operation_name`, `gen_ai_provider_name`, `gen_ai_request_model`,
  `gen_ai_response_model`, `error_type`) and the gateway's `route` and `key_id`;
- the gateway's own: `babelgate_requests_total` (by route, provider, model, status, key id),
  errors, tokens, routing events, circuits, cache events, the ledger's queue.

A key id is the virtual key's id or a static key's short hash, never a secret. With several worker
processes each keeps its own registry and `/metrics` answers the sum of all of them
(observability/worker_metrics.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from babelgate.observability.worker_metrics import WorkerMetrics

CONTENT_TYPE: Final = b"text/plain; version=0.0.4; charset=utf-8"
_FLUSH_AT: Final = 128
_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# The bucket boundaries the GenAI conventions advise for each instrument.
_TOKEN_BUCKETS: Final = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
_DURATION_BUCKETS: Final = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
_TTFT_BUCKETS: Final = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# `gen_ai.operation.name` by route; other routes use their own name.
OPERATIONS: Final = {
    "chat.completions": "chat",
    "messages": "chat",
    "responses.create": "chat",
    "responses.websocket": "chat",
    "responses.compact": "chat",
    "ollama.chat": "chat",
    "completions": "text_completion",
    "ollama.generate": "text_completion",
    "embeddings": "embeddings",
    "ollama.embed": "embeddings",
    "ollama.embeddings": "embeddings",
}


class Observation(NamedTuple):
    route: str
    provider: str  # the configured provider's name
    provider_type: str
    requested_model: str
    model: str  # the public name of what served it
    status: int
    seconds: float
    ttft: float | None
    error_code: str
    prompt_tokens: int
    completion_tokens: int
    key_id: str


def telemetry_name(names: Mapping[str, str], provider_type: str, provider: str) -> str:
    """The conventions' `gen_ai.provider.name`: the one the provider type declares, else its type's name
    (or, with no type known, the configured provider's name)."""
    return names.get(provider_type) or provider_type or provider


class Metrics:
    def __init__(self, telemetry_names: Mapping[str, str] | None = None) -> None:
        """`telemetry_names`: `gen_ai.provider.name` by provider type, as the provider types declare them
        (`babelgate.providers.TELEMETRY_NAMES`, handed in: the providers' floor stands above this one)."""
        self.telemetry_names: Mapping[str, str] = telemetry_names or {}
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("route", "provider", "model", "status")
        self.requests = Counter("babelgate_requests", "Requests handled", (*labels, "key_id"), registry=self.registry)
        self.errors = Counter(
            "babelgate_errors", "Requests that ended in an error", (*labels, "code"), registry=self.registry
        )
        self.latency = Histogram(
            "babelgate_request_duration_seconds",
            "Time from request to last byte",
            ("route", "provider", "model"),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "babelgate_tokens", "Tokens reported by upstreams", ("provider", "model", "kind"), registry=self.registry
        )
        gen_ai = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_response_model")
        self.token_usage = Histogram(
            "gen_ai_client_token_usage",
            "Tokens used per request (GenAI conventions)",
            (*gen_ai, "gen_ai_token_type", "route", "key_id"),
            buckets=_TOKEN_BUCKETS,
            registry=self.registry,
        )
        self.duration = Histogram(
            "gen_ai_server_request_duration_seconds",
            "Time from request to last byte (GenAI conventions)",
            (*gen_ai, "error_type", "route", "key_id"),
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.ttft = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time from request to the answer's first byte (GenAI conventions)",
            (*gen_ai, "route", "key_id"),
            buckets=_TTFT_BUCKETS,
            registry=self.registry,
        )
        # The router's decisions (routing/router.py), by provider and model, never by key.
        self.routing = Counter(
            "babelgate_routing_events",
            "Retries, fallbacks and key cool-downs",
            ("event", "provider", "model"),
            registry=self.registry,
        )
        self.cache = Counter(
            "babelgate_cache_events",
            "Response cache lookups and stores (hit, miss, store)",
            ("event", "model"),
            registry=self.registry,
        )
        self.circuit_open = Gauge(
            "babelgate_circuit_open",
            "1 while a deployment's circuit is open",
            ("provider", "model"),
            registry=self.registry,
        )
        self.ledger_depth = Gauge(
            "babelgate_ledger_queue_depth",
            "Ledger rows waiting to be written (in memory, being retried, spooled)",
            registry=self.registry,
        )
        # reason: queue_full (the store fell behind past ledger.queue_limit), shutdown (neither written
        # nor spooled when the gateway stopped). Each reason reads 0 from the start.
        self.ledger_dropped = Gauge(
            "babelgate_ledger_dropped",
            "Ledger rows dropped (since start), by reason",
            ("reason",),
            registry=self.registry,
        )
        # With several workers, gauges read their largest value: 1 while any worker reaches Redis.
        self.redis_up = Gauge(
            "babelgate_redis_up",
            "1 while Redis answers (its breaker is closed), 0 while state is kept per instance",
            registry=self.registry,
        )
        self.workers: WorkerMetrics | None = None  # with several worker processes: all of them in /metrics
        self._pending: deque[Observation] = deque()
        # labels() looks up a child under a lock each time; one lookup per label set is enough.
        self._children: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def observe(self, observation: Observation) -> None:
        self._pending.append(observation)
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
            o = pending.popleft()
            key = (o.route, o.provider, o.provider_type, o.requested_model, o.model, o.status, o.key_id, o.error_code)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = self._make_children(o)
            requests, latency, prompt, completion, duration, ttft, usage_in, usage_out = children
            requests.inc()
            latency.observe(o.seconds)
            if o.error_code:
                self.errors.labels(o.route, o.provider, o.model, str(o.status), o.error_code).inc()
            if o.prompt_tokens:
                prompt.inc(o.prompt_tokens)
            if o.completion_tokens:
                completion.inc(o.completion_tokens)
            if duration is not None:
                duration.observe(o.seconds)
                if o.ttft is not None:
                    ttft.observe(o.ttft)
                if o.prompt_tokens or o.completion_tokens:
                    usage_in.observe(o.prompt_tokens)
                    usage_out.observe(o.completion_tokens)

    def _make_children(self, o: Observation) -> tuple[Any, ...]:
        status = str(o.status)
        own = (
            self.requests.labels(o.route, o.provider, o.model, status, o.key_id),
            self.latency.labels(o.route, o.provider, o.model),
            self.tokens.labels(o.provider, o.model, "prompt"),
            self.tokens.labels(o.provider, o.model, "completion"),
        )
        if not o.requested_model or not o.provider:
            return (*own, None, None, None, None)  # no model was called: nothing for the GenAI family
        provider = telemetry_name(self.telemetry_names, o.provider_type, o.provider)
        gen_ai = (OPERATIONS.get(o.route, o.route), provider, o.requested_model, o.model)
        error_type = o.error_code if o.status >= 400 else ""
        return (
            *own,
            self.duration.labels(*gen_ai, error_type, o.route, o.key_id),
            self.ttft.labels(*gen_ai, o.route, o.key_id),
            self.token_usage.labels(*gen_ai, "input", o.route, o.key_id),
            self.token_usage.labels(*gen_ai, "output", o.route, o.key_id),
        )

    def share_with_workers(self, directory: str) -> None:
        self.workers = WorkerMetrics(directory, self.registry, self.flush)

    def render(self) -> bytes:
        self.flush()
        if self.workers is not None:
            return self.workers.render()
        return generate_latest(self.registry)
