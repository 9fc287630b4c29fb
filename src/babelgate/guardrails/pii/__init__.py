"""The built-in detectors of personal data and secrets (`pii` guardrails): every entity a guardrail names, found
in one pass (candidates.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from babelgate.guardrails.pii.candidates import PiiScanner
from babelgate.guardrails.scanner import Scanner

ENTITIES: Final = ("email", "phone", "credit_card", "iban", "ssn", "ip", "secret")


def scanner(entities: Iterable[str]) -> Scanner:
    """One scanner for the named entities."""
    names = list(dict.fromkeys(entities))
    unknown = [name for name in names if name not in ENTITIES]
    if unknown:
        raise ValueError(f"unknown entities {', '.join(unknown)} (known: {', '.join(ENTITIES)})")
    return Scanner([PiiScanner(names)])
