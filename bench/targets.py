"""The speed targets, each checked against what a run measured (where the run covers it).

One worker on this machine's size, every feature on (a gateway key, metrics, the store):
- OpenAI fast path: ≤ 150 µs of gateway CPU per request at c=16, ≤ 0.3 ms added p50 at c=1, no errors at c=64;
- translated paths (anthropic, gemini, mistral, responses, messages): ≤ 300 µs per request at c=16;
- streams at c=16: ≤ 2,500 µs of gateway CPU per stream on the fast path, ≤ 5,000 µs translated,
  ≤ 0.5 ms added time to first token;
- ≤ 80 MiB peak RSS, ≤ 1 s cold start, ≥ 1.8x one worker's capacity with two.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

FAST_CPU_US_C16: Final = 150.0
FAST_ADDED_P50_MS_C1: Final = 0.3
TRANSLATED_CPU_US_C16: Final = 300.0
FAST_STREAM_CPU_US: Final = 2500.0
TRANSLATED_STREAM_CPU_US: Final = 5000.0
ADDED_TTFT_MS_C16: Final = 0.5
PEAK_RSS_MIB: Final = 80.0
COLD_START_S: Final = 1.0
TWO_WORKER_CAPACITY: Final = 1.8


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    value: float
    limit: float
    unit: str
    at_most: bool = True  # False: the value must reach the limit

    @property
    def met(self) -> bool:
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    def line(self) -> str:
        sign = "≤" if self.at_most else "≥"
        return (
            f"Target: {self.name}: {self.value:.3g} {self.unit} (target {sign} {self.limit:g} {self.unit}) → "
            f"{'MET' if self.met else 'NOT MET'}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "limit": self.limit, "unit": self.unit, "at_most": self.at_most, "met": self.met}


def _row(rows: Sequence[dict[str, Any]], path: str, kind: str, concurrency: int) -> dict[str, Any] | None:
    for row in rows:
        if row["path"] == path and row["kind"] == kind and row["concurrency"] == concurrency:
            return row
    return None


def check_targets(
    rows: Sequence[dict[str, Any]],
    *,
    peak_rss_kib: int | None = None,
    cold_start_s: Sequence[float] = (),
    scaling: Sequence[dict[str, Any]] = (),
) -> list[Check]:
    """Every target the run has figures for, in a fixed order."""
    checks: list[Check] = []

    def cpu_us(row: dict[str, Any] | None) -> float | None:
        value = row["gateway"]["cpu_per_request_s"] if row else None
        return None if value is None else value * 1e6

    def add(name: str, value: float | None, limit: float, unit: str, *, at_most: bool = True) -> None:
        if value is not None:
            checks.append(Check(name, value, limit, unit, at_most))

    add("fast path CPU per request at c=16", cpu_us(_row(rows, "fast", "chat", 16)), FAST_CPU_US_C16, "µs")
    one = _row(rows, "fast", "chat", 1)
    add(
        "fast path added p50 at c=1",
        one["added_p50_s"] * 1e3 if one and one["added_p50_s"] is not None else None,
        FAST_ADDED_P50_MS_C1,
        "ms",
    )
    sixty_four = _row(rows, "fast", "chat", 64)
    if sixty_four:
        add("fast path errors at c=64", float(sixty_four["gateway"]["errors"]), 0, "")
    for path in ("anthropic", "gemini", "mistral", "responses", "messages"):
        add(f"{path} CPU per request at c=16", cpu_us(_row(rows, path, "chat", 16)), TRANSLATED_CPU_US_C16, "µs")
    for path in ("fast", "anthropic", "gemini", "mistral", "responses", "messages"):
        stream = _row(rows, path, "stream", 16)
        limit = FAST_STREAM_CPU_US if path == "fast" else TRANSLATED_STREAM_CPU_US
        add(f"{path} CPU per stream at c=16", cpu_us(stream), limit, "µs")
        ttft = stream["added_ttft_p50_s"] if stream else None
        add(f"{path} added time to first token at c=16", None if ttft is None else ttft * 1e3, ADDED_TTFT_MS_C16, "ms")
    add("peak RSS of the worker", None if peak_rss_kib is None else peak_rss_kib / 1024, PEAK_RSS_MIB, "MiB")
    add("cold start (median)", statistics.median(cold_start_s) if cold_start_s else None, COLD_START_S, "s")
    for level in scaling:
        add(
            f"two workers' capacity at c={level['concurrency']} (balanced)",
            level.get("capacity_balanced"),
            TWO_WORKER_CAPACITY,
            "x one worker",
            at_most=False,
        )
    return checks
