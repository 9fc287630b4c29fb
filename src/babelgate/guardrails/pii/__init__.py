"""The built-in detectors of personal data and secrets (`pii` guardrails), by entity name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from babelgate.guardrails.findings import Detector
from babelgate.guardrails.pii.contact import EMAIL
from babelgate.guardrails.pii.digits import DIGIT_ENTITIES, DigitRuns
from babelgate.guardrails.pii.identity import IBAN
from babelgate.guardrails.pii.network import IPV6
from babelgate.guardrails.pii.secrets import SECRET
from babelgate.guardrails.scanner import Scanner

ENTITIES: Final = ("email", "phone", "credit_card", "iban", "ssn", "ip", "secret")


def detectors(entities: Iterable[str]) -> list[Detector]:
    """The detectors that find `entities`: the digit-written ones share one pass (digits.py)."""
    names = dict.fromkeys(entities)
    unknown = [name for name in names if name not in ENTITIES]
    if unknown:
        raise ValueError(f"unknown entities {', '.join(unknown)} (known: {', '.join(ENTITIES)})")
    found: list[Detector] = []
    digits = [name for name in names if name in DIGIT_ENTITIES]
    if digits:
        found.append(DigitRuns(digits))
    if "email" in names:
        found.append(EMAIL)
    if "iban" in names:
        found.append(IBAN)
    if "ip" in names:
        found.append(IPV6)
    if "secret" in names:
        found.append(SECRET)
    return found


def scanner(entities: Iterable[str]) -> Scanner:
    return Scanner(detectors(entities))
