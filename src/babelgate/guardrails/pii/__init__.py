"""The built-in detectors of personal data and secrets (`pii` guardrails): every entity a guardrail names, found
in one pass (candidates.py). They are made when a guardrail first checks a text: their module loads RE2, which a
gateway without `pii` guardrails, or whose `pii` guardrails have checked nothing yet, does without."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from babelgate.guardrails.findings import Detector
from babelgate.guardrails.scanner import Scanner

ENTITIES: Final = ("email", "phone", "credit_card", "iban", "ssn", "ip", "secret")


def scanner(entities: Iterable[str]) -> Scanner:
    """One scanner for the named entities."""
    names = list(dict.fromkeys(entities))
    unknown = [name for name in names if name not in ENTITIES]
    if unknown:
        raise ValueError(f"unknown entities {', '.join(unknown)} (known: {', '.join(ENTITIES)})")

    def made() -> list[Detector]:
        from babelgate.guardrails.pii.candidates import PiiScanner

        return [PiiScanner(names)]

    return Scanner(later=made)
