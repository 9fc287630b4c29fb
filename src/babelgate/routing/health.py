"""What the router knows of each deployment's health: circuit state, latency, requests in flight.

Per gateway instance by default. `Health.shared`, when set (routing/shared.py, Redis), hears every
change of circuit state so other instances learn it, and feeds theirs in through `learn_circuit`:
a dead upstream then costs one probe per cool-down for the whole fleet, not per instance.

Circuit states: closed (normal); open after `failures` consecutive failures, skipped until its
cool-down ends (wall-clock time, so instances agree); then half-open, where exactly one request
(the probe) is let through: its success closes the circuit, its failure opens it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, Protocol

CircuitState = Literal["closed", "open", "half_open"]
_LATENCY_WEIGHT: Final = 0.3  # weight of the newest sample in the exponentially weighted average


class SharedHealth(Protocol):
    """Where circuit changes go so that other instances hear of them (routing/shared.py)."""

    def circuit_changed(self, deployment: str, open_until: float) -> None:
        """`open_until` 0 means closed. Must not block: called in the request path."""
        ...


@dataclass(slots=True)
class _Deployment:
    failures: int = 0  # consecutive
    open_until: float = 0.0  # wall-clock seconds; 0: closed
    probing: bool = False  # a half-open probe is in flight
    in_flight: int = 0
    latency: float | None = None  # seconds, exponentially weighted


class Health:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._state: dict[str, _Deployment] = {}
        self._clock = clock
        self.shared: SharedHealth | None = None
        self.open_count = 0  # deployments whose circuit is not closed: 0 lets the router skip asking
        # Latency per deployment averaged over every instance (routing/shared.py refreshes it).
        self.fleet_latency: dict[str, float] = {}
        # Called with (deployment, new state) when a circuit opens or closes, for metrics and logs.
        self.on_circuit: Callable[[str, CircuitState], None] | None = None

    def _of(self, name: str) -> _Deployment:
        state = self._state.get(name)
        if state is None:
            state = self._state[name] = _Deployment()
        return state

    def circuit(self, name: str) -> CircuitState:
        state = self._state.get(name)
        if state is None or not state.open_until:
            return "closed"
        return "open" if self._clock() < state.open_until else "half_open"

    def reopens_in(self, name: str) -> float:
        """Seconds until an open circuit lets a probe through (0 when it would now)."""
        state = self._state.get(name)
        return max(0.0, state.open_until - self._clock()) if state is not None and state.open_until else 0.0

    def admits(self, name: str) -> bool:
        """Whether a request may go to `name` now; in half-open, only while no probe is out."""
        state = self._state.get(name)
        if state is None or not state.open_until:
            return True
        return self._clock() >= state.open_until and not state.probing

    def begin(self, name: str) -> None:
        state = self._of(name)
        state.in_flight += 1
        if state.open_until and self._clock() >= state.open_until:
            state.probing = True  # this request is the half-open probe

    def succeeded(self, name: str, seconds: float) -> None:
        state = self._of(name)
        state.in_flight -= 1
        state.latency = (
            seconds if state.latency is None else state.latency + _LATENCY_WEIGHT * (seconds - state.latency)
        )
        state.failures = 0
        if state.open_until:
            state.open_until, state.probing = 0.0, False
            self.open_count -= 1
            self._changed(name, 0.0)

    def failed(self, name: str, *, threshold: int, cooldown: float) -> None:
        """A failure that says the upstream is unwell (retryable ones); other failures are `ended`."""
        state = self._of(name)
        state.in_flight -= 1
        state.failures += 1
        if state.probing or state.failures >= threshold:
            if not state.open_until:
                self.open_count += 1
            state.open_until, state.probing = self._clock() + cooldown, False
            self._changed(name, state.open_until)

    def ended(self, name: str) -> None:
        """An attempt that says nothing about the upstream's health (the client's mistake, a cancel)."""
        state = self._of(name)
        state.in_flight -= 1
        state.probing = False

    def in_flight(self, name: str) -> int:
        state = self._state.get(name)
        return state.in_flight if state is not None else 0

    def latency(self, name: str) -> float | None:
        """The fleet's figure where instances share one, else this instance's own."""
        fleet = self.fleet_latency.get(name)
        if fleet is not None:
            return fleet
        state = self._state.get(name)
        return state.latency if state is not None else None

    def local_latencies(self) -> dict[str, float]:
        return {name: state.latency for name, state in self._state.items() if state.latency is not None}

    def learn_circuit(self, name: str, open_until: float) -> None:
        """Another instance opened (or closed, with 0) this deployment's circuit."""
        state = self._of(name)
        if open_until > state.open_until or open_until == 0.0:
            self.open_count += bool(open_until) - bool(state.open_until)
            state.open_until = open_until
            if not open_until:
                state.failures, state.probing = 0, False

    def snapshot(self) -> dict[str, CircuitState]:
        """Every deployment with an open or half-open circuit (for /health)."""
        return {name: self.circuit(name) for name, state in self._state.items() if state.open_until}

    def _changed(self, name: str, open_until: float) -> None:
        if self.on_circuit is not None:
            self.on_circuit(name, "open" if open_until else "closed")
        if self.shared is not None:
            self.shared.circuit_changed(name, open_until)
