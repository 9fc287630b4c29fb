"""The router: which deployment serves each attempt of a request, and what happens after a failure.

A simple route (one deployment, no retries, no fallbacks) is one attempt and never comes here
(pipeline.py conducts it itself). Attempts return their answer and nothing reaches the client while they run, so
any failure may be retried. Otherwise, for a model's route:

1. pick a deployment among those whose circuit admits a request and which has a key not resting
   after a 429 (unless every one rests): the one the request's session is pinned to (affinity.py,
   pins.py) while it can take it, else by the model's `balance` (weighted random, least busy,
   lowest latency); the deployment that answers a session's request is its pin from then on;
2. on a retryable failure (before anything reached the client), fail over at once to another
   deployment of the model that has not failed in this round;
3. when every deployment failed in this round, retry with exponential backoff and full jitter
   (never sooner than the upstream's `Retry-After`), up to `retries` times within `budget` seconds;
4. then the model's fallbacks, in order, each with its own route; a context-window overflow and
   a content-policy refusal go to their own fallback lists at once;
5. a final failure (the client's own mistake) is the client's answer at once.

Every attempt is recorded in `x-babelgate-route` (`provider/model=outcome`, docs/decisions.md, "Deployments, fallbacks
and the route header").

`Router.run` is the loop; each decision is a function of its own: `_pick` (1), retry.py's `classify` and
`next_step` for what a failure calls for, `_record_failure` (the circuit and the route header) and `_take`
(2, 4, 5), and `_next_round` (3, 4). A first attempt that answers meets none of the failures' helpers.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Final, TypeVar

from babelgate import headers as gateway_headers
from babelgate.errors import GatewayError, UpstreamUnavailable
from babelgate.randomness import RANDOM
from babelgate.routing.health import Health
from babelgate.routing.pins import Pins
from babelgate.routing.registry import Deployment, ModelRegistry, ModelRoute
from babelgate.routing.retry import Failure, Step, backoff, classify, next_step, outcome_label

if TYPE_CHECKING:
    from babelgate.observability.metrics import Metrics

log = logging.getLogger("babelgate.router")
T = TypeVar("T")
ROUTE_HEADER: Final = b"x-babelgate-route"
ATTEMPTS_HEADER: Final = gateway_headers.ATTEMPTS
MAX_ATTEMPTS: Final = 32  # whatever the settings, one request never makes more upstream calls
_NONE: Final[frozenset[str]] = frozenset()


class _Course:
    """Where one request's attempts stand: the route they are on, what is left of it, and what failed.

    Its sets of deployments are frozen and replaced when a failure adds to them, so that a request whose
    first attempt answers allocates none."""

    __slots__ = ("deadline", "failed", "fallbacks", "last", "rejected", "retries", "route", "trail", "visited")

    def __init__(self, route: ModelRoute) -> None:
        self.route = route
        self.fallbacks = list(route.fallbacks)  # the current route's, still to try in order
        self.retries = 0  # made on the current route
        self.failed = _NONE  # deployments of the current route that failed in this round
        # Deployments whose credentials the upstream refused (401/403) in this request: not tried again, in any
        # round or fallback (the same label is the same provider and credentials).
        self.rejected = _NONE
        self.visited = {route.public_name}  # routes taken: none is taken twice
        self.trail: list[str] = []  # the attempts so far, as the route header lists them
        self.last: GatewayError | None = None  # the latest failure
        # The budget is the request's: a fallback's retries wait only within what is left of it.
        self.deadline = time.monotonic() + route.policy.budget

    def switch(self, route: ModelRoute) -> None:
        """On to a fallback: its own fallbacks and retries, every deployment a candidate but the rejected."""
        self.route, self.fallbacks, self.retries, self.failed = route, list(route.fallbacks), 0, self.rejected

    def new_round(self) -> None:
        """Every deployment of the route a candidate again but the rejected."""
        self.failed = self.rejected


class Router:
    def __init__(
        self, registry: ModelRegistry, health: Health, metrics: Metrics | None = None, pins: Pins | None = None
    ) -> None:
        self.registry = registry
        self.health = health
        self.metrics = metrics
        self.pins = pins if pins is not None else Pins()

    async def run(
        self,
        route: ModelRoute,
        headers: list[tuple[bytes, bytes]],
        watch: Callable[[], None],
        attempt: Callable[[Deployment], Awaitable[T]],
        session: str | None = None,
    ) -> T:
        """Attempts on `route` until one answers (what it returns); nothing has reached the client while
        attempts run (an attempt returns its answer; pipeline.py sends it). `headers`: the answer's
        headers, where the route headers go; `watch`: from now on, a client that leaves cancels the call;
        `session`: the pin's name (affinity.Session.key) when the route's policy keeps sessions on a deployment."""
        course = _Course(route)
        pinned = self.pins.get(session) if session is not None else None
        while True:  # at most MAX_ATTEMPTS attempts (_take)
            deployment = self._pick(course.route, course.failed, pinned)
            if deployment is None:  # every deployment failed in this round, or has an open circuit
                wait = self._next_round(course)
                if wait is None:
                    raise course.last if course.last is not None else self._all_open(course.route)
                if wait:
                    watch()  # a client that leaves now cancels the wait at once
                    await asyncio.sleep(wait)
                continue
            if course.trail:
                self._announce(headers, course.trail, deployment.label, "ok")
            else:  # the first attempt: headers made once per deployment
                headers += ((ROUTE_HEADER, deployment.route_ok), (ATTEMPTS_HEADER, b"1"))
            health, name = self.health, deployment.label
            health.begin(name)
            started = time.monotonic()
            try:
                result = await attempt(deployment)
            except GatewayError as error:
                kind = classify(error)
                self._record_failure(course, headers, name, kind, error)
                step = next_step(kind, status=error.status, other_key_free=error.other_key_free)
                if not self._take(course, step, name):
                    raise  # the client's answer
                continue
            except BaseException:
                health.ended(name)  # cancelled (the client left) or an unexpected error
                raise
            health.succeeded(name, time.monotonic() - started)
            if session is not None and course.route is route:  # pinned among its model's deployments, not a fallback's
                self._keep_pin(route, session, pinned, name)
            return result

    def _record_failure(
        self, course: _Course, headers: list[tuple[bytes, bytes]], name: str, kind: Failure, error: GatewayError
    ) -> None:
        """A failed attempt on deployment `name`: its circuit counts it when it says the upstream is unwell (a
        retryable failure; any other only ends the attempt), and the route headers list it."""
        policy = course.route.policy
        if kind is Failure.RETRYABLE:
            self.health.failed(name, threshold=policy.circuit_failures, cooldown=policy.circuit_cooldown)
        else:
            self.health.ended(name)
        course.trail.append(f"{name}={outcome_label(error)}")
        self._announce(headers, course.trail)
        course.last = error
        if kind is Failure.RETRYABLE:
            log.info("attempt on %s failed (%s); %d so far", name, course.trail[-1], len(course.trail))

    def _take(self, course: _Course, step: Step, name: str) -> bool:
        """Takes `step` after a failed attempt on deployment `name`. False when the failure is the client's
        answer: the step says so, its fallback list has nowhere left to go, or the request made MAX_ATTEMPTS."""
        if step is Step.ELSEWHERE:
            course.failed |= {name}
        elif step is Step.REFUSED:
            course.failed |= {name}
            course.rejected |= {name}
            log.info("attempt on %s: its credentials were refused; %d so far", name, len(course.trail))
        elif step is Step.CONTEXT_WINDOW_FALLBACK or step is Step.CONTENT_POLICY_FALLBACK:
            route = course.route
            targets = (
                route.context_window_fallbacks
                if step is Step.CONTEXT_WINDOW_FALLBACK
                else route.content_policy_fallbacks
            )
            next_route = self._fallback(list(targets), course.visited)
            if next_route is None:
                return False
            self._count("fallbacks", route)
            course.switch(next_route)
        elif step is Step.GIVE_UP:
            return False
        return len(course.trail) < MAX_ATTEMPTS

    def _next_round(self, course: _Course) -> float | None:
        """No deployment of the route can take the request (each failed in this round, or has an open
        circuit): another round after a wait (its seconds) while retries and the budget last, else the
        next fallback at once (0.0); None when neither is left."""
        route, failed, rejected = course.route, course.failed, course.rejected
        wait = self._retry_wait(route, course.retries, course.last, failed - rejected if rejected else failed)
        if wait is not None and time.monotonic() + wait < course.deadline:
            course.retries += 1
            self._count("retries", route)
            course.new_round()
            return wait
        next_route = self._fallback(course.fallbacks, course.visited)
        if next_route is None:
            return None
        self._count("fallbacks", route)
        course.switch(next_route)
        return 0.0

    def _keep_pin(self, route: ModelRoute, session: str, pinned: str | None, name: str) -> None:
        """Deployment `name` of the session's own route served it: the pin is kept, or moved to it when the
        pinned one failed or was skipped."""
        affinity = route.policy.affinity
        if affinity is not None:
            if pinned is not None and pinned != name:
                self._count("pins_moved", route)
            self.pins.keep(session, name, affinity.ttl)

    def _pick(self, route: ModelRoute, failed: frozenset[str], pinned: str | None = None) -> Deployment | None:
        health = self.health
        deployments = route.deployments
        if pinned is not None and pinned not in failed and health.admits(pinned):
            # The session's deployment has its prompt cached: it serves unless it cannot take the request.
            for deployment in deployments:
                if deployment.label == pinned and not deployment.provider.key_pool.all_resting():
                    return deployment
        balance = route.policy.balance
        candidates: Sequence[Deployment] = deployments
        if failed or health.open_count:
            candidates = [d for d in deployments if d.label not in failed and health.admits(d.label)]
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        # A deployment whose every key rests after a 429 (until its Retry-After, or the key cool-down)
        # would answer 429 again, so the others serve meanwhile. When all rest, all stay candidates, as
        # before: the pool hands out the key whose rest ends first.
        awake = [d for d in candidates if not d.provider.key_pool.all_resting()]
        if awake and len(awake) < len(candidates):
            if len(awake) == 1:
                return awake[0]
            candidates = awake
        if balance == "weighted" and candidates is deployments:
            # Everyone available (the usual case): the route's running totals, one draw, a bisection.
            totals = route.weight_totals
            return deployments[bisect.bisect_right(totals, RANDOM.random() * totals[-1])]
        if balance == "least_busy":
            fewest = min(health.in_flight(d.label) for d in candidates)
            candidates = [d for d in candidates if health.in_flight(d.label) == fewest]
        elif balance == "lowest_latency":
            # A deployment not measured yet goes first, so that every one gets measured.
            return min(candidates, key=lambda d: health.latency(d.label) or 0.0)
        return RANDOM.choices(candidates, weights=[d.weight for d in candidates])[0]

    def _retry_wait(
        self, route: ModelRoute, retries: int, last: GatewayError | None, failed: frozenset[str]
    ) -> float | None:
        """Seconds to wait before the next round on this route, or None when it has no retry left."""
        policy = route.policy
        if retries >= policy.retries or last is None or not failed:
            return None
        return backoff(
            retries + 1, initial=policy.backoff_initial, maximum=policy.backoff_max, retry_after=last.retry_after
        )

    def _fallback(self, names: list[str], visited: set[str]) -> ModelRoute | None:
        while names:
            name = names.pop(0)
            if name in visited:
                continue
            visited.add(name)
            return self.registry.route(name)
        return None

    def _all_open(self, route: ModelRoute) -> GatewayError:
        """Nothing was tried: every deployment's circuit is open."""
        wait = min(self.health.reopens_in(d.label) for d in route.deployments)
        return UpstreamUnavailable(provider=route.deployments[0].provider.name, retry_after=max(1.0, wait))

    def _announce(
        self, headers: list[tuple[bytes, bytes]], trail: list[str], current: str | None = None, outcome: str = ""
    ) -> None:
        """The route headers as they stand: the attempts so far, and the current one as `ok` (if it
        answers, it is)."""
        entries = [*trail, f"{current}={outcome}"] if current is not None else trail
        # An earlier attempt set them: replace.
        headers[:] = [header for header in headers if header[0] not in (ROUTE_HEADER, ATTEMPTS_HEADER)]
        headers.append((ROUTE_HEADER, ", ".join(entries).encode()))
        headers.append((ATTEMPTS_HEADER, str(len(entries)).encode()))

    def _count(self, event: str, route: ModelRoute) -> None:
        if self.metrics is not None:
            deployment = route.deployments[0]
            self.metrics.routing_event(event, deployment.provider.name, route.public_name)
