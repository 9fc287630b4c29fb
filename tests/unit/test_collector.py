"""The paced collector: CPython's automatic collection off, passes on the loop's clock, given back on stop."""

from __future__ import annotations

import asyncio
import gc

from babelgate import collector
from babelgate.collector import PacedCollector


def _collections() -> list[int]:
    return [generation["collections"] for generation in gc.get_stats()]


async def test_it_runs_young_middle_and_full_passes_by_the_clock_and_gives_the_collector_back() -> None:
    assert gc.isenabled()
    paced = PacedCollector(young_every=0.002, middle_every=3, full_every=0.05)
    before = _collections()
    paced.start()
    try:
        assert not gc.isenabled() and paced.running
        await asyncio.sleep(0.4)  # ~200 passes: a full one is due at the memory checks after 50 ms
    finally:
        paced.stop()
    after = _collections()
    assert gc.isenabled() and not paced.running
    young, middle, full = (a - b for a, b in zip(after, before, strict=True))
    assert young > 20 and middle > 10 and full >= 1 and paced.full_passes >= 1


async def test_memory_growth_brings_a_full_pass_forward(monkeypatch: object) -> None:
    sizes = iter([100, 150, 210, 210, 210])
    monkeypatch.setattr(collector, "resident_bytes", lambda: next(sizes, 210))  # type: ignore[attr-defined]
    monkeypatch.setattr(collector, "MEMORY_EVERY", 1)  # type: ignore[attr-defined]
    paced = PacedCollector(young_every=0.002, full_every=3600)
    paced.start()
    try:
        await asyncio.sleep(0.05)
    finally:
        paced.stop()
    # 100 after start; 150 is not double; 210 is: one full pass, after which 210 is the new mark.
    assert paced.full_passes == 1


async def test_a_process_that_turned_its_collector_off_keeps_it_off() -> None:
    gc.disable()
    try:
        paced = PacedCollector()
        paced.start()
        assert not paced.running
        paced.stop()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_resident_memory_is_read_where_the_system_tells_it() -> None:
    size = collector.resident_bytes()
    assert size is None or size > 1024 * 1024
