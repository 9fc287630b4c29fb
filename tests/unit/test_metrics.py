"""The per-request metrics' own collector: the `/metrics` text it gives is the one prometheus_client's
Counter and Histogram gave for the same observations (the previous implementation, kept here as the
reference), alone and summed across workers, and a full batch is counted without waiting for a scrape."""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from babelgate.frontends.registry import operations
from babelgate.observability import metrics
from babelgate.observability.metrics import Metrics, Observation, telemetry_name
from babelgate.observability.worker_metrics import WorkerMetrics, snapshot
from babelgate.providers import TELEMETRY_NAMES

OPERATIONS = operations()


class Reference:
    """The metrics as they were: prometheus_client's collectors, children cached by the flush's key."""

    def __init__(self, telemetry_names: Mapping[str, str]) -> None:
        self.telemetry_names = telemetry_names
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
            buckets=metrics._BUCKETS,
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
            buckets=metrics._TOKEN_BUCKETS,
            registry=self.registry,
        )
        self.duration = Histogram(
            "gen_ai_server_request_duration_seconds",
            "Time from request to last byte (GenAI conventions)",
            (*gen_ai, "error_type", "route", "key_id"),
            buckets=metrics._DURATION_BUCKETS,
            registry=self.registry,
        )
        self.ttft = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time from request to the answer's first byte (GenAI conventions)",
            (*gen_ai, "route", "key_id"),
            buckets=metrics._TTFT_BUCKETS,
            registry=self.registry,
        )
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
        self.ledger_dropped = Gauge(
            "babelgate_ledger_dropped",
            "Ledger rows dropped (since start), by reason",
            ("reason",),
            registry=self.registry,
        )
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
        self.guardrail_decisions = Counter(
            "babelgate_guardrail_decisions",
            "Guardrail decisions, by guardrail, stage and action",
            ("name", "stage", "action"),
            registry=self.registry,
        )
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
        self.conversation_dropped = Gauge(
            "babelgate_conversation_dropped",
            "Logged requests the conversation log dropped (since start) before building them",
            registry=self.registry,
        )
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
        self.redis_up = Gauge(
            "babelgate_redis_up",
            "1 while Redis answers (its breaker is closed), 0 while state is kept per instance",
            registry=self.registry,
        )
        self._pending: list[Observation] = []
        self._children: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def observe(self, observation: Observation) -> None:
        self._pending.append(observation)
        if len(self._pending) >= 128:
            self.flush()

    def routing_event(self, event: str, provider: str, model: str) -> None:
        self.routing.labels(event, provider, model).inc()

    def cache_event(self, event: str, model: str) -> None:
        self.cache.labels(event, model).inc()

    def circuit(self, deployment: str, is_open: bool) -> None:
        provider, _, model = deployment.partition("/")
        self.circuit_open.labels(provider, model.partition("#")[0]).set(1 if is_open else 0)

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        for o in pending:
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
            return (*own, None, None, None, None)
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

    def render(self) -> bytes:
        self.flush()
        return generate_latest(self.registry)


# Values on and around the bounds, past the last one, and zero.
SECONDS = (0.0, 0.001, 0.005, 0.0051, 0.01, 0.02, 0.3, 0.64, 1.0, 1.28, 2.5, 81.92, 100.0, 299.9, 300.0, 1e4)
TOKENS = (0, 0, 1, 3, 4, 5, 16, 1000, 1024, 70000, 67108864, 10**9)


def _observations(count: int, seed: int) -> list[Observation]:
    chance = random.Random(seed)
    kinds = [
        ("chat.completions", "openai", "openai", "gpt-4o-mini", "gpt-4o-mini", 200, ""),
        ("chat.completions", "openai", "openai", "gpt-4o", "gpt-4o", 502, "upstream_error"),
        ("messages", "claude", "anthropic", "sonnet", "claude-sonnet", 200, ""),
        ("embeddings", "gem", "gemini", "embed", "text-embedding", 200, ""),
        ("ollama.generate", "local", "ollama", "llama", "llama3", 429, "rate_limited"),
        ("audio.speech", "mystery", "", "tts", "tts-1", 200, ""),  # no known provider type, an unnamed route
        ("chat.completions", "", "", "", "", 401, "invalid_api_key"),  # refused before any model
        ("chat.completions", "openai", "openai", "", "", 400, "invalid_request"),  # no model asked for
        ("chat.completions", "openai", "openai", "gpt-4o-mini", "gpt-4o-mini", 200, "client_closed"),
    ]
    found = []
    for _ in range(count):
        route, provider, provider_type, requested, model, status, error = chance.choice(kinds)
        found.append(
            Observation(
                route=route,
                provider=provider,
                provider_type=provider_type,
                requested_model=requested,
                model=model,
                status=status,
                seconds=chance.choice(SECONDS),
                ttft=chance.choice((None, *SECONDS)),
                error_code=error,
                prompt_tokens=chance.choice(TOKENS),
                completion_tokens=chance.choice(TOKENS),
                key_id=chance.choice(("k1", "k2", "static-3f2a")),
            )
        )
    return found


def _events(target: Metrics | Reference) -> None:
    target.routing_event("retries", "openai", "gpt-4o")
    target.cache_event("hit", "cached")
    target.circuit("openai/gpt-4o#1", True)
    target.ledger_depth.set(3)
    target.ledger_dropped.labels("queue_full").set(0)
    target.redis_up.set(1)
    for _ in range(2):
        if isinstance(target, Reference):
            target.guardrail_decisions.labels("pii", "input", "mask").inc()
        else:
            target.guardrail_decisions_of([("pii", "input", "mask")])
    target.exporter_exported.labels("otlp").inc(3)
    target.exporter_dropped.labels("otlp", "queue_full").inc()
    target.conversation_dropped.inc()
    target.realtime_opened.labels("relay").inc()
    if isinstance(target, Reference):
        target.realtime_turns.labels("voice", "relay").inc()
        target.realtime_tokens.labels("voice", "input", "audio").inc(100)
        target.realtime_tokens.labels("voice", "output", "text").inc(30)
    else:
        usage = {
            "input_token_details": {"audio_tokens": 100, "text_tokens": 0},
            "output_token_details": {"text_tokens": 30},
        }
        target.realtime_turn("voice", "relay", usage)


def _without_created(text: bytes) -> str:
    """The text with each `_created` sample's value (a time) left out."""
    return re.sub(r"(?m)^(\w+_created(?:\{.*\})?) \S+$", r"\1 <time>", text.decode())


def test_the_text_is_prometheus_clients_for_the_same_observations() -> None:
    ours, reference = Metrics(TELEMETRY_NAMES, OPERATIONS), Reference(TELEMETRY_NAMES)
    assert ours.render() == reference.render()  # nothing observed yet: the families' headers alone
    observations = _observations(700, seed=29)
    for target in (ours, reference):
        _events(target)
    # A scrape between two full batches, then more batches and a partial one.
    for part in (observations[:100], observations[100:]):
        for observation in part:
            ours.observe(observation)
            reference.observe(observation)
        text = _without_created(ours.render())
        assert text == _without_created(reference.render())
    for family in ("babelgate_requests_total", "babelgate_tokens_total", "gen_ai_client_token_usage_bucket"):
        assert family in text
    assert 'le="6.7108864e+07"' in text and "babelgate_errors_total" in text


def test_created_is_when_a_series_was_first_counted() -> None:
    ours = Metrics(TELEMETRY_NAMES, OPERATIONS)
    before = time.time()
    ours.observe(_observations(1, seed=1)[0])
    ours.flush()
    created = [s.value for family in ours.registry.collect() for s in family.samples if s.name.endswith("_created")]
    assert created and all(before <= value <= time.time() for value in created)


def test_a_full_batch_is_counted_without_a_scrape() -> None:
    ours = Metrics(TELEMETRY_NAMES, OPERATIONS)
    observation = _observations(1, seed=2)[0]._replace(route="chat.completions", status=200, key_id="k1")
    labels = {"route": "chat.completions", "provider": observation.provider, "model": observation.model}
    labels |= {"status": "200", "key_id": "k1"}
    for _ in range(127):
        ours.observe(observation)
    assert ours.registry.get_sample_value("babelgate_requests_total", labels) is None
    ours.observe(observation)
    assert ours.registry.get_sample_value("babelgate_requests_total", labels) == 128
    ours.observe(observation)
    ours.flush()
    ours.flush()  # nothing left: counted once
    assert ours.registry.get_sample_value("babelgate_requests_total", labels) == 129


def _two_workers(make: type[Metrics] | type[Reference], directory: Path) -> bytes:
    """`/metrics` of one worker, with another's snapshot beside its own (the other: a live process)."""
    this, other = (
        (Metrics(TELEMETRY_NAMES, OPERATIONS), Metrics(TELEMETRY_NAMES, OPERATIONS))
        if make is Metrics
        else (make(TELEMETRY_NAMES), make(TELEMETRY_NAMES))
    )
    for target, part in ((this, _observations(300, seed=3)), (other, _observations(200, seed=4))):
        _events(target)
        for observation in part:
            target.observe(observation)
        target.flush()
    other.circuit("openai/gpt-4o#1", False)  # gauges: the largest value
    (directory / f"{os.getppid()}.json").write_bytes(orjson.dumps(snapshot(other.registry)))
    return WorkerMetrics(str(directory), this.registry, this.flush).render()


def test_the_sum_across_workers_is_the_same(tmp_path: Path) -> None:
    (tmp_path / "ours").mkdir()
    (tmp_path / "reference").mkdir()
    text = _without_created(_two_workers(Metrics, tmp_path / "ours"))
    assert text == _without_created(_two_workers(Reference, tmp_path / "reference"))
    assert 'babelgate_circuit_open{model="gpt-4o",provider="openai"} 1.0' in text
