"""Prometheus metrics, at almost no cost per request.

A request's observation is put in a slot of a fixed batch (no call beyond `observe` itself); every
`_FLUSH_AT` requests, and before each scrape or worker snapshot, the batch is added to plain counts:
the histograms' bucket indexes found for the whole batch at once (`bisect` mapped in C), then one
loop of dict lookups and additions per observation, with no function call, lock or per-bucket loop.
The per-request families are served by a collector of our own (`_RequestFamilies`) that yields the
same metric families as prometheus_client's Counter and Histogram would (names, help, types, labels,
buckets, `_total`/`_bucket`/`_count`/`_sum`/`_created`), first in the registry as they were, so the
`/metrics` text is unchanged. The rare events (routing, cache, circuits, the ledger, Redis) keep
prometheus_client's collectors.

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

import os
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import accumulate, repeat
from typing import Any, Final, NamedTuple, cast

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from babelgate.observability.worker_metrics import WorkerMetrics

CONTENT_TYPE: Final = b"text/plain; version=0.0.4; charset=utf-8"
_FLUSH_AT: Final = 128
_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# The bucket boundaries the GenAI conventions advise for each instrument.
_TOKEN_BUCKETS: Final = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
_DURATION_BUCKETS: Final = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
_TTFT_BUCKETS: Final = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


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


# prometheus_client's own switch for `_created` samples, read the same way (its flag is private).
_CREATED: Final = os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", "False").lower() not in ("true", "1", "t")
_go_float: Callable[[float], str] = floatToGoString  # typed: the library leaves it unannotated
_GEN_AI_LABELS: Final = (
    "gen_ai_operation_name",
    "gen_ai_provider_name",
    "gen_ai_request_model",
    "gen_ai_response_model",
)


class _Count:
    """One counter series."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()


class _Buckets:
    """One histogram series: the count in each bucket (not cumulative), and the sum."""

    __slots__ = ("counts", "created", "sum")

    def __init__(self, buckets: int) -> None:
        self.counts = [0.0] * buckets
        self.sum = 0.0
        self.created = time.time()


class _Histogram:
    """A histogram family: its bounds (with +Inf), their `le` labels, its series by label values."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str], buckets: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = tuple(labels)
        self.bounds = [*map(float, buckets), float("inf")]
        self.le = [_go_float(bound) for bound in self.bounds]  # the `le` labels as prometheus_client writes them
        self.series: dict[tuple[str, ...], _Buckets] = {}

    def child(self, *values: object) -> _Buckets:
        labels = tuple(map(str, values))  # as prometheus_client's labels() does
        found = self.series.get(labels)
        if found is None:
            found = self.series[labels] = _Buckets(len(self.bounds))
        return found

    def family(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        for values, series in list(self.series.items()):
            family.add_metric(values, list(zip(self.le, accumulate(series.counts), strict=True)), series.sum)
            if _CREATED:
                family.add_sample(self.name + "_created", dict(zip(self.labels, values, strict=True)), series.created)
        return family


class _Counter:
    """A counter family and its series by label values."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = tuple(labels)
        self.series: dict[tuple[str, ...], _Count] = {}

    def child(self, *values: object) -> _Count:
        labels = tuple(map(str, values))
        found = self.series.get(labels)
        if found is None:
            found = self.series[labels] = _Count()
        return found

    def family(self) -> CounterMetricFamily:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for values, series in list(self.series.items()):
            family.add_metric(values, series.value, created=series.created if _CREATED else None)
        return family


class _Series(NamedTuple):
    """What one kind of request (the flush's key) adds to: the series of each family it counts in."""

    requests: _Count
    latency: _Buckets
    prompt: _Count
    completion: _Count
    errors: _Count | None  # when the request ended in an error
    gen_ai: tuple[_Buckets, _Buckets, _Buckets, _Buckets] | None  # duration, ttft, usage in, usage out


class _RequestFamilies:
    """The per-request families as a collector: counts kept in plain dicts, families made at scrape.

    Only the event loop's thread touches it (observe, flush, scrape and worker snapshots run there);
    a scrape from another thread copies each dict's items before reading them.
    """

    def __init__(self, telemetry_names: Mapping[str, str], operations: Mapping[str, str]) -> None:
        self.telemetry_names = telemetry_names
        self.operations = operations
        labels = ("route", "provider", "model", "status")
        self.requests = _Counter("babelgate_requests", "Requests handled", (*labels, "key_id"))
        self.errors = _Counter("babelgate_errors", "Requests that ended in an error", (*labels, "code"))
        self.latency = _Histogram(
            "babelgate_request_duration_seconds", "Time from request to last byte", labels[:3], _BUCKETS
        )
        self.tokens = _Counter("babelgate_tokens", "Tokens reported by upstreams", ("provider", "model", "kind"))
        self.token_usage = _Histogram(
            "gen_ai_client_token_usage",
            "Tokens used per request (GenAI conventions)",
            (*_GEN_AI_LABELS, "gen_ai_token_type", "route", "key_id"),
            _TOKEN_BUCKETS,
        )
        self.duration = _Histogram(
            "gen_ai_server_request_duration_seconds",
            "Time from request to last byte (GenAI conventions)",
            (*_GEN_AI_LABELS, "error_type", "route", "key_id"),
            _DURATION_BUCKETS,
        )
        self.ttft = _Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time from request to the answer's first byte (GenAI conventions)",
            (*_GEN_AI_LABELS, "route", "key_id"),
            _TTFT_BUCKETS,
        )
        # In the order prometheus_client's collectors were registered, so the text keeps its order.
        self.families: tuple[_Counter | _Histogram, ...] = (
            self.requests,
            self.errors,
            self.latency,
            self.tokens,
            self.token_usage,
            self.duration,
            self.ttft,
        )
        self.kinds: dict[tuple[str, str, str, str, str, int, str, str], _Series] = {}

    def describe(self) -> Iterable[Metric]:
        """The families without samples, for the registry's check of duplicate names."""
        return [
            (CounterMetricFamily if isinstance(f, _Counter) else HistogramMetricFamily)(f.name, f.documentation)
            for f in self.families
        ]

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            yield family.family()

    def add(self, batch: list[Observation]) -> None:
        """Add a batch of observations to the counts."""
        # Every histogram's bucket index for the whole batch, mapped in C: no call per observation. The
        # index is the first bound the value is not above, as prometheus_client's; the last bound is +Inf,
        # so every number has one (no value here is NaN: times and token counts).
        seconds = [o.seconds for o in batch]
        latency_at = map(bisect_left, repeat(self.latency.bounds), seconds)
        duration_at = map(bisect_left, repeat(self.duration.bounds), seconds)
        ttft_at = map(bisect_left, repeat(self.ttft.bounds), [0.0 if o.ttft is None else o.ttft for o in batch])
        input_at = map(bisect_left, repeat(self.token_usage.bounds), [o.prompt_tokens for o in batch])
        output_at = map(bisect_left, repeat(self.token_usage.bounds), [o.completion_tokens for o in batch])
        kinds = self.kinds
        for o, latency_i, duration_i, ttft_i, input_i, output_i in zip(
            batch, latency_at, duration_at, ttft_at, input_at, output_at, strict=True
        ):
            route, provider, provider_type, requested, model, status, took, ttft, error, prompt, completion, key = o
            kind = (route, provider, provider_type, requested, model, status, key, error)
            try:  # one lookup, and no call, for a kind already seen
                series = kinds[kind]
            except KeyError:
                series = self._series(o, kind)
            requests, latency, prompt_tokens, completion_tokens, errors, gen_ai = series
            requests.value += 1
            latency.counts[latency_i] += 1
            latency.sum += took
            if errors is not None:
                errors.value += 1
            if prompt > 0:
                prompt_tokens.value += prompt
            if completion > 0:
                completion_tokens.value += completion
            if gen_ai is not None:
                duration, first_token, usage_in, usage_out = gen_ai
                duration.counts[duration_i] += 1
                duration.sum += took
                if ttft is not None:
                    first_token.counts[ttft_i] += 1
                    first_token.sum += ttft
                if prompt or completion:
                    usage_in.counts[input_i] += 1
                    usage_in.sum += prompt
                    usage_out.counts[output_i] += 1
                    usage_out.sum += completion

    def _series(self, o: Observation, kind: tuple[str, str, str, str, str, int, str, str]) -> _Series:
        """The first request of its kind: its series, made in the order prometheus_client's were."""
        requests = self.requests.child(o.route, o.provider, o.model, o.status, o.key_id)
        latency = self.latency.child(o.route, o.provider, o.model)
        prompt = self.tokens.child(o.provider, o.model, "prompt")
        completion = self.tokens.child(o.provider, o.model, "completion")
        errors = self.errors.child(o.route, o.provider, o.model, o.status, o.error_code) if o.error_code else None
        gen_ai = None
        if o.requested_model and o.provider:  # else no model was called: nothing for the GenAI family
            provider = telemetry_name(self.telemetry_names, o.provider_type, o.provider)
            names = (self.operations.get(o.route, o.route), provider, o.requested_model, o.model)
            error_type = o.error_code if o.status >= 400 else ""
            gen_ai = (
                self.duration.child(*names, error_type, o.route, o.key_id),
                self.ttft.child(*names, o.route, o.key_id),
                self.token_usage.child(*names, "input", o.route, o.key_id),
                self.token_usage.child(*names, "output", o.route, o.key_id),
            )
        series = self.kinds[kind] = _Series(requests, latency, prompt, completion, errors, gen_ai)
        return series


class Metrics:
    def __init__(
        self, telemetry_names: Mapping[str, str] | None = None, operations: Mapping[str, str] | None = None
    ) -> None:
        """`telemetry_names`: `gen_ai.provider.name` by provider type, as the provider types declare them
        (`babelgate.providers.TELEMETRY_NAMES`); `operations`: `gen_ai.operation.name` by route name, as the
        frontends declare them (`babelgate.frontends.registry.operations()`; other routes use their own name).
        Both handed in: the providers' and frontends' floors stand above this one."""
        self.telemetry_names: Mapping[str, str] = telemetry_names or {}
        self.registry = CollectorRegistry(auto_describe=True)
        self.per_request = _RequestFamilies(self.telemetry_names, operations or {})
        self.registry.register(self.per_request)
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
        # MCP tool calls through /mcp (frontends/mcp_endpoint.py), by server, tool and outcome (ok, error, denied…).
        self.mcp_calls = Counter(
            "babelgate_mcp_tool_calls",
            "MCP tool calls through the gateway",
            ("server", "tool", "outcome"),
            registry=self.registry,
        )
        self.mcp_latency = Histogram(
            "babelgate_mcp_tool_call_seconds",
            "Time of an MCP tool call through the gateway, upstream included",
            ("server",),
            registry=self.registry,
        )
        # Each guardrail's decisions (guardrails/): block, mask, log, allow (it looked and found nothing to do),
        # failed_open (its checker failed and `fail: open` let the text through).
        self.guardrail_decisions = Counter(
            "babelgate_guardrail_decisions",
            "Guardrail decisions, by guardrail, stage and action",
            ("name", "stage", "action"),
            registry=self.registry,
        )
        self._guardrail_children: dict[tuple[str, str, str], Any] = {}
        self._guardrail_pending: dict[Any, list[int]] = {}  # (name, stage, action) → [count]: guardrail_decisions_of
        # The conversation log's exporters (conversation/exporters/): what each sent, and what it had to drop, by
        # reason (queue_full, rejected, retries_exhausted, shutdown).
        self.exporter_exported = Counter(
            "babelgate_exporter_exported",
            "Logged exchanges an exporter delivered",
            ("exporter",),
            registry=self.registry,
        )
        self.exporter_dropped = Counter(
            "babelgate_exporter_dropped",
            "Logged exchanges an exporter dropped, by reason",
            ("exporter", "reason"),
            registry=self.registry,
        )
        # Logged requests the conversation log dropped before building them (more came than it could build).
        self.conversation_dropped = Gauge(
            "babelgate_conversation_dropped",
            "Logged requests the conversation log dropped (since start) before building them",
            registry=self.registry,
        )
        # Realtime sessions (realtime/): opened and closed (open now: the difference, summed over workers as a gauge
        # would not be), and each response's turn and tokens as it ends, by model and road.
        self.realtime_opened = Counter(
            "babelgate_realtime_sessions_opened", "Realtime sessions opened, by road", ("road",), registry=self.registry
        )
        self.realtime_closed = Counter(
            "babelgate_realtime_sessions_closed", "Realtime sessions closed, by road", ("road",), registry=self.registry
        )
        self.realtime_turns = Counter(
            "babelgate_realtime_turns",
            "Realtime responses done, by model and road",
            ("model", "road"),
            registry=self.registry,
        )
        self.realtime_tokens = Counter(
            "babelgate_realtime_tokens",
            "Realtime tokens, by model, direction (input, output) and modality (text, audio)",
            ("model", "direction", "modality"),
            registry=self.registry,
        )
        # With several workers, gauges read their largest value: 1 while any worker reaches Redis.
        self.redis_up = Gauge(
            "babelgate_redis_up",
            "1 while Redis answers (its breaker is closed), 0 while state is kept per instance",
            registry=self.registry,
        )
        self.workers: WorkerMetrics | None = None  # with several worker processes: all of them in /metrics
        # Observations wait in the slots of a batch of fixed size: storing into a slot is no call, where
        # an append and a length are two per request.
        self._batch: list[Observation | None] = [None] * _FLUSH_AT
        self._taken = 0

    def observe(self, observation: Observation) -> None:
        taken = self._taken
        self._batch[taken] = observation
        self._taken = taken = taken + 1
        if taken == _FLUSH_AT:
            self.flush()

    def routing_event(self, event: str, provider: str, model: str) -> None:
        """`retries`, `fallbacks`, `key_cooldowns`, `keys_rejected`, `pins_moved`: rare, so counted at once."""
        self.routing.labels(event, provider, model).inc()

    def realtime_turn(self, model: str, road: str, usage: Mapping[str, Any]) -> None:
        """One Realtime response done: its turn, and its tokens by direction and modality (its `usage`)."""
        self.realtime_turns.labels(model, road).inc()
        for direction in ("input", "output"):
            details = usage.get(f"{direction}_token_details")
            if not isinstance(details, dict):
                continue
            for modality in ("text", "audio"):
                count = details.get(f"{modality}_tokens")
                if count.__class__ is int and count > 0:
                    self.realtime_tokens.labels(model, direction, modality).inc(count)

    def exported(self, exporter: str, outcome: str, count: int) -> None:
        """An exporter's batch: `exported`, or the reason it was dropped (conversation/exporters/delivery.py)."""
        if outcome == "exported":
            self.exporter_exported.labels(exporter).inc(count)
        else:
            self.exporter_dropped.labels(exporter, outcome).inc(count)

    def guardrail_decisions_of(self, decided: Sequence[Any]) -> None:
        """One request's guardrail decisions, each (name, stage, action): counted in a plain dictionary, into the
        series at the next flush (every guarded request decides, and a series' own count takes a lock). Each is
        the tuple itself, not three strings (the compiled build would take a typed tuple apart and make it again
        to count it), and its count a list of one, added to in place: one lookup a decision."""
        pending = self._guardrail_pending
        for labels in decided:
            count = pending.get(labels)
            if count is None:
                pending[labels] = [1]
            else:
                count[0] += 1

    def cache_event(self, event: str, model: str) -> None:
        self.cache.labels(event, model).inc()

    def circuit(self, deployment: str, is_open: bool) -> None:
        provider, _, model = deployment.partition("/")
        self.circuit_open.labels(provider, model.partition("#")[0]).set(1 if is_open else 0)

    def flush(self) -> None:
        """The observations waiting, into the counts (a batch of at most `_FLUSH_AT`)."""
        if self._guardrail_pending:
            pending, self._guardrail_pending = self._guardrail_pending, {}
            children = self._guardrail_children
            for labels, count in pending.items():
                child = children.get(labels)
                if child is None:
                    child = children[labels] = self.guardrail_decisions.labels(*labels)
                child.inc(count[0])
        taken = self._taken
        if not taken:
            return
        batch = self._batch
        self._batch = [None] * _FLUSH_AT
        self._taken = 0
        del batch[taken:]
        self.per_request.add(cast("list[Observation]", batch))

    def share_with_workers(self, directory: str) -> None:
        self.workers = WorkerMetrics(directory, self.registry, self.flush)

    def render(self) -> bytes:
        self.flush()
        if self.workers is not None:
            return self.workers.render()
        return generate_latest(self.registry)
