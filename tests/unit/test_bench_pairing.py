"""The bench's pairing (bench/run.py, bench/versus.py): a path judged against another path of the working tree is
measured right beside it in each repetition, and every judged ratio is the median of the repetitions' ratios
(runs seconds apart), with the ratio of the medians kept beside it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from paths import PATHS
from run import measuring_groups, parse_args, run_order, settle_seconds
from versus import SAME_RUN, verdicts


def _row(path: str, each: list[float | None]) -> dict[str, Any]:
    present = sorted(value for value in each if value is not None)
    return {
        "path": path,
        "kind": "chat",
        "concurrency": 16,
        "gateway": {"cpu_per_request_s": present[len(present) // 2] if present else None, "cpu_each_s": each},
    }


def _found(head: list[dict[str, Any]], base: list[dict[str, Any]], paths: list[str]) -> dict[str, Any]:
    found = verdicts(
        head,
        base,
        paths=paths,
        base_paths=[path for path in paths if PATHS[path].base],
        levels={"chat": (16,), "stream": ()},
        head_peak_kib=None,
        base_peak_kib=None,
    )
    return {verdict.measure: verdict for verdict in found}


def test_every_judged_path_is_measured_right_after_the_path_it_is_judged_against() -> None:
    groups = measuring_groups(list(PATHS))
    assert sorted(name for group in groups for name in group) == sorted(PATHS)
    for name, (against, _, _) in SAME_RUN.items():
        group = next(group for group in groups if name in group)
        assert group.index(against) < group.index(name)
    assert groups[0] == ["fast", "governed", "jwt", "azure", "gemini-native"]
    assert ["anthropic", "bedrock"] in groups and ["messages", "gemini-api", "vertex-door", "converse"] in groups
    # A reference not measured: the path is a group of its own. A group takes its reference's place.
    assert measuring_groups(["jwt", "azure", "anthropic"]) == [["jwt"], ["azure"], ["anthropic"]]
    assert measuring_groups(["azure", "mistral", "fast"]) == [["mistral"], ["fast", "azure"]]


def test_builds_and_paths_take_turns_first_and_every_gateway_run_is_settled_first() -> None:
    names = ["fast", "governed", "anthropic", "bedrock"]
    even, odd = run_order(names, {"fast", "anthropic"}, 0), run_order(names, {"fast", "anthropic"}, 1)
    assert even == [
        ("fast", "base"),
        ("fast", "gateway"),
        ("governed", "gateway"),
        ("fast", "direct"),
        ("governed", "direct"),
        ("anthropic", "base"),
        ("anthropic", "gateway"),
        ("bedrock", "gateway"),
        ("anthropic", "direct"),
        ("bedrock", "direct"),
    ]
    assert odd == [
        ("governed", "gateway"),
        ("fast", "gateway"),
        ("fast", "base"),
        ("governed", "direct"),
        ("fast", "direct"),
        ("bedrock", "gateway"),
        ("anthropic", "gateway"),
        ("anthropic", "base"),
        ("bedrock", "direct"),
        ("anthropic", "direct"),
    ]
    assert run_order(names, {"fast", "anthropic"}, 2) == even
    # Every gateway's measured run, of either build, is settled first by default (a direct run is not), and there
    # are five repetitions; a quick run does neither.
    plan, _ = parse_args([])
    assert plan.reps == 5
    assert [settle_seconds(plan, side) for side in ("base", "gateway", "direct")] == [0.5, 0.5, 0.0]
    quick, _ = parse_args(["--quick"])
    assert quick.reps == 1
    assert [settle_seconds(quick, side) for side in ("base", "gateway", "direct")] == [0.0, 0.0, 0.0]


def test_a_ratio_is_the_median_of_the_repetitions_ratios() -> None:
    head = [_row("fast", [100e-6, 120e-6, 110e-6]), _row("governed", [112e-6, 126e-6, 140e-6])]
    base = [_row("fast", [110e-6, 100e-6, 120e-6])]
    found = _found(head, base, ["fast", "governed"])
    fast = found["fast CPU c=16"]
    assert fast.ratios_each == pytest.approx((100 / 110, 120 / 100, 110 / 120))
    assert fast.ratio == pytest.approx(110 / 120) and fast.met is True
    assert fast.ratio_of_medians == pytest.approx(1.0)
    governed = found["governed CPU c=16"]
    assert governed.ratio == pytest.approx(1.12) and governed.met is True  # 1.12, 1.05, 1.27
    assert governed.ratio_of_medians == pytest.approx(126 / 110)
    assert governed.as_dict()["ratios_each"] == pytest.approx([1.12, 1.05, 140 / 110])


def test_runs_that_do_not_pair_up_are_judged_by_the_ratio_of_the_medians() -> None:
    head = [_row("fast", [100e-6, None, 110e-6])]
    base = [_row("fast", [90e-6, 100e-6, 95e-6])]
    fast = _found(head, base, ["fast"])["fast CPU c=16"]
    assert fast.ratios_each == () and fast.ratio == pytest.approx(110 / 95) and fast.met is False
    shorter = _found([_row("fast", [100e-6, 104e-6])], base, ["fast"])["fast CPU c=16"]
    assert shorter.ratio == pytest.approx(shorter.ratio_of_medians)
