"""The bench's memory verdicts (bench/versus.py): the RSS target is judged on a fresh gateway that
served the governed path alone, one configuration per gateway, as the target was set; the main gateway's peak
after every path is shown beside the base's, not judged."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from versus import PEAK_RSS_MIB, verdicts


def _memory(head: int | None, base: int | None, governed: int | None) -> dict[str, tuple[float | None, bool | None]]:
    found = verdicts(
        [],
        [],
        paths=[],
        base_paths=[],
        levels={"chat": (16,), "stream": (16,)},
        head_peak_kib=head,
        base_peak_kib=base,
        governed_peak_kib=governed,
    )
    return {verdict.measure: (verdict.head, verdict.met) for verdict in found}


def test_the_target_is_judged_on_the_governed_path_alone() -> None:
    under, over = int(PEAK_RSS_MIB * 1024) - 1, int(PEAK_RSS_MIB * 1024) + 1
    assert _memory(90 * 1024, 69 * 1024, under)["peak RSS, the governed path alone"][1] is True
    assert _memory(60 * 1024, 69 * 1024, over)["peak RSS, the governed path alone"][1] is False


def test_the_peak_after_every_path_is_shown_not_judged() -> None:
    found = _memory(90 * 1024, 69 * 1024, None)
    assert found == {"peak RSS after every path": (90.0, None)}
