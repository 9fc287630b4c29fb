"""The router's pure parts: failure kinds, backoff, circuit state, policies and routes from config."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelgate.config import ConfigError, load_config
from babelgate.errors import (
    InvalidRequest,
    UpstreamAuthFailed,
    UpstreamConnectionFailed,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from babelgate.http import UpstreamClient
from babelgate.providers import PROVIDER_TYPES, build_provider
from babelgate.routing.health import Health
from babelgate.routing.registry import ModelRegistry, RegistryError
from babelgate.routing.retry import Failure, backoff, classify, outcome_label


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (UpstreamRateLimited(provider="p"), Failure.RETRYABLE),
        (UpstreamUnavailable(provider="p"), Failure.RETRYABLE),
        (UpstreamTimeout(provider="p", phase="first byte"), Failure.RETRYABLE),
        (UpstreamConnectionFailed(provider="p"), Failure.RETRYABLE),
        (UpstreamError(provider="p", upstream_status=500), Failure.RETRYABLE),
        (UpstreamProtocolError(provider="p"), Failure.RETRYABLE),
        (UpstreamAuthFailed(provider="p"), Failure.KEY_REJECTED),
        (UpstreamRejected(provider="p", status=400), Failure.FINAL),
        (UpstreamRejected(provider="p", status=400, code="context_length_exceeded"), Failure.CONTEXT_WINDOW),
        (UpstreamRejected(provider="p", status=400, code="content_policy_violation"), Failure.CONTENT_POLICY),
        (InvalidRequest("invalid_json"), Failure.FINAL),
    ],
)
def test_failures_are_classified_by_type_and_code(error: Exception, kind: Failure) -> None:
    assert classify(error) is kind  # type: ignore[arg-type]


def test_outcome_labels_name_the_upstream_status_or_the_code() -> None:
    assert outcome_label(UpstreamError(provider="p", upstream_status=500)) == "500"
    assert outcome_label(UpstreamRateLimited(provider="p")) == "429"
    assert outcome_label(UpstreamConnectionFailed(provider="p")) == "upstream_connection_error"
    assert outcome_label(UpstreamTimeout(provider="p", phase="x")) == "upstream_timeout"


def test_backoff_is_full_jitter_below_an_exponential_bound_and_honours_retry_after() -> None:
    for attempt, bound in ((1, 0.5), (2, 1.0), (3, 2.0), (6, 4.0)):
        delays = [backoff(attempt, initial=0.5, maximum=4.0, retry_after=None) for _ in range(200)]
        assert all(0 <= d <= bound for d in delays)
        assert max(delays) > bound / 2  # spread over the range, not a fixed wait
    assert all(backoff(1, initial=0.5, maximum=4.0, retry_after=3.0) >= 3.0 for _ in range(50))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_circuit_opens_after_consecutive_failures_and_lets_one_probe_through() -> None:
    clock = Clock()
    health = Health(clock)
    changes: list[tuple[str, str]] = []
    health.on_circuit = lambda name, state: changes.append((name, state))
    for _ in range(2):
        health.begin("d")
        health.failed("d", threshold=3, cooldown=10)
    health.begin("d")
    health.succeeded("d", 0.1)  # a success resets the count
    for _ in range(3):
        assert health.admits("d")
        health.begin("d")
        health.failed("d", threshold=3, cooldown=10)
    assert health.circuit("d") == "open" and not health.admits("d")
    assert changes == [("d", "open")]
    clock.now += 10
    assert health.circuit("d") == "half_open" and health.admits("d")
    health.begin("d")  # the probe
    assert not health.admits("d")  # only one
    health.failed("d", threshold=3, cooldown=10)
    assert health.circuit("d") == "open" and health.reopens_in("d") == 10
    clock.now += 10
    health.begin("d")
    health.succeeded("d", 0.2)
    assert health.circuit("d") == "closed" and changes[-1] == ("d", "closed")


def test_latency_is_an_exponentially_weighted_average() -> None:
    health = Health()
    for seconds in (1.0, 0.0):
        health.begin("d")
        health.succeeded("d", seconds)
    assert health.latency("d") == pytest.approx(0.7)
    assert health.in_flight("d") == 0


def _registry(tmp_path: Path, yaml_text: str) -> ModelRegistry:
    path = tmp_path / "c.yaml"
    path.write_text(
        "providers:\n  a: {type: openai, base_url: 'http://127.0.0.1:1/v1', api_key: env:A}\n"
        "  b: {type: openai, base_url: 'http://127.0.0.1:2/v1', api_key: env:B}\n" + yaml_text
    )
    config = load_config(
        path, {"A": "sk-aaaa-1111", "B": "sk-bbbb-2222", "OWN": "sk-own-key-3333"}, available_types=PROVIDER_TYPES
    )
    client = UpstreamClient()
    providers = {name: build_provider(name, c, config.server, client) for name, c in config.providers.items()}

    def variant(name: str, changes: dict[str, object]) -> object:
        return build_provider(name, config.providers[name].model_copy(update=changes), config.server, client)

    return ModelRegistry(config, providers, variant)  # type: ignore[arg-type]


def test_a_model_with_deployments_becomes_a_route(tmp_path: Path) -> None:
    registry = _registry(
        tmp_path,
        """\
routing: {retries: 1, fallbacks: [solo], circuit: {failures: 2, cooldown: 5}}
models:
  multi:
    deployments:
      - {provider: a, model: m1, weight: 2, defaults: {temperature: 0.5}}
      - {provider: b, model: m2, api_key: env:OWN}
      - {provider: b, model: m2}
    defaults: {top_p: 0.9}
    routing: {balance: least_busy, retries: 3}
  solo: {provider: a, model: m3, fallbacks: []}
""",
    )
    route = registry.route("multi")
    assert [d.name for d in route.deployments] == ["a/m1", "b/m2", "b/m2#2"]
    assert route.deployments[0].weight == 2
    assert dict(route.deployments[0].defaults) == {"top_p": 0.9, "temperature": 0.5}
    assert route.policy.retries == 3 and route.policy.balance == "least_busy" and route.policy.circuit_failures == 2
    assert route.fallbacks == ("solo",) and not route.simple
    assert route.deployments[1].provider is not route.deployments[2].provider  # its own key pool
    assert registry.route("a/other").fallbacks == ("solo",)  # the server's list reaches every model
    assert registry.resolve("multi").model == "m1"


def test_a_fallback_that_does_not_resolve_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError) as caught:
        _registry(tmp_path, "models:\n  m: {provider: a, model: x, fallbacks: [nowhere]}\n")
    assert caught.value.path == "models.m.fallbacks[0]"


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "models:\n  m: {provider: a, model: x, deployments: [{provider: b, model: y}]}\n",
            "c.yaml: models.m: give either provider and model, or deployments, not both",
        ),
        (
            "models:\n  m: {deployments: [{provider: c, model: y}]}\n",
            "c.yaml: models.m.deployments[0].provider: unknown provider 'c' (configured: a, b",
        ),
        (
            "models:\n  m: {deployments: [{provider: a, model: y, api_key: sk-literal}]}\n",
            "models.m.deployments[0].api_key: must be an 'env:VAR_NAME' reference, "
            "so that the secret stays out of the file",
        ),
        (
            "models:\n  m: {provider: a, model: x, fallbacks: [m]}\n",
            "c.yaml: models.m.fallbacks: a model cannot be its own fallback",
        ),
    ],
)
def test_deployment_config_errors_name_the_key(tmp_path: Path, yaml_text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _registry(tmp_path, yaml_text)
    assert expected in str(caught.value)


def test_redis_comes_from_the_file_or_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("redis: {url: env:MY_REDIS, prefix: 'team-a:'}\n")
    config = load_config(path, {"MY_REDIS": "redis://:secret@10.0.0.5:6379/2"}, available_types=PROVIDER_TYPES)
    assert config.redis is not None and config.redis.url == "redis://:secret@10.0.0.5:6379/2"
    assert config.redis.prefix == "team-a:" and "secret" not in repr(config)
    from_env = load_config(None, {"BABELGATE_REDIS_URL": "redis://127.0.0.1:6379/0"}, available_types=PROVIDER_TYPES)
    assert from_env.redis is not None and from_env.redis.prefix == "babelgate:"
    assert load_config(None, {}, available_types=PROVIDER_TYPES).redis is None
    path.write_text("redis: {url: 'http://nope'}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {}, available_types=PROVIDER_TYPES)
    assert "redis.url" in str(caught.value)
