"""`/metrics` that count every worker process, not the one a scrape happened to reach.

`babelgate serve --workers N` gives its workers a shared directory (`BABELGATE_METRICS_DIR`, made
by the supervisor and removed when it exits). Each worker writes a snapshot of its own registry
there twice a second, off the request path (`<pid>.json`, replaced atomically), and a scrape of
any worker answers its live registry plus the others' latest snapshots, summed by metric and
labels (gauges: the largest value, so a circuit open in two workers reads 1). Snapshots of workers
that are gone are deleted at the next scrape.

This is not prometheus_client's multiprocess mode on purpose: that mode must be set up through an
environment variable before the library is imported, keeps one mmap file per metric per process
that is never cleaned up, and handles gauges and histograms with caveats; a snapshot per worker
is a few kilobytes and a scrape reads N files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

log = logging.getLogger("babelgate.metrics")
ENV: Final = "BABELGATE_METRICS_DIR"
WRITE_EVERY: Final = 0.5
Sample = tuple[str, dict[str, str], float]


def snapshot(registry: CollectorRegistry) -> list[dict[str, Any]]:
    return [
        {
            "name": family.name,
            "type": family.type,
            "help": family.documentation,
            "samples": [(s.name, s.labels, s.value) for s in family.samples],
        }
        for family in registry.collect()
    ]


class WorkerMetrics:
    def __init__(self, directory: str, registry: CollectorRegistry, flush: Callable[[], None]) -> None:
        self.directory = Path(directory)
        self.registry = registry
        self.flush = flush  # the requests buffered since the last update, into the registry
        self.pid = os.getpid()
        self._task: asyncio.Task[None] | None = None

    @property
    def path(self) -> Path:
        return self.directory / f"{self.pid}.json"

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._write_forever())

    async def _write_forever(self) -> None:
        while True:
            await asyncio.sleep(WRITE_EVERY)
            try:
                await self.write()
            except OSError:
                log.warning("could not write this worker's metrics to %s", self.directory, exc_info=True)

    async def write(self) -> None:
        self.flush()
        data = orjson.dumps(snapshot(self.registry))
        await asyncio.to_thread(self._replace, data)

    def _replace(self, data: bytes) -> None:
        temporary = self.directory / f".{self.pid}.tmp"
        temporary.write_bytes(data)
        os.replace(temporary, self.path)

    def render(self) -> bytes:
        """This worker's registry and every other live worker's last snapshot, summed."""
        families: dict[str, dict[str, Any]] = {}
        for family in [*snapshot(self.registry), *self._others()]:
            merged = families.setdefault(
                family["name"], {"type": family["type"], "help": family["help"], "samples": {}}
            )
            samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = merged["samples"]
            gauge = family["type"] == "gauge"
            for name, labels, value in family["samples"]:
                key = (name, tuple(sorted(labels.items())))
                if key in samples:
                    samples[key] = max(samples[key], value) if gauge else samples[key] + value
                else:
                    samples[key] = value
        return generate_latest(_Merged(families))

    def _others(self) -> Iterator[dict[str, Any]]:
        for path in self.directory.glob("*.json"):
            try:
                pid = int(path.stem)
            except ValueError:
                continue
            if pid == self.pid:
                continue
            if not _alive(pid):
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            try:
                yield from orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue  # being replaced, or gone: its next snapshot counts

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(OSError):
            self.path.unlink()  # a worker that stops takes its counts with it, as a restarted process would


class _Merged:
    """A registry-like object for generate_latest: the merged families."""

    def __init__(self, families: dict[str, dict[str, Any]]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        for name, family in self.families.items():
            metric = Metric(name, family["help"], family["type"])
            for (sample, labels), value in family["samples"].items():
                metric.add_sample(sample, dict(labels), value)
            yield metric


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
