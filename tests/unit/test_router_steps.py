"""The router's decisions, each on its own: a failure's kind → the step it calls for → what taking it does
to the request's course (routing/retry.py's `next_step`, router.py's `_record_failure`, `_take`,
`_next_round`), and the loop that names them."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from babelgate.config import load_config
from babelgate.errors import (
    GatewayError,
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
from babelgate.routing import router as router_module
from babelgate.routing.health import Health
from babelgate.routing.registry import Deployment, ModelRegistry
from babelgate.routing.retry import Failure, Step, classify, next_step
from babelgate.routing.router import ATTEMPTS_HEADER, MAX_ATTEMPTS, ROUTE_HEADER, Router, _Course

CONFIG = """\
providers:
  a: {type: openai, base_url: 'http://127.0.0.1:1/v1', api_key: env:A}
  b: {type: openai, base_url: 'http://127.0.0.1:2/v1', api_key: env:A}
routing: {circuit: {failures: 2, cooldown: 30}}
models:
  multi:
    deployments: [{provider: a, model: m1}, {provider: b, model: m2}]
    fallbacks: [spare, other]
    context_window_fallbacks: [long]
    content_policy_fallbacks: [lenient]
    routing: {retries: 2, budget: 10, backoff: {initial: 0.5, max: 4}}
  spare: {provider: b, model: spare, fallbacks: []}
  other: {provider: a, model: other, fallbacks: []}
  long: {provider: b, model: long, fallbacks: []}
  lenient: {provider: a, model: lenient, fallbacks: []}
"""


def _error(error: GatewayError, *, other_key_free: bool = False) -> GatewayError:
    error.other_key_free = other_key_free
    return error


# Every kind of failure an attempt meets, the kind it is, and the step the router takes.
STEPS = [
    (UpstreamUnavailable(provider="p"), Failure.RETRYABLE, Step.ELSEWHERE),
    (_error(UpstreamUnavailable(provider="p"), other_key_free=True), Failure.RETRYABLE, Step.ELSEWHERE),
    (UpstreamRateLimited(provider="p"), Failure.RETRYABLE, Step.ELSEWHERE),
    (_error(UpstreamRateLimited(provider="p"), other_key_free=True), Failure.RETRYABLE, Step.AGAIN),
    (UpstreamTimeout(provider="p", phase="first byte"), Failure.RETRYABLE, Step.ELSEWHERE),
    (UpstreamConnectionFailed(provider="p"), Failure.RETRYABLE, Step.ELSEWHERE),
    (UpstreamProtocolError(provider="p"), Failure.RETRYABLE, Step.ELSEWHERE),
    (UpstreamError(provider="p", upstream_status=500), Failure.RETRYABLE, Step.ELSEWHERE),
    (UpstreamAuthFailed(provider="p"), Failure.KEY_REJECTED, Step.REFUSED),
    (_error(UpstreamAuthFailed(provider="p"), other_key_free=True), Failure.KEY_REJECTED, Step.AGAIN),
    (
        UpstreamRejected(provider="p", status=400, code="context_length_exceeded"),
        Failure.CONTEXT_WINDOW,
        Step.CONTEXT_WINDOW_FALLBACK,
    ),
    (
        UpstreamRejected(provider="p", status=400, code="content_policy_violation"),
        Failure.CONTENT_POLICY,
        Step.CONTENT_POLICY_FALLBACK,
    ),
    (UpstreamRejected(provider="p", status=400), Failure.FINAL, Step.GIVE_UP),
    (InvalidRequest("invalid_json"), Failure.FINAL, Step.GIVE_UP),
]


@pytest.mark.parametrize(("error", "kind", "step"), STEPS)
def test_each_failure_kind_calls_for_its_step(error: GatewayError, kind: Failure, step: Step) -> None:
    assert classify(error) is kind
    assert next_step(kind, status=error.status, other_key_free=error.other_key_free) is step


class Recorder:
    """Metrics' routing events, as the router reports them."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def routing_event(self, event: str, provider: str, model: str) -> None:
        self.events.append((event, provider, model))


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    config = load_config(path, {"A": "sk-aaaa-1111"}, available_types=PROVIDER_TYPES)
    client = UpstreamClient()
    providers = {name: build_provider(name, c, config.server, client) for name, c in config.providers.items()}
    return ModelRegistry(config, providers)


@pytest.fixture
def metrics() -> Recorder:
    return Recorder()


@pytest.fixture
def router(registry: ModelRegistry, metrics: Recorder) -> Router:
    return Router(registry, Health(), metrics)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("step", "goes_on", "failed", "rejected", "route", "events"),
    [
        (Step.AGAIN, True, set(), set(), "multi", []),
        (Step.ELSEWHERE, True, {"a/m1"}, set(), "multi", []),
        (Step.REFUSED, True, {"a/m1"}, {"a/m1"}, "multi", []),
        # A fallback's round starts afresh, but for the deployments whose credentials were refused.
        (Step.CONTEXT_WINDOW_FALLBACK, True, {"b/m2"}, {"b/m2"}, "long", [("fallbacks", "a", "multi")]),
        (Step.CONTENT_POLICY_FALLBACK, True, {"b/m2"}, {"b/m2"}, "lenient", [("fallbacks", "a", "multi")]),
        (Step.GIVE_UP, False, {"a/x", "b/m2"}, {"b/m2"}, "multi", []),
    ],
)
def test_taking_a_step_moves_the_course(
    router: Router,
    registry: ModelRegistry,
    metrics: Recorder,
    step: Step,
    goes_on: bool,
    failed: set[str],
    rejected: set[str],
    route: str,
    events: list[tuple[str, str, str]],
) -> None:
    course = _Course(registry.route("multi"))
    course.trail.append("a/m1=503")
    if step in (Step.CONTEXT_WINDOW_FALLBACK, Step.CONTENT_POLICY_FALLBACK, Step.GIVE_UP):
        course.failed, course.rejected = frozenset({"a/x", "b/m2"}), frozenset({"b/m2"})
    assert router._take(course, step, "a/m1") is goes_on
    assert (course.failed, course.rejected) == (failed, rejected)
    assert course.route.public_name == route
    assert metrics.events == events
    if route != "multi":
        assert course.fallbacks == [] and course.retries == 0 and route in course.visited


def test_a_fallback_step_with_nowhere_left_to_go_gives_up(router: Router, registry: ModelRegistry) -> None:
    course = _Course(registry.route("multi"))
    course.visited.add("long")  # taken before in this request
    assert not router._take(course, Step.CONTEXT_WINDOW_FALLBACK, "a/m1")
    assert course.route.public_name == "multi"


def test_the_attempts_stop_at_max_attempts(router: Router, registry: ModelRegistry) -> None:
    course = _Course(registry.route("multi"))
    course.trail.extend(["a/m1=429"] * (MAX_ATTEMPTS - 1))
    assert router._take(course, Step.AGAIN, "a/m1")
    course.trail.append("a/m1=429")
    assert not router._take(course, Step.AGAIN, "a/m1")


@pytest.mark.parametrize(("error", "kind", "step"), STEPS)
def test_only_a_retryable_failure_counts_against_the_circuit(
    router: Router, registry: ModelRegistry, error: GatewayError, kind: Failure, step: Step
) -> None:
    course = _Course(registry.route("multi"))
    headers = [(b"x-other", b"1"), (ROUTE_HEADER, b"a/m1=ok"), (ATTEMPTS_HEADER, b"1")]
    health = router.health
    for number in (1, 2):  # the route's circuit opens at the second failure in a row
        health.begin("a/m1")
        router._record_failure(course, headers, "a/m1", kind, error)
        assert health.in_flight("a/m1") == 0 and course.last is error and len(course.trail) == number
    assert health.circuit("a/m1") == ("open" if kind is Failure.RETRYABLE else "closed")
    entry = course.trail[0]
    assert headers == [(b"x-other", b"1"), (ROUTE_HEADER, f"{entry}, {entry}".encode()), (ATTEMPTS_HEADER, b"2")]


def test_a_spent_round_is_retried_after_a_backoff_while_retries_last(
    router: Router, registry: ModelRegistry, metrics: Recorder
) -> None:
    course = _Course(registry.route("multi"))
    course.last = UpstreamUnavailable(provider="a")
    course.failed, course.rejected = frozenset({"a/m1", "b/m2"}), frozenset({"b/m2"})
    wait = router._next_round(course)
    assert wait is not None and 0 <= wait <= 0.5  # the first retry's bound: backoff.initial
    assert course.retries == 1 and course.failed == {"b/m2"} and course.route.public_name == "multi"
    assert metrics.events == [("retries", "a", "multi")]


def test_a_retry_waits_for_retry_after(router: Router, registry: ModelRegistry) -> None:
    course = _Course(registry.route("multi"))
    course.last, course.failed = UpstreamRateLimited(provider="a", retry_after=3.0), frozenset({"a/m1"})
    assert router._next_round(course) == 3.0  # never sooner, though the first retry's bound is 0.5


@pytest.mark.parametrize(
    ("retries", "retry_after", "failed", "rejected"),
    [
        (2, None, {"a/m1", "b/m2"}, set()),  # no retry left
        (0, 11.0, {"a/m1", "b/m2"}, set()),  # its Retry-After is past the budget
        (0, None, {"b/m2"}, {"b/m2"}),  # only refused credentials failed: a retry changes nothing
        (0, None, set(), set()),  # nothing failed: every circuit is open
    ],
)
def test_a_spent_route_falls_back_at_once(
    router: Router,
    registry: ModelRegistry,
    metrics: Recorder,
    retries: int,
    retry_after: float | None,
    failed: set[str],
    rejected: set[str],
) -> None:
    course = _Course(registry.route("multi"))
    course.retries, course.failed, course.rejected = retries, frozenset(failed), frozenset(rejected)
    course.last = UpstreamUnavailable(provider="a", retry_after=retry_after)
    assert router._next_round(course) == 0.0
    assert course.route.public_name == "spare" and course.fallbacks == [] and course.retries == 0
    assert course.failed == rejected and metrics.events == [("fallbacks", "a", "multi")]
    assert router._next_round(course) is None  # the fallback's own fallbacks (none) are what is left


def test_a_route_taken_before_is_not_a_fallback_again(router: Router, registry: ModelRegistry) -> None:
    course = _Course(registry.route("multi"))
    course.visited.add("spare")
    assert router._next_round(course) == 0.0 and course.route.public_name == "other"


Script = list[GatewayError | None]  # each attempt's failure in turn; None: it answers


def _attempts(script: Script, tried: list[str]) -> Any:
    async def attempt(deployment: Deployment) -> str:
        tried.append(deployment.label)
        failure = script.pop(0)
        if failure is not None:
            raise failure
        return deployment.label

    return attempt


async def test_the_loop_fails_over_then_falls_back_and_lists_every_attempt(
    router: Router, registry: ModelRegistry, metrics: Recorder
) -> None:
    multi = registry.route("multi")
    route = replace(multi, policy=replace(multi.policy, retries=0))
    headers: list[tuple[bytes, bytes]] = []
    tried: list[str] = []
    failures: Script = [UpstreamUnavailable(provider="p"), UpstreamTimeout(provider="p", phase="x"), None]
    answer = await router.run(route, headers, lambda: None, _attempts(failures, tried))
    assert answer == "b/spare" and tried[2] == "b/spare" and sorted(tried[:2]) == ["a/m1", "b/m2"]
    route_header = f"{tried[0]}=503, {tried[1]}=upstream_timeout, b/spare=ok".encode()
    assert headers == [(ROUTE_HEADER, route_header), (ATTEMPTS_HEADER, b"3")]
    assert metrics.events == [("fallbacks", "a", "multi")]


async def test_the_client_s_own_mistake_is_its_answer_at_once(router: Router, registry: ModelRegistry) -> None:
    mistake = UpstreamRejected(provider="p", status=400)
    tried: list[str] = []
    with pytest.raises(UpstreamRejected) as raised:
        await router.run(registry.route("multi"), [], lambda: None, _attempts([mistake], tried))
    assert raised.value is mistake and len(tried) == 1 and router.health.in_flight(tried[0]) == 0


async def test_a_cancelled_attempt_ends_without_counting_against_the_circuit(
    router: Router, registry: ModelRegistry
) -> None:
    async def attempt(deployment: Deployment) -> str:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await router.run(registry.route("multi"), [], lambda: None, attempt)
    assert all(router.health.in_flight(d) == 0 for d in ("a/m1", "b/m2")) and not router.health.snapshot()


@pytest.mark.skipif(not router_module.__file__.endswith(".py"), reason="compiled: no Python frames to count")
async def test_a_first_attempt_that_answers_calls_no_failure_helper(router: Router, registry: ModelRegistry) -> None:
    """The request path's usual case: the loop picks, announces and attempts, nothing more of the router's."""
    called: list[str] = []

    def profile(frame: FrameType, event: str, _: Any) -> None:
        if event == "call" and frame.f_code.co_filename == router_module.__file__:
            called.append(frame.f_code.co_name)

    headers: list[tuple[bytes, bytes]] = []
    route = registry.route("multi")
    sys.setprofile(profile)
    try:
        answer = await router.run(route, headers, lambda: None, _attempts([None], []))
    finally:
        sys.setprofile(None)
    assert set(called) <= {"run", "__init__", "_pick", "<listcomp>"}  # the course, the pick and its candidates
    assert headers == [(ROUTE_HEADER, f"{answer}=ok".encode()), (ATTEMPTS_HEADER, b"1")]
