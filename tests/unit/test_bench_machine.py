"""The bench names the machine it ran on precisely enough to tell two hosts apart (bench/procfs.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import procfs
from procfs import cpu_identity, guest_halt_poll_ns

TWO_CPUS = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 26
model\t\t: 2
model name\t: AMD EPYC
stepping\t: 1

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC other
"""


def test_the_first_cpus_model_name_comes_with_its_family_and_model() -> None:
    assert cpu_identity(TWO_CPUS) == "AMD EPYC (family 26, model 2)"


def test_a_cpuinfo_without_family_numbers_gives_the_model_name_alone() -> None:
    assert cpu_identity("processor\t: 0\nmodel name\t: Some ARM core\n") == "Some ARM core"
    assert cpu_identity("") == "unknown"


def test_halt_polling_is_read_when_the_driver_is_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    knob = tmp_path / "guest_halt_poll_ns"
    knob.write_text("200000\n")
    monkeypatch.setattr(procfs, "HALT_POLL", knob)
    assert guest_halt_poll_ns() == 200000
    monkeypatch.setattr(procfs, "HALT_POLL", tmp_path / "absent")
    assert guest_halt_poll_ns() is None


def test_the_bench_names_the_build_it_measures(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make bench` measures the compiled build where it can (bench/compiled.py): the report says which one ran."""
    import importlib.util
    from types import SimpleNamespace

    import run

    found = {
        "plain": "/src/babelgate/pipeline.py",
        "compiled": "/site/babelgate/pipeline.cpython-311-x86_64-linux-gnu.so",
    }
    for build, origin in found.items():
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, origin=origin: SimpleNamespace(origin=origin))
        assert run.build_of_tree() == ("compiled" if build == "compiled" else "plain Python")
