"""The router: which deployment serves each attempt of a request, and what happens after a failure.

A simple route (one deployment, no retries, no fallbacks) is one attempt and never comes here
(pipeline.call). Attempts return their answer and nothing reaches the client while they run, so
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
from babelgate.routing.retry import Failure, backoff, classify, outcome_label

if TYPE_CHECKING:
    from babelgate.observability.metrics import Metrics

log = logging.getLogger("babelgate.router")
T = TypeVar("T")
ROUTE_HEADER: Final = b"x-babelgate-route"
ATTEMPTS_HEADER: Final = gateway_headers.ATTEMPTS
MAX_ATTEMPTS: Final = 32  # whatever the settings, one request never makes more upstream calls


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
        trail: list[str] = []  # the attempts so far, as the route header lists them
        visited = {route.public_name}
        fallbacks = list(route.fallbacks) if route.fallbacks else []
        retries = 0
        failed: set[str] = set()  # deployments of the current route that failed in this round
        # Deployments whose credentials the upstream refused (401/403) in this request: not tried again, in any
        # round or fallback (the same label is the same provider and credentials).
        rejected: set[str] = set()
        deadline = time.monotonic() + route.policy.budget
        last: GatewayError | None = None
        pinned = self.pins.get(session) if session is not None else None
        pinning = route  # a session is pinned among its own model's deployments, never a fallback's
        while len(trail) < MAX_ATTEMPTS:
            deployment = self._pick(route, failed, pinned)
            if deployment is None:
                # Every deployment failed in this round, or has an open circuit.
                wait = self._retry_wait(route, retries, last, failed - rejected if rejected else failed)
                if wait is not None and time.monotonic() + wait < deadline:
                    retries += 1
                    self._count("retries", route)
                    if wait:
                        watch()  # a client that leaves now cancels the wait at once
                        await asyncio.sleep(wait)
                    failed.clear()
                    failed |= rejected
                    continue
                next_route = self._fallback(fallbacks, visited)
                if next_route is None:
                    raise last if last is not None else self._all_open(route)
                self._count("fallbacks", route)
                # The budget is the request's: a fallback's retries wait only within what is left of it.
                route, fallbacks, retries, failed = next_route, list(next_route.fallbacks), 0, set(rejected)
                continue
            if trail:
                self._announce(headers, trail, deployment.label, "ok")
            else:  # the first attempt: headers made once per deployment
                headers += ((ROUTE_HEADER, deployment.route_ok), (ATTEMPTS_HEADER, b"1"))
            health, name, policy = self.health, deployment.label, route.policy
            health.begin(name)
            started = time.monotonic()
            try:
                result = await attempt(deployment)
            except GatewayError as error:
                kind = classify(error)
                if kind is Failure.RETRYABLE:
                    health.failed(name, threshold=policy.circuit_failures, cooldown=policy.circuit_cooldown)
                else:
                    health.ended(name)
                trail.append(f"{name}={outcome_label(error)}")
                self._announce(headers, trail)
                last = error
                if kind is Failure.KEY_REJECTED:
                    if not error.other_key_free:
                        # No key of this deployment is left: the gateway's credentials for it are wrong (an expired
                        # key, a model not enabled in that cloud account), never the client's fault, and another
                        # deployment's or a fallback's may be good. When none serves, the client gets the refusal.
                        failed.add(name)
                        rejected.add(name)
                        log.info("attempt on %s: its credentials were refused; %d so far", name, len(trail))
                    continue  # another deployment, or the same one with another key of its pool
                if kind in (Failure.CONTEXT_WINDOW, Failure.CONTENT_POLICY):
                    targets = (
                        route.context_window_fallbacks
                        if kind is Failure.CONTEXT_WINDOW
                        else route.content_policy_fallbacks
                    )
                    next_route = self._fallback(list(targets), visited)
                    if next_route is None:
                        raise
                    self._count("fallbacks", route)
                    route, fallbacks, retries, failed = next_route, list(next_route.fallbacks), 0, set(rejected)
                    continue
                if kind is not Failure.RETRYABLE:
                    raise
                if not (error.status == 429 and error.other_key_free):
                    failed.add(name)  # a 429 with another key free: this deployment may go again at once
                log.info("attempt on %s failed (%s); %d so far", name, trail[-1], len(trail))
                continue
            except BaseException:
                health.ended(name)  # cancelled (the client left) or an unexpected error
                raise
            health.succeeded(name, time.monotonic() - started)
            affinity = route.policy.affinity
            if session is not None and affinity is not None and route is pinning:
                # Kept, or moved to the deployment that served when the pinned one failed or was skipped.
                if pinned is not None and pinned != name:
                    self._count("pins_moved", route)
                self.pins.keep(session, name, affinity.ttl)
            return result
        assert last is not None
        raise last

    def _pick(self, route: ModelRoute, failed: set[str], pinned: str | None = None) -> Deployment | None:
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

    def _retry_wait(self, route: ModelRoute, retries: int, last: GatewayError | None, failed: set[str]) -> float | None:
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
