"""One configured guardrail: what it looks for, at which stages, and what it does with what it finds.

Two families. *Local* guardrails (`pii`, `regex`, `words`) find places in a text, in this process and without
waiting: they can block, mask what they found, or log it, and a streamed answer is checked as it flows (a window
holds back as much text as their longest match needs). *External* checkers (`http`, `moderation`, `bedrock`,
`azure_content_safety`, `presidio`) are asked over the network with a timeout; what a checker that failed or
timed out means is the guardrail's `fail` (`closed`: block; `open`: let the text through, and say so in the
decisions). An external checker sees a streamed answer whole, at its end, before the stream's last event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from babelgate.guardrails.findings import Finding
from babelgate.guardrails.scanner import Scanner

Stage = Literal["input", "output"]
Action = Literal["block", "mask", "log"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """An external checker's answer for a list of texts: `allow`, `block`, or `mask` with the texts to send
    instead (one for each text it was given), or the places to mask in each (`findings`: the gateway masks them
    in the guardrail's `mask_style`, a reversible one too). `failed`: the checker did not answer (its `fail`
    decided)."""

    action: Literal["allow", "block", "mask"]
    texts: Sequence[str] | None = None
    reason: str = ""
    failed: bool = False
    findings: Sequence[Sequence[Finding]] | None = None


class External(Protocol):
    """An external checker (guardrails/external/)."""

    async def check(self, texts: Sequence[str], stage: Stage, model: str, key_id: str | None) -> Verdict: ...


@dataclass(frozen=True, slots=True)
class Guardrail:
    name: str
    stages: frozenset[str]
    action: Action
    # Exactly one of the two: the local finder (a Scanner, whatever its detectors: called natively by the compiled
    # build), or the external checker.
    finder: Scanner | None = None
    external: External | None = None
    mask_style: Literal["redact", "placeholder", "reversible"] = "placeholder"
    timeout: float = 5.0
    fail_open: bool = False
    parallel: bool = False  # an external input check asked while the upstream is called (check.py, `parallel`)

    @property
    def local(self) -> bool:
        return self.finder is not None
