"""What a failed attempt means for the next one: the failure's kind, the step it calls for, and how long to wait.

The kinds are decided from the typed error (errors.py), never from message
text: a retryable failure may be tried again (on this model's deployments, then its fallbacks);
a context-window overflow or a content-policy refusal goes to its own fallback list; anything
else is the client's answer at once. The router (router.py) takes the step.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from babelgate.errors import (
    GatewayError,
    UpstreamAuthFailed,
    UpstreamConnectionFailed,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from babelgate.randomness import RANDOM

# Codes the providers' error mappers give an upstream's refusal of a too-long prompt or of content.
CONTEXT_WINDOW_CODES: Final = frozenset({"context_length_exceeded", "context_window_exceeded"})
CONTENT_POLICY_CODES: Final = frozenset({"content_policy_violation", "content_filter"})


class Failure(Enum):
    RETRYABLE = "retryable"  # 408, 429, 500, 502, 503, 504, 529, refused or reset connections, timeouts,
    # answers that break the protocol (malformed, cut off, oversized)
    KEY_REJECTED = "key_rejected"  # 401/403 for our upstream key: another key of the pool, else another deployment
    CONTEXT_WINDOW = "context_window"
    CONTENT_POLICY = "content_policy"
    FINAL = "final"  # the client's own mistake (400, 404, 413…): no attempt elsewhere changes it


def classify(error: GatewayError) -> Failure:
    # A malformed, cut-off or oversized answer is the upstream's failure like a reset connection: the
    # router retries it only while nothing has reached the client (router.py checks that).
    if isinstance(
        error,
        UpstreamRateLimited | UpstreamUnavailable | UpstreamTimeout | UpstreamConnectionFailed | UpstreamProtocolError,
    ):
        return Failure.RETRYABLE
    if isinstance(error, UpstreamAuthFailed):
        return Failure.KEY_REJECTED
    if error.code in CONTEXT_WINDOW_CODES:
        return Failure.CONTEXT_WINDOW
    if error.code in CONTENT_POLICY_CODES:
        return Failure.CONTENT_POLICY
    # An upstream 500 or 502 (UpstreamError itself, not a subclass such as a malformed body).
    if type(error) is UpstreamError:
        return Failure.RETRYABLE
    return Failure.FINAL


class Step(Enum):
    """What the router does after a failed attempt."""

    AGAIN = "again"  # another key of the deployment's pool is free: the deployment stays a candidate
    ELSEWHERE = "elsewhere"  # another deployment: this one is out until the next round
    REFUSED = "refused"  # our credentials for it were refused, every key: out for the rest of the request
    CONTEXT_WINDOW_FALLBACK = "context_window_fallback"  # the route's context-window fallbacks, at once
    CONTENT_POLICY_FALLBACK = "content_policy_fallback"  # the route's content-policy fallbacks, at once
    GIVE_UP = "give_up"  # the failure is the client's answer


def next_step(kind: Failure, *, status: int, other_key_free: bool) -> Step:
    """The step after a failure of `kind`; `status` and `other_key_free`: the error's (errors.GatewayError)."""
    if kind is Failure.RETRYABLE:
        # A 429 with another key free: this deployment may go again at once, with that key.
        return Step.AGAIN if status == 429 and other_key_free else Step.ELSEWHERE
    if kind is Failure.KEY_REJECTED:
        # With no key of this deployment left, the gateway's credentials for it are wrong (an expired key, a
        # model not enabled in that cloud account), never the client's fault, and another deployment's or a
        # fallback's may be good. When none serves, the client gets the refusal.
        return Step.AGAIN if other_key_free else Step.REFUSED
    if kind is Failure.CONTEXT_WINDOW:
        return Step.CONTEXT_WINDOW_FALLBACK
    if kind is Failure.CONTENT_POLICY:
        return Step.CONTENT_POLICY_FALLBACK
    return Step.GIVE_UP


def outcome_label(error: GatewayError) -> str:
    """How `x-babelgate-route` names a failed attempt: the upstream's status where it had one
    (docs/decisions.md, "Deployments, fallbacks and the route header"), else the error's code."""
    status = error.params.get("upstream_status")
    if isinstance(status, int):
        return str(status)
    if isinstance(error, UpstreamRateLimited | UpstreamUnavailable | UpstreamAuthFailed) or (
        isinstance(error, UpstreamError) and error.status < 500
    ):
        return str(error.status)
    return error.label


def backoff(attempt: int, *, initial: float, maximum: float, retry_after: float | None) -> float:
    """Seconds before retry number `attempt` (1 for the first retry): exponential with full jitter
    (a uniform draw below the exponential bound, so that clients that failed together do not
    come back together), and never sooner than the upstream's `Retry-After`."""
    bound = min(maximum, initial * (2 ** (attempt - 1)))
    delay = RANDOM.uniform(0.0, bound)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
