"""The gateway's random draws (retry jitter, weighted choice, backoffs) come from `randomness.RANDOM`, never
from the `random` module's shared instance: an application embedding the gateway keeps its seeded sequence,
and Hypothesis in the same process sees nothing move while it generates (docs/library.md)."""

from __future__ import annotations

import ast
import random
from pathlib import Path

from babelgate.randomness import RANDOM
from babelgate.routing.retry import backoff

SRC = Path(__file__).parents[2] / "src" / "babelgate"


def test_jitter_leaves_the_shared_random_alone() -> None:
    random.seed(7)
    state = random.getstate()
    delays = [backoff(attempt, initial=0.5, maximum=8.0, retry_after=None) for attempt in range(1, 6)]
    assert random.getstate() == state
    RANDOM.seed(11)
    again = [backoff(attempt, initial=0.5, maximum=8.0, retry_after=None) for attempt in range(1, 6)]
    RANDOM.seed(11)
    assert [backoff(attempt, initial=0.5, maximum=8.0, retry_after=None) for attempt in range(1, 6)] == again
    assert all(0.0 <= delay <= 8.0 for delay in delays)


def test_only_randomness_imports_the_random_module() -> None:
    importers = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if "random" in names:
                importers.append(str(path.relative_to(SRC)))
    assert importers == ["randomness.py"], "draw from babelgate.randomness.RANDOM, not the shared `random`"
