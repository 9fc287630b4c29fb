"""The bench's placement of load: stream workers spread over one stream's duration, scaling workers
on a core each (bench/loadgen.py, bench/processes.py); and the gateway's environment, which refuses a build on
PYTHONPATH that is gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from loadgen import stream_offsets
from processes import BenchError, Pinning, gateway_env


def test_stream_workers_start_spread_over_the_median_stream() -> None:
    assert stream_offsets([0.060, 0.064, 0.100, 0.062], 4) == pytest.approx([0.0, 0.01575, 0.0315, 0.04725])


def test_failed_warm_up_streams_do_not_count_and_none_at_all_start_together() -> None:
    assert stream_offsets([None, 0.040, None], 2) == pytest.approx([0.0, 0.020])
    assert stream_offsets([None, None], 2) == [0.0, 0.0]


@pytest.mark.skipif(not {0, 1} <= os.sched_getaffinity(0), reason="needs CPUs 0 and 1")
def test_scaling_workers_get_a_core_each_in_turn() -> None:
    pin = Pinning(True, "test")
    workers = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) for _ in range(3)]
    try:
        pin.spread([worker.pid for worker in workers])
        assert [os.sched_getaffinity(worker.pid) for worker in workers] == [{1}, {0}, {1}]
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()


def test_unpinned_runs_leave_workers_where_they_are() -> None:
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        before = os.sched_getaffinity(worker.pid)
        Pinning(False, "disabled by --no-pin").spread([worker.pid])
        assert os.sched_getaffinity(worker.pid) == before
    finally:
        worker.kill()
        worker.wait()


def test_a_build_on_pythonpath_that_is_gone_stops_the_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert gateway_env(9, str(tmp_path))["PYTHONPATH"] == str(tmp_path)
    gone = tmp_path / "build" / "compiled" / "0123456789abcdef" / "site"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), str(gone)]))
    with pytest.raises(BenchError, match="0123456789abcdef"):
        gateway_env(9, str(tmp_path))
