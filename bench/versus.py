"""The working tree against the fixed base (bench/fixed_base.py), measured in the same run: both builds' figures
side by side, their ratio, and a verdict per speed target:

- each path the base has (fast and translated), non-streamed and streamed, at every level measured: the
  working tree's gateway CPU per request (per stream) ≤ the base's;
- the governed fast path (every governance feature on): ≤ 1.15x the working tree's own static-key fast path at
  the same level, in the same run (the base has no virtual keys, so this is the working tree's alone);
- the working tree's gateway, which served the governed path, peaks at ≤ 70 MiB RSS;
- each cloud's path, signing and tokens included: ≤ 1.10x the same path to the provider it
  reaches through the cloud, in the same run (Gemini on Vertex against Gemini, an Azure deployment against
  the OpenAI fast path, Claude on Bedrock against Anthropic), requests and streams;
- the Gemini API frontend: its translated road ≤ 1.10x the Messages frontend's, its native road to
  Gemini ≤ 1.10x the OpenAI fast path, in the same run, requests and streams.

A ratio is the median, over the repetitions, of each repetition's ratio: the two runs it divides ran seconds
apart (a path's base and gateway back to back; a path judged against another path of the working tree right after
it: run.measuring_groups), so a repetition's ratio cancels the shared host's drift, which the ratio of the two
medians (runs minutes apart, taken from different repetitions) does not. The ratio of the medians is kept beside
it in the JSON. The same reasoning gives the "added" latencies (tables.added).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

AT_MOST_BASE: Final = 1.0
GOVERNED_OVER_FAST: Final = 1.15
PEAK_RSS_MIB: Final = 70.0
# Paths judged against another path of the working tree in the same run: (that path, the ratio's ceiling,
# whether streams are judged too).
SAME_RUN: Final[dict[str, tuple[str, float, bool]]] = {
    "governed": ("fast", GOVERNED_OVER_FAST, False),  # the target is per request; the stream ratio is shown
    "jwt": ("governed", 1.10, False),  # a JWT caller at most 10 % over a virtual key, per request
    "vertex": ("gemini", 1.10, True),
    "azure": ("fast", 1.10, True),
    "bedrock": ("anthropic", 1.10, True),
    # The Gemini API frontend: its translated road within 10 % of the Messages frontend's, its
    # native road to Gemini as cheap as the OpenAI fast path (the same relay work: a body in, bytes out).
    "gemini-api": ("messages", 1.10, True),
    "gemini-native": ("fast", 1.10, True),
    # Vertex AI's door: the Gemini API door's handlers behind another URL, within 10 % of that door.
    "vertex-door": ("gemini-api", 1.10, True),
    # Bedrock's Converse frontend, translated: within 10 % of the Gemini API frontend's translated road.
    "converse": ("gemini-api", 1.10, True),
    # Input and output PII masking on a 2 KB prompt: at most 10 % over the same request unguarded.
    "guarded": ("long-prompt", 1.10, False),
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """One line of the comparison: a measure of each build (`base` None where only the working tree runs it)."""

    measure: str
    unit: str
    base: float | None
    head: float | None
    ratio: float | None  # head over `reference`'s figure, when there is one: the median of the repetitions' ratios
    reference: str  # what the ratio is taken against ("base", "fast (working tree)", or "" for none)
    limit: float | None  # the ratio's (or, for RSS, the value's) ceiling; None: shown, not judged
    limit_text: str
    ratio_of_medians: float | None = None
    ratios_each: tuple[float, ...] = ()  # each repetition's, in the order measured

    @property
    def met(self) -> bool | None:
        if self.limit is None:
            return None
        judged = self.head if self.reference == "" else self.ratio
        return None if judged is None else judged <= self.limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "unit": self.unit,
            "base": self.base,
            "working_tree": self.head,
            "ratio": self.ratio,
            "ratio_against": self.reference or None,
            "ratio_of_medians": self.ratio_of_medians,
            "ratios_each": list(self.ratios_each),
            "target": self.limit_text or None,
            "met": self.met,
        }


def _figures(rows: Sequence[dict[str, Any]], path: str, kind: str, concurrency: int) -> dict[str, Any]:
    """The gateway's figures of one row (empty when the run has none)."""
    for row in rows:
        if (row["path"], row["kind"], row["concurrency"]) == (path, kind, concurrency):
            return row["gateway"]  # type: ignore[no-any-return]
    return {}


def _cpu_us(figures: dict[str, Any]) -> float | None:
    value = figures.get("cpu_per_request_s")
    return None if value is None else value * 1e6


def _ratio(mine: float | None, theirs: float | None) -> float | None:
    return mine / theirs if mine is not None and theirs else None


def _against(mine: dict[str, Any], theirs: dict[str, Any]) -> tuple[float | None, float | None, tuple[float, ...]]:
    """(the judged ratio, the ratio of the medians, each repetition's ratio) of `mine` over `theirs`. The judged
    ratio is the median of the repetitions' ratios (runs of one repetition paired by their order), or the ratio
    of the medians when the runs do not pair up (a run without a figure, or rows written before the pairing)."""
    of_medians = _ratio(_cpu_us(mine), _cpu_us(theirs))
    each_mine, each_theirs = mine.get("cpu_each_s", []), theirs.get("cpu_each_s", [])
    if not each_mine or len(each_mine) != len(each_theirs):
        return of_medians, of_medians, ()
    each = tuple(a / b for a, b in zip(each_mine, each_theirs, strict=True) if a is not None and b)
    if len(each) != len(each_mine):
        return of_medians, of_medians, ()
    return statistics.median(each), of_medians, each


def verdicts(
    head_rows: Sequence[dict[str, Any]],
    base_rows: Sequence[dict[str, Any]],
    *,
    paths: Sequence[str],
    base_paths: Sequence[str],
    levels: dict[str, Sequence[int]],
    head_peak_kib: int | None,
    base_peak_kib: int | None,
    governed_peak_kib: int | None = None,
) -> list[Verdict]:
    """Every comparison the run has figures for: `levels` maps "chat" and "stream" to the levels measured.

    Memory, two figures. The target ("RSS ≤ 70 MB with governance on", measured as it was set:
    one gateway serving one kind of request) is judged on `governed_peak_kib`, a fresh
    gateway that served the governed path alone (`run.governed_memory`). The main gateway's peak after every
    path is shown beside the base's, not judged: it has also loaded what only some paths need (the clouds'
    signing, the JWT verifier, every translator), which the base has none of."""
    out: list[Verdict] = []
    for kind in ("chat", "stream"):
        unit = "µs/request" if kind == "chat" else "µs/stream"
        for concurrency in levels[kind]:
            for path in paths:
                mine = _figures(head_rows, path, kind, concurrency)
                head = _cpu_us(mine)
                if head is None:
                    continue
                measure = f"{path} {'' if kind == 'chat' else 'stream '}CPU c={concurrency}"
                if path in base_paths:
                    theirs = _figures(base_rows, path, kind, concurrency)
                    ratio, of_medians, each = _against(mine, theirs)
                    out.append(
                        Verdict(
                            measure,
                            unit,
                            _cpu_us(theirs),
                            head,
                            ratio,
                            "base",
                            AT_MOST_BASE,
                            "≤ 1.00x base",
                            of_medians,
                            each,
                        )
                    )
                elif path in SAME_RUN:
                    against, limit, streams = SAME_RUN[path]
                    judged = kind == "chat" or streams
                    ratio, of_medians, each = _against(mine, _figures(head_rows, against, kind, concurrency))
                    out.append(
                        Verdict(
                            measure,
                            unit,
                            None,
                            head,
                            ratio,
                            f"{against} (working tree)",
                            limit if judged else None,
                            f"≤ {limit:.2f}x {against}, same build" if judged else "",
                            of_medians,
                            each,
                        )
                    )
    head_mib = None if head_peak_kib is None else head_peak_kib / 1024
    base_mib = None if base_peak_kib is None else base_peak_kib / 1024
    if head_mib is not None:
        ratio = _ratio(head_mib, base_mib)
        out.append(Verdict("peak RSS after every path", "MiB", base_mib, head_mib, ratio, "base", None, ""))
    if governed_peak_kib is not None:
        governed_mib = governed_peak_kib / 1024
        out.append(
            Verdict(
                "peak RSS, the governed path alone",
                "MiB",
                None,
                governed_mib,
                None,
                "",
                PEAK_RSS_MIB,
                f"≤ {PEAK_RSS_MIB:g} MiB",
            )
        )
    return out


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def table(found: Sequence[Verdict], base_label: str | None, head_label: str) -> list[str]:
    """The comparison, one line per verdict, then a count of the targets met; `base_label` None: no base ran."""
    width = max([len(v.measure) for v in found] + [len("measure")])
    head = (
        f"{'measure':{width}} | {'unit':10} | {base_label or 'base':>12} | {head_label:>13} | {'ratio':>6} "
        f"| {'target':24} | result"
    )
    title = (
        f"Working tree against the base {base_label}, in this run (gateway CPU: medians; ratio: the median of the "
        "repetitions' ratios)"
        if base_label
        else "Working tree: the speed targets it can be judged on alone (gateway CPU: medians; ratio: the median of "
        "the repetitions' ratios)"
    )
    lines = [title, head, "-" * len(head)]
    for verdict in found:
        ratio = f"{verdict.ratio:.2f}x" if verdict.ratio is not None else "-"
        result = {True: "PASS", False: "FAIL", None: ""}[verdict.met]
        lines.append(
            f"{verdict.measure:{width}} | {verdict.unit:10} | {_number(verdict.base):>12} | "
            f"{_number(verdict.head):>13} | {ratio:>6} | {verdict.limit_text:24} | {result}".rstrip()
        )
    judged = [v.met for v in found if v.met is not None]
    lines.append(f"Targets met: {sum(judged)} of {len(judged)}")
    return lines
