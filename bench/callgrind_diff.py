"""Two callgrind dumps held against each other by C function: what each function costs by itself (its own
instructions, or cache misses, not its callees'), per request, in this tree's dump and in the base's, most
grown first.

    .venv/bin/python bench/instructions.py --cache-sim --keep /tmp/cg     # the dumps: /tmp/cg/callgrind.N, /tmp/cg.base
    .venv/bin/python bench/callgrind_diff.py /tmp/cg/callgrind.2 758 /tmp/cg.base 872 --event D1mr

The request counts are what `bench/instructions.py` printed for each gateway. `callgrind_annotate` shows one
dump, inclusive by default, with a dump's whole call tree under `_PyEval_EvalFrameDefault`; this says which
functions moved between two builds. Events: Ir (instructions), and with `--cache-sim` Dr, Dw, I1mr, D1mr, D1mw
(first-level misses), ILmr, DLmr, DLmw (last level); with `--branch-sim` Bc, Bcm, Bi, Bim.

A function's cost here is the dump's cost lines under its `fn=`, less those that follow a `calls=` line (those
are the callee's, inclusive). The collector's work (`gc_collect_main`, `visit_reachable`, `visit_decref`,
`*_traverse`) runs by the clock in this tree and by allocation counts in the base: under valgrind it weighs
~50 times what it does at full speed (bench/instructions.py says why), so read past it.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_NAMED = re.compile(r"^(c?fn)=\((\d+)\)(?: (.*))?$")


def self_costs(dump: Path, event: str) -> Counter[str]:
    """Each function's own cost of `event` over the whole dump."""
    names: dict[str, str] = {}
    events: list[str] = []
    costs: Counter[str] = Counter()
    function = "?"
    after_call = False
    with dump.open(errors="replace") as lines:
        for line in lines:
            if line.startswith("events:"):
                events = line.split()[1:]
                continue
            named = _NAMED.match(line.rstrip("\n"))
            if named:
                kind, number, name = named.groups()
                if name:
                    names[number] = name
                if kind == "fn":
                    function = names.get(number, number)
                continue
            if line.startswith("calls="):
                after_call = True
                continue
            if line[:1].isdigit() or line[:1] in "+-*":
                if after_call:  # the call's inclusive cost: the callee's, not this function's
                    after_call = False
                    continue
                values = line.split()[1:]
                if event in events and events.index(event) < len(values):
                    costs[function] += int(values[events.index(event)])
    if event not in events:
        raise SystemExit(f"{dump} has no {event!r} events (it has {' '.join(events)})")
    return costs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tree", type=Path, help="this tree's dump")
    parser.add_argument("tree_requests", type=int, help="the requests it served")
    parser.add_argument("base", type=Path, help="the base's dump")
    parser.add_argument("base_requests", type=int, help="the requests it served")
    parser.add_argument("--event", default="Ir", help="Ir (the default), D1mr, I1mr, Bcm, ...")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    tree = {name: cost / args.tree_requests for name, cost in self_costs(args.tree, args.event).items()}
    base = {name: cost / args.base_requests for name, cost in self_costs(args.base, args.event).items()}
    print(f"{args.event} per request: this tree {sum(tree.values()):,.0f}, the base {sum(base.values()):,.0f}")
    moved = sorted(set(tree) | set(base), key=lambda name: tree.get(name, 0.0) - base.get(name, 0.0))
    print(f"{'tree':>10} {'base':>10} {'change':>10}  function (most grown first)")
    for name in [*moved[::-1][: args.top], None, *moved[: args.top // 2]]:
        if name is None:
            print(f"{'':>10} {'':>10} {'':>10}  ... most shrunk:")
            continue
        mine, theirs = tree.get(name, 0.0), base.get(name, 0.0)
        print(f"{mine:10,.0f} {theirs:10,.0f} {mine - theirs:+10,.0f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
