"""The router's decisions, each on its own: a failure's kind → the step it calls for (routing/retry.py's
`next_step`)."""

from __future__ import annotations

import pytest

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
from babelgate.routing.retry import Failure, Step, classify, next_step


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
